"""Regression tests for the defects of the reference Solidity design (issue 2, items 1-11).

Each test is named after the property it pins down."""

import boa

from hub.contracts import INJ
from tests.utils.scenario import (
    CHALLENGE_WINDOW,
    NODE_UNITS,
    RATE,
    REWARD_PER_UNIT,
    STAKE,
    UNBONDING,
    VALIDATOR_ROLE,
)


def test_01_slash_into_unbond_queue_keeps_matured_unbond_withdrawable(
    hub, stake_manager, registered, validator, federator
):
    hub.reclaimStake(10 * INJ, sender=registered)  # A: will mature
    boa.env.time_travel(seconds=UNBONDING)
    hub.reclaimStake(20 * INJ, sender=registered)  # B: not matured
    hub.setStakeMinimum(45 * INJ, sender=federator)  # the per-incident cap (SPEC 3.3) allows 45
    # active is 20; take it all, all of B, and 5 of A
    hub.slash(registered, 45 * INJ, "fraud", sender=validator)
    assert stake_manager.withdrawableOf(registered) == 5 * INJ
    assert stake_manager.withdraw(sender=registered) == 5 * INJ
    assert stake_manager.pendingUnbonds(registered) == []
    assert boa.env.get_balance(stake_manager.address) == stake_manager.slashedPending()


def test_01b_slash_leaves_matured_entry_untouched_when_newer_ones_suffice(
    hub, stake_manager, registered, validator, federator
):
    hub.reclaimStake(10 * INJ, sender=registered)
    boa.env.time_travel(seconds=UNBONDING)
    hub.reclaimStake(20 * INJ, sender=registered)
    hub.setStakeMinimum(35 * INJ, sender=federator)  # the per-incident cap (SPEC 3.3) allows 35
    hub.slash(registered, 35 * INJ, "fraud", sender=validator)  # 20 active + 15 of B
    assert stake_manager.withdraw(sender=registered) == 10 * INJ
    boa.env.time_travel(seconds=UNBONDING)
    assert stake_manager.withdraw(sender=registered) == 5 * INJ


def test_02_removing_validated_node_leaves_no_trace(
    hub,
    pool,
    registry,
    steps,
    member,
    active_pool,
    provider,
    other_provider,
    validator,
    domain_id,
    pool_creator,
    pool_manager,
):
    hub.removeComputeNode(member.address, sender=provider)
    assert pool.getPool(active_pool).totalCompute == 0
    assert pool.providerNodesInPool(active_pool, provider) == 0
    assert registry.getProvider(provider).nodeCount == 0
    # the key is clean: another provider adds, validates and joins it into a new pool
    steps.ready_provider(other_provider, member, validator)
    other_pool = steps.create_pool(pool_creator, domain_id, pool_manager.address)
    steps.join(other_pool, member, pool_manager)
    assert pool.activePoolOf(member.address) == other_pool
    # and the first provider can leave
    hub.deregisterProvider(sender=provider)


def test_03_blacklisting_provider_removes_all_its_nodes_validated_or_not(
    hub, pool, steps, member, other_node, active_pool, provider, validator, pool_manager
):
    steps.add_node(provider, other_node)
    hub.validateNode(other_node.address, sender=validator)
    steps.join(active_pool, other_node, pool_manager)
    hub.invalidateNode(other_node.address, sender=validator)  # no longer validated: released at once
    assert pool.activePoolOf(other_node.address) == 0
    pool.blacklistProvider(active_pool, provider, [member.address], sender=pool_manager.address)
    assert pool.providerNodesInPool(active_pool, provider) == 0
    assert pool.getPool(active_pool).totalCompute == 0
    assert pool.activePoolOf(member.address) == 0


def test_04_ending_pool_releases_its_nodes(
    hub, pool, registry, steps, member, active_pool, provider, pool_creator, domain_id, pool_manager
):
    pool.endComputePool(active_pool, sender=pool_creator)
    other = steps.create_pool(pool_creator, domain_id, pool_manager.address)
    steps.join(other, member, pool_manager)  # joins another pool
    pool.leaveComputePool(other, member.address, sender=member.address)
    hub.removeComputeNode(member.address, sender=provider)  # can be removed
    hub.deregisterProvider(sender=provider)  # provider can leave
    assert not registry.getProvider(provider).registered


def test_05_rotating_a_role_removes_old_holders_power_everywhere(
    hub, pool, admin, attacker, validator, added_node, submitted_work, active_pool, provider, member
):
    new_validator = attacker
    hub.grantRole(VALIDATOR_ROLE, new_validator, sender=admin)
    hub.revokeRole(VALIDATOR_ROLE, validator, sender=admin)
    with boa.reverts("AccessControl: missing role"):
        hub.slash(provider, INJ, "x", sender=validator)
    with boa.reverts("AccessControl: missing role"):
        hub.blacklistProvider(provider, [], sender=validator)
    with boa.reverts("ComputePool: caller is not a validator"):
        pool.hardInvalidateWork(active_pool, member.address, submitted_work, 0, "", sender=validator)
    with boa.reverts("ComputePool: caller is not a validator or the pool manager"):
        pool.invalidateWork(active_pool, member.address, submitted_work, sender=validator)
    pool.invalidateWork(active_pool, member.address, submitted_work, sender=new_validator)
    hub.slash(provider, INJ, "x", sender=new_validator)


def test_06_compute_units_exact_nonzero_and_totals_are_sums(
    hub, registry, federator, steps, registered, node, other_node
):
    hub.setStakeMinimum(0, sender=federator)
    big = 2**200 + 12345
    steps.add_node(registered, node, big)
    steps.add_node(registered, other_node, 7)
    assert registry.getNode(node.address).computeUnits == big
    assert registry.getProvider(registered).totalCompute == big + 7
    hub.removeComputeNode(node.address, sender=registered)
    assert registry.getProvider(registered).totalCompute == 7
    with boa.reverts("ComputeRegistry: compute units must be positive"):
        steps.add_node(registered, node, 0)


def test_07_deregistering_releases_node_keys_and_compute_totals(
    hub, registry, steps, registered, node, other_node, other_provider
):
    steps.add_node(registered, node)
    steps.add_node(registered, other_node)
    hub.removeComputeNode(node.address, sender=registered)
    hub.removeComputeNode(other_node.address, sender=registered)
    hub.deregisterProvider(sender=registered)
    p = registry.getProvider(registered)
    assert (p.registered, p.totalCompute, p.nodeCount) == (False, 0, 0)
    hub.registerProvider(sender=other_provider, value=STAKE)
    steps.add_node(other_provider, node)
    steps.add_node(other_provider, other_node)
    assert registry.getProvider(other_provider).totalCompute == 2 * NODE_UNITS


def test_08_unbond_queue_merges_without_extending_locks_and_empties(hub, stake_manager, registered):
    t0 = boa.env.timestamp
    hub.reclaimStake(INJ, sender=registered)
    hub.reclaimStake(INJ, sender=registered)  # same second: merged, same maturity
    boa.env.time_travel(seconds=10)
    hub.reclaimStake(INJ, sender=registered)  # later: its own entry
    assert stake_manager.pendingUnbonds(registered) == [[2 * INJ, t0 + UNBONDING], [INJ, t0 + 10 + UNBONDING]]
    boa.env.time_travel(seconds=UNBONDING - 10)
    assert stake_manager.withdraw(sender=registered) == 2 * INJ  # the old funds were not locked longer
    boa.env.time_travel(seconds=10)
    assert stake_manager.withdraw(sender=registered) == INJ
    assert stake_manager.pendingUnbonds(registered) == []
    assert stake_manager.unbondingOf(registered) == 0


def test_09_work_invalidated_at_the_last_moment_is_never_paid(
    pool, rewards, submitted_work, active_pool, provider, validator, member
):
    boa.env.time_travel(seconds=CHALLENGE_WINDOW)  # the last second of the window
    with boa.reverts("RewardsDistributor: work still in challenge window"):
        rewards.claimRewards(active_pool, member.address, [submitted_work], sender=provider)
    pool.invalidateWork(active_pool, member.address, submitted_work, sender=validator)
    boa.env.time_travel(seconds=1)
    with boa.reverts("RewardsDistributor: work not claimable"):
        rewards.claimRewards(active_pool, member.address, [submitted_work], sender=provider)


def test_10_work_units_bounded_and_rewards_within_budget(
    pool, rewards, steps, domain_id, pool_creator, pool_manager, validated_node, provider
):
    budget = 3 * 1000 * REWARD_PER_UNIT
    pool_id = steps.create_pool(pool_creator, domain_id, pool_manager.address, budget=budget)
    pool.startComputePool(pool_id, sender=pool_creator)
    steps.join(pool_id, validated_node, pool_manager)
    boa.env.time_travel(seconds=1)
    with boa.reverts("ComputePool: work exceeds the node's capacity"):
        pool.submitWork(pool_id, b"\x01" * 32, NODE_UNITS * RATE + 1, sender=validated_node.address)
    pool.submitWork(pool_id, b"\x01" * 32, 2000, sender=validated_node.address)
    boa.env.time_travel(seconds=1)
    with boa.reverts("RewardsDistributor: pool budget exhausted"):
        pool.submitWork(pool_id, b"\x02" * 32, 1001, sender=validated_node.address)
    pool.submitWork(pool_id, b"\x02" * 32, 1000, sender=validated_node.address)
    b = rewards.getPoolBudget(pool_id)
    assert (b.committed, b.available) == (budget, 0)
    boa.env.time_travel(seconds=CHALLENGE_WINDOW + 1)
    assert (
        rewards.claimRewards(pool_id, validated_node.address, [b"\x01" * 32, b"\x02" * 32], sender=provider) == budget
    )
    assert rewards.getPoolBudget(pool_id).paid <= rewards.getPoolBudget(pool_id).funded


def test_11_a_slash_never_pays_its_validator_and_zero_is_refused(
    hub, pool, stake_manager, admin, registered, validator, submitted_work, active_pool, attacker, member
):
    before = boa.env.get_balance(validator)
    hub.slash(registered, INJ, "fraud", sender=validator)
    stake_manager.sweepSlashed(sender=validator)
    assert boa.env.get_balance(validator) == before
    with boa.reverts("InjectiveAiHub: nothing to slash"):
        hub.slash(registered, 0, "nothing", sender=validator)
    hub.setTreasury(validator, sender=admin)
    with boa.reverts("InjectiveAiHub: a slash cannot pay its validator"):
        hub.slash(registered, INJ, "self", sender=validator)
    with boa.reverts("ComputePool: a slash cannot pay its validator"):
        pool.hardInvalidateWork(active_pool, member.address, submitted_work, INJ, "self", sender=validator)


def test_12_a_second_hard_invalidation_keeps_earlier_work_void(
    pool, rewards, submitted_work, member, active_pool, validator, provider
):
    # found by the fuzz suite: voidFrom used to move forward and un-void work voided by the first one
    boa.env.time_travel(seconds=60)
    later = b"\x02" * 32
    pool.submitWork(active_pool, later, 1000, sender=member.address)
    boa.env.time_travel(seconds=10)
    fraud = b"\x03" * 32
    pool.submitWork(active_pool, fraud, 1000, sender=member.address)
    pool.hardInvalidateWork(active_pool, member.address, fraud, 0, "fraud", sender=validator)
    first_void = rewards.voidFrom(active_pool, member.address)
    boa.env.time_travel(seconds=CHALLENGE_WINDOW - 65)  # submitted_work leaves its window, `later` has not
    pool.hardInvalidateWork(active_pool, member.address, later, 0, "fraud again", sender=validator)
    assert rewards.voidFrom(active_pool, member.address) == first_void
    assert rewards.getWork(active_pool, member.address, submitted_work)[6]
    boa.env.time_travel(seconds=CHALLENGE_WINDOW)
    with boa.reverts("RewardsDistributor: work voided"):
        rewards.claimRewards(active_pool, member.address, [submitted_work], sender=provider)
