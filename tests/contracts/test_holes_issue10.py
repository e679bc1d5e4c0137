"""Regression tests for the holes of issue 10, one per hole, each citing the rule of docs/SPEC.md it
checks. Every test here failed on the contracts as they were before the fix."""

from __future__ import annotations

import boa
import pytest

from hub.contracts import INJ
from tests.utils.scenario import (
    CHALLENGE_WINDOW,
    MIN_STAKE,
    NODE_UNITS,
    RATE,
    STAKE,
    UNBONDING,
    events,
)

WEEK = 7 * 86400
MAX_AMOUNT = 2**128 - 1


@pytest.fixture
def two_members(steps, hub, active_pool, member, other_provider, other_node, validator, pool_manager):
    """`member` (of `provider`) and `other_node` (of `other_provider`) in `active_pool`."""
    steps.ready_provider(other_provider, other_node, validator)
    steps.join(active_pool, other_node, pool_manager)
    return member, other_node


# --- hole 1: the rate cap counts only active membership seconds (SPEC 7.3, Rule R15) -------------


def test_joining_a_pending_pool_banks_no_work_capacity(
    steps, pool, registered, node, hub, validator, pending_pool, pool_creator, pool_manager
):
    # the issue's scenario: 8 compute units at 1,000 units per second, joined while PENDING
    assert RATE == 1_000
    steps.add_node(registered, node, units=8)
    hub.validateNode(node.address, sender=validator)
    hub.whitelistProvider(registered, sender=validator)
    steps.join(pending_pool, node, pool_manager)
    boa.env.time_travel(seconds=WEEK)
    pool.startComputePool(pending_pool, sender=pool_creator)
    boa.env.time_travel(seconds=1)
    with boa.reverts("ComputePool: work exceeds the node's capacity"):
        pool.submitWork(pending_pool, b"\x01" * 32, 4_838_408_000, sender=node.address)
    with boa.reverts("ComputePool: work exceeds the node's capacity"):
        pool.submitWork(pending_pool, b"\x01" * 32, 8_001, sender=node.address)
    pool.submitWork(pending_pool, b"\x01" * 32, 8_000, sender=node.address)


# --- hole 2: void always, slash what exists (SPEC 3.3, Rule R7) ------------------------------------


def test_hard_invalidation_voids_when_nothing_is_left_to_slash(
    hub, pool, rewards, stake_manager, member, active_pool, submitted_work, validator, provider
):
    # earlier incidents took the provider's whole stake
    while stake_manager.stakeOf(provider) > 0:
        hub.slash(provider, STAKE, "earlier incident", sender=validator)
    pool.hardInvalidateWork(active_pool, member.address, submitted_work, STAKE, "fraud", sender=validator)
    assert rewards.getWork(active_pool, member.address, submitted_work)[4] == 3  # invalidated
    assert events(pool, "Slashed") == []  # nothing taken, nothing logged
    with boa.reverts("InjectiveAiHub: nothing to slash"):
        hub.slash(provider, INJ, "again", sender=validator)


def test_the_escape_sequence_of_the_issue_no_longer_escapes(
    hub, pool, rewards, stake_manager, member, active_pool, submitted_work, validator, provider
):
    # inflated claim, then remove the node, deregister and wait: the unbond outlasts the window
    hub.removeComputeNode(member.address, sender=provider)
    hub.deregisterProvider(sender=provider)
    boa.env.time_travel(seconds=CHALLENGE_WINDOW - 61)
    with boa.reverts("StakeManager: nothing matured to withdraw"):
        stake_manager.withdraw(sender=provider)
    taken = pool.hardInvalidateWork(active_pool, member.address, submitted_work, STAKE, "fraud", sender=validator)
    # leaving lowered the provider's stake minimum to one unit, but not what the fraud costs:
    # the whole unbonding stake is taken (SPEC 3.3, Rule R6)
    assert taken == STAKE
    assert stake_manager.unbondingOf(provider) == 0
    boa.env.time_travel(seconds=CHALLENGE_WINDOW)
    with boa.reverts("RewardsDistributor: work not claimable"):
        rewards.claimRewards(active_pool, member.address, [submitted_work], sender=provider)


# --- hole 3: the window never outlasts the stake (SPEC 7.1, Rule R12) ------------------------------


def test_challenge_window_must_be_shorter_than_unbonding(steps, pool_creator, domain_id, pool_manager):
    with boa.reverts("ComputePool: challenge window must be shorter than the unbonding period"):
        steps.create_pool(pool_creator, domain_id, pool_manager.address, window=UNBONDING)
    steps.create_pool(pool_creator, domain_id, pool_manager.address, window=UNBONDING - 1)


# --- hole 4: bounded powers (SPEC 3.2, 3.3, Rules R4, R6) --------------------------------------------


def test_stake_minimum_has_a_ceiling(hub, federator):
    ceiling = hub.MAX_MIN_STAKE_PER_COMPUTE_UNIT()
    assert ceiling == 10_000 * INJ
    with boa.reverts("InjectiveAiHub: stake minimum above the ceiling"):
        hub.setStakeMinimum(ceiling + 1, sender=federator)
    hub.setStakeMinimum(ceiling, sender=federator)
    assert hub.minStakePerComputeUnit() == ceiling


def test_raising_the_minimum_never_blocks_a_full_exit(hub, federator, stake_manager, added_node, provider):
    hub.setStakeMinimum(hub.MAX_MIN_STAKE_PER_COMPUTE_UNIT(), sender=federator)
    hub.removeComputeNode(added_node.address, sender=provider)
    hub.deregisterProvider(sender=provider)
    assert stake_manager.unbondingOf(provider) == STAKE


def test_a_slash_takes_at_most_the_bonded_requirement(hub, stake_manager, added_node, provider, validator):
    cap = hub.calculateMinimumStake(provider, 0)
    assert cap == (NODE_UNITS + 1) * MIN_STAKE < STAKE
    assert hub.previewSlash(provider, STAKE) == cap
    assert hub.previewSlash(provider, INJ) == INJ
    taken = hub.slash(provider, STAKE, "incident", sender=validator)
    assert taken == cap
    assert stake_manager.stakeOf(provider) == STAKE - cap


def test_a_fraud_slash_is_not_lowered_by_removing_the_node_first(
    hub, pool, stake_manager, member, active_pool, submitted_work, validator, provider
):
    # a cap read at invalidation time would have shrunk from 11 units to 1 when the node left
    hub.removeComputeNode(member.address, sender=provider)
    assert hub.calculateMinimumStake(provider, 0) == MIN_STAKE
    fine = 30 * INJ
    assert fine > (NODE_UNITS + 1) * MIN_STAKE
    taken = pool.hardInvalidateWork(active_pool, member.address, submitted_work, fine, "fraud", sender=validator)
    assert taken == fine
    assert stake_manager.stakeOf(provider) == STAKE - fine


def test_a_fraud_slash_takes_at_most_what_the_provider_holds(
    pool, stake_manager, member, active_pool, submitted_work, validator, provider
):
    taken = pool.hardInvalidateWork(active_pool, member.address, submitted_work, 10 * STAKE, "fraud", sender=validator)
    assert taken == STAKE
    assert stake_manager.stakeOf(provider) == 0 and stake_manager.unbondingOf(provider) == 0


# --- hole 5: the smaller ones (SPEC 5.2, 7.1, 7.4, 9) -------------------------------------------------


def test_a_pending_pool_can_be_cancelled_and_refunded(pool, rewards, pending_pool, pool_creator):
    pool.endComputePool(pending_pool, sender=pool_creator)
    assert pool.poolStatus(pending_pool) == 4  # COMPLETED (flag value)
    budget = rewards.getPoolBudget(pending_pool).available
    assert rewards.refund(pending_pool, sender=pool_creator) == budget > 0


def test_soft_invalidation_by_an_outsider_names_both_allowed_callers(
    pool, member, active_pool, submitted_work, attacker
):
    with boa.reverts("ComputePool: caller is not a validator or the pool manager"):
        pool.invalidateWork(active_pool, member.address, submitted_work, sender=attacker)


def test_work_rate_validator_never_reverts_on_overflow(system):
    validation = system.work_validation
    assert validation.validateWork(1, boa.env.generate_address(), 2**255, 1, 2) is True
    assert validation.validateWork(1, boa.env.generate_address(), 2**255, 1, 0) is False
    assert validation.validateWork(1, boa.env.generate_address(), 1, 2**256 - 1, 2**200) is False


def test_rebond_checks_the_128_bit_stake_bound(hub, registered, provider):
    boa.env.set_balance(provider, 2**130)
    hub.increaseStake(sender=provider, value=MAX_AMOUNT - STAKE)
    hub.reclaimStake(INJ, sender=provider)
    hub.increaseStake(sender=provider, value=INJ)
    with boa.reverts("StakeManager: stake too large"):
        hub.rebondStake(INJ, sender=provider)


def test_same_second_unbond_merge_checks_the_128_bit_bound(hub, stake_manager, registered, provider):
    boa.env.set_balance(provider, 2**130)
    hub.increaseStake(sender=provider, value=MAX_AMOUNT - STAKE)
    hub.reclaimStake(MAX_AMOUNT - MIN_STAKE, sender=provider)
    hub.increaseStake(sender=provider, value=MAX_AMOUNT - MIN_STAKE)
    with boa.reverts("StakeManager: unbond too large"):
        hub.reclaimStake(MAX_AMOUNT - MIN_STAKE, sender=provider)


# --- hole 6: work keys are namespaced by node (SPEC 7.3, Rule R16) ---------------------------------


def test_a_squatter_cannot_block_the_victims_next_key(pool, rewards, two_members, active_pool, validator, provider):
    victim, squatter = two_members
    boa.env.time_travel(seconds=60)
    next_key = b"\x07" * 32
    pool.submitWork(active_pool, next_key, 1, sender=squatter.address)
    pool.invalidateWork(active_pool, squatter.address, next_key, sender=validator)
    pool.submitWork(active_pool, next_key, 50_000, sender=victim.address)
    boa.env.time_travel(seconds=CHALLENGE_WINDOW + 1)
    paid = rewards.claimRewards(active_pool, victim.address, [next_key], sender=provider)
    assert paid == 50_000 * rewards.getPoolBudget(active_pool).rewardPerUnit


# --- hole 7: a network blacklist releases the provider's nodes (SPEC 3.4, Rule R8) ----------------


def test_network_blacklist_releases_listed_nodes(hub, pool, member, active_pool, validator, provider):
    hub.blacklistProvider(provider, [member.address], sender=validator)
    assert pool.activePoolOf(member.address) == 0
    assert pool.getPool(active_pool).totalCompute == 0


def test_anyone_releases_an_unlisted_node_of_a_blacklisted_provider(
    hub, pool, member, active_pool, validator, provider, attacker
):
    with boa.reverts("ComputePool: provider is not blacklisted"):
        pool.releaseBlacklistedNode(member.address, sender=attacker)
    hub.blacklistProvider(provider, [], sender=validator)
    pool.releaseBlacklistedNode(member.address, sender=attacker)
    assert pool.activePoolOf(member.address) == 0
    assert pool.getPool(active_pool).totalCompute == 0


def test_network_blacklist_refuses_another_providers_node(hub, two_members, validator, provider):
    _, other = two_members
    with boa.reverts("InjectiveAiHub: node belongs to another provider"):
        hub.blacklistProvider(provider, [other.address], sender=validator)


# --- hole 8: found as a new user (SPEC 3.2, 4.2, 7.1, 7.3, Rule R17) -------------------------------


def test_a_provider_below_its_minimum_submits_no_new_work_but_claims_old_work(
    hub, pool, rewards, stake_manager, member, active_pool, submitted_work, validator, provider
):
    # each slash takes at most the bonded requirement: repeat until the stake is below it
    while stake_manager.stakeOf(provider) >= hub.calculateMinimumStake(provider, 0):
        hub.slash(provider, STAKE, "incident", sender=validator)
    boa.env.time_travel(seconds=60)
    with boa.reverts("ComputePool: provider stake below minimum"):
        pool.submitWork(active_pool, b"\x02" * 32, 1, sender=member.address)
    boa.env.time_travel(seconds=CHALLENGE_WINDOW)
    assert rewards.claimRewards(active_pool, member.address, [submitted_work], sender=provider) > 0


def test_a_pool_needs_a_budget(steps, pool_creator, domain_id, pool_manager):
    with boa.reverts("ComputePool: zero budget"):
        steps.create_pool(pool_creator, domain_id, pool_manager.address, budget=0)


def test_re_registering_starts_unwhitelisted_and_a_blacklist_sticks(hub, registry, registered, validator, provider):
    hub.whitelistProvider(provider, sender=validator)
    hub.deregisterProvider(sender=provider)
    hub.registerProvider(sender=provider, value=STAKE)
    assert registry.getProvider(provider).whitelisted is False
    hub.blacklistProvider(provider, [], sender=validator)
    hub.deregisterProvider(sender=provider)
    with boa.reverts("ComputeRegistry: provider is blacklisted"):
        hub.registerProvider(sender=provider, value=STAKE)


def test_the_pool_mirrors_the_hub_stake_minimum(hub, pool, federator, attacker):
    assert pool.minStakePerComputeUnit() == hub.minStakePerComputeUnit() == MIN_STAKE
    hub.setStakeMinimum(3 * INJ, sender=federator)
    assert pool.minStakePerComputeUnit() == 3 * INJ
    with boa.reverts("ComputePool: caller is not the hub"):
        pool.syncStakeMinimum(0, sender=attacker)
