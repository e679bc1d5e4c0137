"""claimRewards, releaseVoidedWork, topUp, refund, and the pool-only entry points."""

import boa
import pytest

from hub.contracts import INJ
from tests.utils.deployers import REWARDS_DEPLOYER
from tests.utils.scenario import BUDGET, CHALLENGE_WINDOW, REWARD_PER_UNIT, one_event

UNITS = 100_000
REWARD = UNITS * REWARD_PER_UNIT


def test_claim(rewards, submitted_work, active_pool, provider, member):
    boa.env.time_travel(seconds=CHALLENGE_WINDOW + 1)
    before = boa.env.get_balance(provider)
    assert rewards.claimRewards(active_pool, member.address, [submitted_work], sender=provider) == REWARD
    e = one_event(rewards, "RewardsClaimed")
    assert (e.poolId, e.provider, e.amount, e.count) == (active_pool, provider, REWARD, 1)
    assert boa.env.get_balance(provider) == before + REWARD
    assert rewards.getWork(active_pool, member.address, submitted_work)[4] == 2
    b = rewards.getPoolBudget(active_pool)
    assert (b.available, b.committed, b.paid) == (BUDGET - REWARD, REWARD, REWARD)
    assert boa.env.get_balance(rewards.address) == BUDGET - REWARD


def test_claim_at_window_end_refused(rewards, submitted_work, active_pool, provider, member):
    boa.env.time_travel(seconds=CHALLENGE_WINDOW)
    with boa.reverts("RewardsDistributor: work still in challenge window"):
        rewards.claimRewards(active_pool, member.address, [submitted_work], sender=provider)


def test_claim_twice(rewards, submitted_work, active_pool, provider, member):
    boa.env.time_travel(seconds=CHALLENGE_WINDOW + 1)
    rewards.claimRewards(active_pool, member.address, [submitted_work], sender=provider)
    with boa.reverts("RewardsDistributor: work not claimable"):
        rewards.claimRewards(active_pool, member.address, [submitted_work], sender=provider)


def test_claim_duplicate_key_in_batch(rewards, submitted_work, active_pool, provider, member):
    boa.env.time_travel(seconds=CHALLENGE_WINDOW + 1)
    with boa.reverts("RewardsDistributor: work not claimable"):
        rewards.claimRewards(active_pool, member.address, [submitted_work, submitted_work], sender=provider)


@pytest.mark.parametrize("who", ["node", "attacker"])
def test_claim_pays_only_the_provider(rewards, submitted_work, active_pool, member, attacker, who):
    boa.env.time_travel(seconds=CHALLENGE_WINDOW + 1)
    with boa.reverts("RewardsDistributor: not the node's provider"):
        rewards.claimRewards(
            active_pool, member.address, [submitted_work], sender=member.address if who == "node" else attacker
        )


def test_claim_invalidated_work(rewards, pool, submitted_work, active_pool, provider, validator, member):
    pool.invalidateWork(active_pool, member.address, submitted_work, sender=validator)
    boa.env.time_travel(seconds=CHALLENGE_WINDOW + 1)
    with boa.reverts("RewardsDistributor: work not claimable"):
        rewards.claimRewards(active_pool, member.address, [submitted_work], sender=provider)


def test_claim_empty_batch(rewards, active_pool, provider, member):
    with boa.reverts("RewardsDistributor: no work keys"):
        rewards.claimRewards(active_pool, member.address, [], sender=provider)


def test_claim_batch_of_many(rewards, pool, member, active_pool, provider):
    keys = []
    for i in range(5):
        boa.env.time_travel(seconds=20)
        key = bytes([i + 1]) * 32
        pool.submitWork(active_pool, key, UNITS, sender=member.address)
        keys.append(key)
    boa.env.time_travel(seconds=CHALLENGE_WINDOW + 1)
    assert rewards.claimRewards(active_pool, member.address, keys, sender=provider) == 5 * REWARD
    assert one_event(rewards, "RewardsClaimed").count == 5


def test_claim_after_node_removed_still_pays_recorded_provider(
    rewards, hub, submitted_work, member, active_pool, provider
):
    hub.removeComputeNode(member.address, sender=provider)
    boa.env.time_travel(seconds=CHALLENGE_WINDOW + 1)
    assert rewards.claimRewards(active_pool, member.address, [submitted_work], sender=provider) == REWARD


def test_release_voided_work(rewards, pool, submitted_work, member, active_pool, validator, attacker):
    boa.env.time_travel(seconds=30)
    second = b"\x02" * 32
    pool.submitWork(active_pool, second, UNITS, sender=member.address)
    pool.hardInvalidateWork(active_pool, member.address, submitted_work, 0, "fraud", sender=validator)
    assert rewards.getPoolBudget(active_pool).committed == REWARD
    assert rewards.releaseVoidedWork(active_pool, member.address, [second], sender=attacker) == REWARD
    e = one_event(rewards, "VoidedWorkReleased")
    assert (e.poolId, e.count, e.amount) == (active_pool, 1, REWARD)
    b = rewards.getPoolBudget(active_pool)
    assert (b.available, b.committed) == (BUDGET, 0)
    assert rewards.getWork(active_pool, member.address, second)[4] == 3


def test_release_not_voided(rewards, submitted_work, active_pool, attacker, member):
    with boa.reverts("RewardsDistributor: work not voided"):
        rewards.releaseVoidedWork(active_pool, member.address, [submitted_work], sender=attacker)


def test_release_settled(rewards, pool, submitted_work, active_pool, validator, attacker, member):
    pool.hardInvalidateWork(active_pool, member.address, submitted_work, 0, "fraud", sender=validator)
    with boa.reverts("RewardsDistributor: work not pending"):
        rewards.releaseVoidedWork(active_pool, member.address, [submitted_work], sender=attacker)


def test_release_empty(rewards, active_pool, attacker, member):
    with boa.reverts("RewardsDistributor: no work keys"):
        rewards.releaseVoidedWork(active_pool, member.address, [], sender=attacker)


# -- top up / refund ----------------------------------------------------------------------------


def test_top_up(rewards, active_pool, pool_creator):
    rewards.topUp(active_pool, sender=pool_creator, value=5 * INJ)
    e = one_event(rewards, "PoolToppedUp")
    assert (e.poolId, e.amount, e.available) == (active_pool, 5 * INJ, BUDGET + 5 * INJ)
    b = rewards.getPoolBudget(active_pool)
    assert (b.funded, b.available) == (BUDGET + 5 * INJ, BUDGET + 5 * INJ)


def test_top_up_only_creator(rewards, active_pool, attacker):
    with boa.reverts("RewardsDistributor: caller is not the pool creator"):
        rewards.topUp(active_pool, sender=attacker, value=INJ)


def test_top_up_zero(rewards, active_pool, pool_creator):
    with boa.reverts("RewardsDistributor: zero top-up"):
        rewards.topUp(active_pool, sender=pool_creator, value=0)


def test_top_up_ended_pool(rewards, pool, active_pool, pool_creator):
    pool.endComputePool(active_pool, sender=pool_creator)
    with boa.reverts("RewardsDistributor: pool has ended"):
        rewards.topUp(active_pool, sender=pool_creator, value=INJ)


def test_refund_unused_budget(rewards, pool, submitted_work, active_pool, pool_creator, provider, member):
    pool.endComputePool(active_pool, sender=pool_creator)
    before = boa.env.get_balance(pool_creator)
    assert rewards.refund(active_pool, sender=pool_creator) == BUDGET - REWARD
    e = one_event(rewards, "BudgetRefunded")
    assert (e.poolId, e.creator, e.amount) == (active_pool, pool_creator, BUDGET - REWARD)
    assert boa.env.get_balance(pool_creator) == before + BUDGET - REWARD
    b = rewards.getPoolBudget(active_pool)
    assert (b.refunded, b.available, b.committed) == (BUDGET - REWARD, 0, REWARD)
    # committed work stays payable after the refund
    boa.env.time_travel(seconds=CHALLENGE_WINDOW + 1)
    assert rewards.claimRewards(active_pool, member.address, [submitted_work], sender=provider) == REWARD
    assert boa.env.get_balance(rewards.address) == 0


def test_refund_again_after_invalidation(rewards, pool, submitted_work, active_pool, pool_creator, validator, member):
    pool.endComputePool(active_pool, sender=pool_creator)
    rewards.refund(active_pool, sender=pool_creator)
    pool.invalidateWork(active_pool, member.address, submitted_work, sender=validator)
    assert rewards.refund(active_pool, sender=pool_creator) == REWARD


def test_refund_before_end(rewards, active_pool, pool_creator):
    with boa.reverts("RewardsDistributor: pool has not ended"):
        rewards.refund(active_pool, sender=pool_creator)


def test_refund_only_creator(rewards, pool, active_pool, pool_creator, pool_manager):
    pool.endComputePool(active_pool, sender=pool_creator)
    with boa.reverts("RewardsDistributor: caller is not the pool creator"):
        rewards.refund(active_pool, sender=pool_manager.address)


def test_refund_nothing(rewards, pool, active_pool, pool_creator):
    pool.endComputePool(active_pool, sender=pool_creator)
    rewards.refund(active_pool, sender=pool_creator)
    with boa.reverts("RewardsDistributor: nothing to refund"):
        rewards.refund(active_pool, sender=pool_creator)


# -- pool-only and wiring -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda r, a: r.openPool(1, a, 1, 1, sender=a),
        lambda r, a: r.recordWork(1, b"\x01" * 32, a, a, 1, sender=a),
        lambda r, a: r.invalidateWork(1, a, b"\x01" * 32, True, sender=a),
    ],
    ids=["openPool", "recordWork", "invalidateWork"],
)
def test_pool_only_entry_points(rewards, attacker, call):
    with boa.reverts("RewardsDistributor: caller is not the compute pool"):
        call(rewards, attacker)


def test_wire_only_hub_and_nonzero(admin, attacker):
    with boa.env.prank(admin):
        with boa.reverts("RewardsDistributor: zero hub"):
            REWARDS_DEPLOYER.deploy("0x" + "00" * 20)
        fresh = REWARDS_DEPLOYER.deploy(admin)
    with boa.reverts("RewardsDistributor: caller is not the hub"):
        fresh.wire(attacker, sender=attacker)
    with boa.reverts("RewardsDistributor: zero address"):
        fresh.wire("0x" + "00" * 20, sender=admin)
