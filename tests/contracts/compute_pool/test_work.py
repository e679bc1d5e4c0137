"""submitWork, invalidateWork (soft) and hardInvalidateWork."""

import boa
import pytest

from hub.contracts import INJ
from tests.utils.scenario import (
    BUDGET,
    CHALLENGE_WINDOW,
    NODE_UNITS,
    RATE,
    REWARD_PER_UNIT,
    STAKE,
    VALIDATOR_ROLE,
    one_event,
)

KEY = b"\x01" * 32
UNITS = 100_000


# -- submitWork ---------------------------------------------------------------------------------


def test_submit_work(pool, rewards, member, active_pool, provider):
    boa.env.time_travel(seconds=60)
    pool.submitWork(active_pool, KEY, UNITS, sender=member.address)
    e = one_event(pool, "WorkSubmitted")
    assert (e.poolId, e.node, e.workKey, e.provider, e.units, e.reward, e.unlocksAt) == (
        active_pool,
        member.address,
        KEY,
        provider,
        UNITS,
        UNITS * REWARD_PER_UNIT,
        boa.env.timestamp + CHALLENGE_WINDOW + 1,
    )
    assert rewards.getWork(active_pool, member.address, KEY) == (
        member.address,
        provider,
        UNITS,
        boa.env.timestamp,
        1,
        boa.env.timestamp + CHALLENGE_WINDOW + 1,
        False,
    )
    b = rewards.getPoolBudget(active_pool)
    assert (b.available, b.committed, b.paid) == (BUDGET - UNITS * REWARD_PER_UNIT, UNITS * REWARD_PER_UNIT, 0)
    assert pool.lastWorkAt(member.address) == boa.env.timestamp


def test_submit_work_rate_bound_is_exact(pool, member, active_pool):
    boa.env.time_travel(seconds=7)
    with boa.reverts("ComputePool: work exceeds the node's capacity"):
        pool.submitWork(active_pool, KEY, NODE_UNITS * RATE * 7 + 1, sender=member.address)
    pool.submitWork(active_pool, KEY, NODE_UNITS * RATE * 7, sender=member.address)
    # the clock restarts at the last submission: nothing more can be claimed in the same second
    with boa.reverts("ComputePool: work exceeds the node's capacity"):
        pool.submitWork(active_pool, b"\x02" * 32, 1, sender=member.address)


def test_submit_work_key_used_once(pool, submitted_work, member, active_pool):
    boa.env.time_travel(seconds=60)
    with boa.reverts("RewardsDistributor: work key already used"):
        pool.submitWork(active_pool, submitted_work, 1, sender=member.address)


def test_submit_work_empty_key(pool, member, active_pool):
    boa.env.time_travel(seconds=60)
    with boa.reverts("RewardsDistributor: empty work key"):
        pool.submitWork(active_pool, b"\x00" * 32, 1, sender=member.address)


def test_submit_work_zero_units(pool, member, active_pool):
    with boa.reverts("ComputePool: zero work units"):
        pool.submitWork(active_pool, KEY, 0, sender=member.address)


def test_submit_work_units_too_large(
    pool, hub, federator, steps, active_pool, registered, node, validator, pool_manager
):
    hub.setStakeMinimum(0, sender=federator)
    steps.add_node(registered, node, 2**200)
    hub.validateNode(node.address, sender=validator)
    hub.whitelistProvider(registered, sender=validator)
    steps.join(active_pool, node, pool_manager)
    boa.env.time_travel(seconds=1)
    with boa.reverts("RewardsDistributor: units too large"):
        pool.submitWork(active_pool, KEY, 2**96, sender=node.address)


def test_submit_work_beyond_budget(pool, steps, domain_id, pool_creator, pool_manager, validated_node):
    small = steps.create_pool(pool_creator, domain_id, pool_manager.address, budget=UNITS * REWARD_PER_UNIT)
    pool.startComputePool(small, sender=pool_creator)
    steps.join(small, validated_node, pool_manager)
    boa.env.time_travel(seconds=60)
    with boa.reverts("RewardsDistributor: pool budget exhausted"):
        pool.submitWork(small, KEY, UNITS + 1, sender=validated_node.address)
    pool.submitWork(small, KEY, UNITS, sender=validated_node.address)  # exactly the budget


def test_submit_work_pool_not_active(pool, steps, pending_pool, validated_node, pool_manager):
    steps.join(pending_pool, validated_node, pool_manager)
    with boa.reverts("ComputePool: pool is not active"):
        pool.submitWork(pending_pool, KEY, 1, sender=validated_node.address)


def test_submit_work_not_member(pool, validated_node, active_pool):
    with boa.reverts("ComputePool: node not in pool"):
        pool.submitWork(active_pool, KEY, 1, sender=validated_node.address)


def test_submit_work_after_end(pool, member, active_pool, pool_creator):
    pool.endComputePool(active_pool, sender=pool_creator)
    with boa.reverts("ComputePool: pool is not active"):
        pool.submitWork(active_pool, KEY, 1, sender=member.address)


def test_submit_work_blacklisted_provider(pool, hub, member, active_pool, provider, validator):
    hub.blacklistProvider(provider, [], sender=validator)
    boa.env.time_travel(seconds=60)
    with boa.reverts("ComputePool: provider is blacklisted"):
        pool.submitWork(active_pool, KEY, 1, sender=member.address)


# -- invalidateWork (soft) ----------------------------------------------------------------------


@pytest.mark.parametrize("by", ["validator", "manager", "creator"])
def test_soft_invalidate(pool, rewards, submitted_work, member, active_pool, validator, pool_manager, pool_creator, by):
    sender = {"validator": validator, "manager": pool_manager.address, "creator": pool_creator}[by]
    pool.invalidateWork(active_pool, member.address, submitted_work, sender=sender)
    e = one_event(pool, "WorkInvalidated")
    assert (e.poolId, e.node, e.workKey, e.units, e.reward, e.hard) == (
        active_pool,
        member.address,
        submitted_work,
        UNITS,
        UNITS * REWARD_PER_UNIT,
        False,
    )
    b = rewards.getPoolBudget(active_pool)
    assert (b.available, b.committed) == (BUDGET, 0)
    assert rewards.getWork(active_pool, member.address, submitted_work)[4] == 3
    assert pool.activePoolOf(member.address) == active_pool  # the node stays
    assert rewards.voidFrom(active_pool, member.address) == 0


def test_soft_invalidate_only_validator_or_manager(pool, submitted_work, active_pool, attacker, provider, member):
    for who in (attacker, provider):
        with boa.reverts("ComputePool: caller is not a validator or the pool manager"):
            pool.invalidateWork(active_pool, member.address, submitted_work, sender=who)


def test_soft_invalidate_at_last_second(pool, rewards, submitted_work, active_pool, validator, member):
    boa.env.time_travel(seconds=CHALLENGE_WINDOW)
    pool.invalidateWork(active_pool, member.address, submitted_work, sender=validator)
    assert one_event(pool, "WorkInvalidated").workKey == submitted_work
    assert rewards.getWork(active_pool, member.address, submitted_work)[4] == 3  # invalidated


def test_soft_invalidate_after_window(pool, submitted_work, active_pool, validator, member):
    boa.env.time_travel(seconds=CHALLENGE_WINDOW + 1)
    with boa.reverts("RewardsDistributor: challenge window closed"):
        pool.invalidateWork(active_pool, member.address, submitted_work, sender=validator)


def test_invalidate_twice(pool, submitted_work, active_pool, validator, member):
    pool.invalidateWork(active_pool, member.address, submitted_work, sender=validator)
    with boa.reverts("RewardsDistributor: work not pending"):
        pool.invalidateWork(active_pool, member.address, submitted_work, sender=validator)


def test_invalidate_unknown_work(pool, active_pool, validator, member):
    with boa.reverts("RewardsDistributor: work not pending"):
        pool.invalidateWork(active_pool, member.address, b"\x09" * 32, sender=validator)


# -- hardInvalidateWork -------------------------------------------------------------------------


def test_hard_invalidate(pool, rewards, stake_manager, submitted_work, member, active_pool, provider, validator):
    pool.hardInvalidateWork(active_pool, member.address, submitted_work, 5 * INJ, "inflated claim", sender=validator)
    w = one_event(pool, "WorkInvalidated")
    assert (w.workKey, w.hard) == (submitted_work, True)
    assert one_event(pool, "NodeBlacklisted").node == member.address
    left = one_event(pool, "NodeLeft")
    assert (left.node, left.reason) == (member.address, "fraud")
    s = one_event(pool, "Slashed")
    assert (s.account, s.slasher, s.slashed, s.reason) == (provider, validator, 5 * INJ, "inflated claim")
    assert rewards.voidFrom(active_pool, member.address) == boa.env.timestamp
    assert pool.nodeBlacklisted(active_pool, member.address)
    assert pool.activePoolOf(member.address) == 0
    assert stake_manager.stakeOf(provider) == STAKE - 5 * INJ
    assert stake_manager.slashedPending() == 5 * INJ
    assert rewards.getPoolBudget(active_pool).available == BUDGET


def test_hard_invalidate_without_slash(pool, stake_manager, submitted_work, active_pool, provider, validator, member):
    pool.hardInvalidateWork(active_pool, member.address, submitted_work, 0, "", sender=validator)
    assert stake_manager.stakeOf(provider) == STAKE
    assert [e for e in pool.get_logs(strict=False) if type(e).__name__ == "Slashed"] == []


def test_hard_invalidate_voids_other_locked_work(
    pool, rewards, submitted_work, member, active_pool, validator, provider
):
    boa.env.time_travel(seconds=60)
    second = b"\x02" * 32
    pool.submitWork(active_pool, second, UNITS, sender=member.address)
    pool.hardInvalidateWork(active_pool, member.address, submitted_work, 0, "fraud", sender=validator)
    assert rewards.getWork(active_pool, member.address, second)[6]  # voided
    boa.env.time_travel(seconds=CHALLENGE_WINDOW + 1)
    with boa.reverts("RewardsDistributor: work voided"):
        rewards.claimRewards(active_pool, member.address, [second], sender=provider)


def test_hard_invalidate_spares_unlocked_work(pool, rewards, submitted_work, member, active_pool, validator, provider):
    boa.env.time_travel(seconds=CHALLENGE_WINDOW + 1)  # the first work unlocks
    later = b"\x02" * 32
    pool.submitWork(active_pool, later, UNITS, sender=member.address)
    pool.hardInvalidateWork(active_pool, member.address, later, 0, "fraud", sender=validator)
    assert not rewards.getWork(active_pool, member.address, submitted_work)[6]
    paid = rewards.claimRewards(active_pool, member.address, [submitted_work], sender=provider)
    assert paid == UNITS * REWARD_PER_UNIT


def test_hard_invalidate_only_validator(pool, submitted_work, active_pool, pool_manager, pool_creator, member):
    for who in (pool_manager.address, pool_creator):
        with boa.reverts("ComputePool: caller is not a validator"):
            pool.hardInvalidateWork(active_pool, member.address, submitted_work, 0, "", sender=who)


def test_hard_invalidate_uses_current_roles(pool, hub, admin, submitted_work, active_pool, validator, attacker, member):
    hub.grantRole(VALIDATOR_ROLE, attacker, sender=admin)
    hub.revokeRole(VALIDATOR_ROLE, validator, sender=admin)
    with boa.reverts("ComputePool: caller is not a validator"):
        pool.hardInvalidateWork(active_pool, member.address, submitted_work, 0, "", sender=validator)
    pool.hardInvalidateWork(active_pool, member.address, submitted_work, 0, "", sender=attacker)


def test_hard_invalidate_after_window(pool, submitted_work, active_pool, validator, member):
    boa.env.time_travel(seconds=CHALLENGE_WINDOW + 1)
    with boa.reverts("RewardsDistributor: challenge window closed"):
        pool.hardInvalidateWork(active_pool, member.address, submitted_work, INJ, "late", sender=validator)


def test_hard_invalidate_slash_to_validator_treasury_refused(
    pool, hub, admin, submitted_work, active_pool, validator, member
):
    hub.setTreasury(validator, sender=admin)
    with boa.reverts("ComputePool: a slash cannot pay its validator"):
        pool.hardInvalidateWork(active_pool, member.address, submitted_work, INJ, "x", sender=validator)


def test_hard_invalidate_of_departed_node(pool, rewards, submitted_work, member, active_pool, validator):
    pool.leaveComputePool(active_pool, member.address, sender=member.address)
    pool.hardInvalidateWork(active_pool, member.address, submitted_work, 0, "fraud", sender=validator)
    assert [e for e in pool.get_logs(strict=False) if type(e).__name__ == "NodeLeft"] == []
    assert pool.nodeBlacklisted(active_pool, member.address)
