"""createComputePool, startComputePool, endComputePool, setPoolManager."""

import boa
import pytest

from hub.contracts import INJ
from tests.utils.deployers import POOL_DEPLOYER
from tests.utils.scenario import (
    BUDGET,
    CHALLENGE_WINDOW,
    METADATA_HASH,
    METADATA_URI,
    REWARD_PER_UNIT,
    UNBONDING,
    one_event,
)

PENDING, ACTIVE, COMPLETED = 1, 2, 4


def test_create_pool(pool, rewards, system, domain_id, pool_creator, pool_manager):
    before = boa.env.get_balance(pool_creator)
    pool_id = pool.createComputePool(
        domain_id,
        pool_manager.address,
        METADATA_URI,
        METADATA_HASH,
        100,
        REWARD_PER_UNIT,
        CHALLENGE_WINDOW,
        sender=pool_creator,
        value=BUDGET,
    )
    assert pool_id == 1
    e = one_event(pool, "PoolCreated")
    assert (e.poolId, e.domainId, e.creator, e.manager, e.computeLimit, e.metadataHash, e.metadataURI) == (
        1,
        domain_id,
        pool_creator,
        pool_manager.address,
        100,
        METADATA_HASH,
        METADATA_URI,
    )
    f = one_event(pool, "PoolFunded")
    assert (f.poolId, f.creator, f.amount, f.rewardPerUnit, f.challengeWindow) == (
        1,
        pool_creator,
        BUDGET,
        REWARD_PER_UNIT,
        CHALLENGE_WINDOW,
    )
    p = pool.getPool(1)
    assert (
        p.domainId,
        p.creator,
        p.manager,
        p.validationLogic,
        p.status,
        p.computeLimit,
        p.totalCompute,
        p.metadataHash,
        p.createdAt,
        p.startedAt,
        p.endedAt,
        p.metadataURI,
    ) == (
        domain_id,
        pool_creator,
        pool_manager.address,
        system.work_validation.address,
        PENDING,
        100,
        0,
        METADATA_HASH,
        boa.env.timestamp,
        0,
        0,
        METADATA_URI,
    )
    b = rewards.getPoolBudget(1)
    assert (b.creator, b.rewardPerUnit, b.challengeWindow, b.funded, b.refunded, b.available, b.committed, b.paid) == (
        pool_creator,
        REWARD_PER_UNIT,
        CHALLENGE_WINDOW,
        BUDGET,
        0,
        BUDGET,
        0,
        0,
    )
    assert boa.env.get_balance(rewards.address) == BUDGET
    assert boa.env.get_balance(pool.address) == 0
    assert boa.env.get_balance(pool_creator) == before - BUDGET
    assert pool.poolCount() == 1 and pool.nextPoolId() == 2


def test_create_pool_with_one_wei_then_top_up(pool, rewards, domain_id, pool_creator, pool_manager):
    pool_id = pool.createComputePool(
        domain_id,
        pool_manager.address,
        METADATA_URI,
        METADATA_HASH,
        0,
        REWARD_PER_UNIT,
        CHALLENGE_WINDOW,
        sender=pool_creator,
        value=1,
    )
    rewards.topUp(pool_id, sender=pool_creator, value=INJ)
    assert rewards.getPoolBudget(pool_id).available == INJ + 1


@pytest.mark.parametrize(
    "change,reason",
    [
        ({"domain": 99}, "ComputePool: unknown domain"),
        ({"manager": "0x" + "00" * 20}, "ComputePool: zero manager"),
        ({"uri": ""}, "ComputePool: empty metadata URI"),
        ({"hash": b"\x00" * 32}, "ComputePool: empty metadata hash"),
        ({"rate": 0}, "ComputePool: reward per unit must be positive"),
        ({"window": 0}, "ComputePool: challenge window out of range"),
        ({"window": 30 * 86400 + 1}, "ComputePool: challenge window out of range"),
    ],
)
def test_create_pool_reverts(pool, domain_id, pool_creator, pool_manager, change, reason):
    args = {
        "domain": domain_id,
        "manager": pool_manager.address,
        "uri": METADATA_URI,
        "hash": METADATA_HASH,
        "rate": REWARD_PER_UNIT,
        "window": CHALLENGE_WINDOW,
    }
    args.update(change)
    with boa.reverts(reason):
        pool.createComputePool(
            args["domain"],
            args["manager"],
            args["uri"],
            args["hash"],
            0,
            args["rate"],
            args["window"],
            sender=pool_creator,
            value=BUDGET,
        )


def test_create_pool_longest_window(pool, domain_id, pool_creator, pool_manager):
    # the unbonding period (1,000 s here) bounds the window before the 30-day ceiling does (SPEC 7.1)
    pool_id = pool.createComputePool(
        domain_id,
        pool_manager.address,
        METADATA_URI,
        METADATA_HASH,
        0,
        REWARD_PER_UNIT,
        UNBONDING - 1,
        sender=pool_creator,
        value=INJ,
    )
    assert pool.getPool(pool_id).status == PENDING
    with boa.reverts("ComputePool: challenge window must be shorter than the unbonding period"):
        pool.createComputePool(
            domain_id,
            pool_manager.address,
            METADATA_URI,
            METADATA_HASH,
            0,
            REWARD_PER_UNIT,
            UNBONDING,
            sender=pool_creator,
            value=INJ,
        )


def test_start_pool(pool, pending_pool, pool_creator):
    pool.startComputePool(pending_pool, sender=pool_creator)
    e = one_event(pool, "PoolStatusChanged")
    assert (e.poolId, e.status) == (pending_pool, ACTIVE)
    p = pool.getPool(pending_pool)
    assert (p.status, p.startedAt) == (ACTIVE, boa.env.timestamp)
    assert pool.poolStatus(pending_pool) == ACTIVE


def test_start_pool_twice(pool, active_pool, pool_creator):
    with boa.reverts("ComputePool: pool is not pending"):
        pool.startComputePool(active_pool, sender=pool_creator)


def test_start_pool_only_creator(pool, pending_pool, pool_manager):
    with boa.reverts("ComputePool: caller is not the pool creator"):
        pool.startComputePool(pending_pool, sender=pool_manager.address)


def test_end_pool(pool, active_pool, pool_creator):
    pool.endComputePool(active_pool, sender=pool_creator)
    e = one_event(pool, "PoolStatusChanged")
    assert (e.poolId, e.status) == (active_pool, COMPLETED)
    p = pool.getPool(active_pool)
    assert (p.status, p.endedAt) == (COMPLETED, boa.env.timestamp)


def test_end_pending_pool_cancels_it(pool, pending_pool, pool_creator):
    pool.endComputePool(pending_pool, sender=pool_creator)
    e = one_event(pool, "PoolStatusChanged")
    assert (e.poolId, e.status) == (pending_pool, COMPLETED)
    p = pool.getPool(pending_pool)
    assert (p.status, p.startedAt, p.endedAt) == (COMPLETED, 0, boa.env.timestamp)
    with boa.reverts("ComputePool: pool is not pending"):
        pool.startComputePool(pending_pool, sender=pool_creator)


def test_end_pool_twice(pool, active_pool, pool_creator):
    pool.endComputePool(active_pool, sender=pool_creator)
    with boa.reverts("ComputePool: pool has ended"):
        pool.endComputePool(active_pool, sender=pool_creator)
    with boa.reverts("ComputePool: pool is not pending"):
        pool.startComputePool(active_pool, sender=pool_creator)


def test_end_pool_only_creator(pool, active_pool, attacker):
    with boa.reverts("ComputePool: caller is not the pool creator"):
        pool.endComputePool(active_pool, sender=attacker)


def test_set_pool_manager(pool, pending_pool, pool_creator, attacker):
    pool.setPoolManager(pending_pool, attacker, sender=pool_creator)
    e = one_event(pool, "PoolManagerChanged")
    assert (e.poolId, e.manager) == (pending_pool, attacker)
    assert pool.getPool(pending_pool).manager == attacker


def test_set_pool_manager_zero(pool, pending_pool, pool_creator):
    with boa.reverts("ComputePool: zero manager"):
        pool.setPoolManager(pending_pool, "0x" + "00" * 20, sender=pool_creator)


def test_set_pool_manager_only_creator(pool, pending_pool, pool_manager, attacker):
    with boa.reverts("ComputePool: caller is not the pool creator"):
        pool.setPoolManager(pending_pool, attacker, sender=pool_manager.address)


def test_pool_constructor_refuses_zero_hub(admin):
    with boa.env.prank(admin), boa.reverts("ComputePool: zero hub"):
        POOL_DEPLOYER.deploy("0x" + "00" * 20)


def test_hub_only_release_and_wire(pool, attacker, system):
    with boa.reverts("ComputePool: caller is not the hub"):
        pool.releaseNode(attacker, sender=attacker)
    with boa.reverts("ComputePool: caller is not the hub"):
        pool.wire(attacker, attacker, attacker, attacker, sender=attacker)
