"""joinComputePool, leaveComputePool, ejectNode, blacklistNode, blacklistProvider."""

import boa
import pytest

from tests.utils.scenario import DEADLINE, NODE_UNITS, STAKE, one_event

COMPLETED = 4


# -- join ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("caller", ["node", "provider"])
def test_join(pool, steps, active_pool, validated_node, provider, pool_manager, caller):
    sender = validated_node.address if caller == "node" else provider
    steps.join(active_pool, validated_node, pool_manager, sender=sender)
    e = one_event(pool, "NodeJoined")
    assert (e.poolId, e.node, e.provider, e.computeUnits, e.nonce) == (
        active_pool,
        validated_node.address,
        provider,
        NODE_UNITS,
        0,
    )
    assert pool.activePoolOf(validated_node.address) == active_pool
    assert pool.getPool(active_pool).totalCompute == NODE_UNITS
    assert pool.providerNodesInPool(active_pool, provider) == 1
    assert pool.inviteNonce(validated_node.address) == 1
    assert pool.lastWorkAt(validated_node.address) == boa.env.timestamp


def test_join_pending_pool(pool, steps, pending_pool, validated_node, pool_manager):
    steps.join(pending_pool, validated_node, pool_manager)
    assert pool.activePoolOf(validated_node.address) == pending_pool


def _join(pool, steps, pool_id, node, manager, sender=None, deadline=DEADLINE):
    signature = steps.invite(manager, pool_id, node.address, deadline)
    pool.joinComputePool(pool_id, node.address, deadline, signature, sender=sender or node.address)


def test_join_unregistered_node(pool, steps, active_pool, node, pool_manager):
    with boa.reverts("ComputePool: node not registered"):
        _join(pool, steps, active_pool, node, pool_manager)


def test_join_by_stranger(pool, steps, active_pool, validated_node, pool_manager, attacker):
    with boa.reverts("ComputePool: caller is not the node or its provider"):
        _join(pool, steps, active_pool, validated_node, pool_manager, sender=attacker)


def test_join_expired_invite(pool, steps, active_pool, validated_node, pool_manager):
    deadline = boa.env.timestamp + 10
    signature = steps.invite(pool_manager, active_pool, validated_node.address, deadline)
    boa.env.time_travel(seconds=11)
    with boa.reverts("ComputePool: invite expired"):
        pool.joinComputePool(active_pool, validated_node.address, deadline, signature, sender=validated_node.address)


def test_join_at_deadline(pool, steps, active_pool, validated_node, pool_manager):
    _join(pool, steps, active_pool, validated_node, pool_manager, deadline=boa.env.timestamp)
    assert pool.activePoolOf(validated_node.address) == active_pool


def test_join_completed_pool(pool, steps, active_pool, validated_node, pool_manager, pool_creator):
    pool.endComputePool(active_pool, sender=pool_creator)
    with boa.reverts("ComputePool: pool is not open"):
        _join(pool, steps, active_pool, validated_node, pool_manager)


def test_join_unknown_pool(pool, steps, validated_node, pool_manager):
    with boa.reverts("ComputePool: pool is not open"):
        _join(pool, steps, 77, validated_node, pool_manager)


def test_join_unvalidated_node(pool, steps, active_pool, added_node, pool_manager):
    with boa.reverts("ComputePool: node not validated"):
        _join(pool, steps, active_pool, added_node, pool_manager)


def test_join_not_whitelisted(pool, hub, steps, active_pool, added_node, validator, pool_manager):
    hub.validateNode(added_node.address, sender=validator)
    with boa.reverts("ComputePool: provider not whitelisted"):
        _join(pool, steps, active_pool, added_node, pool_manager)


def test_join_globally_blacklisted_provider(
    pool, hub, steps, active_pool, validated_node, provider, validator, pool_manager
):
    hub.blacklistProvider(provider, [], sender=validator)
    with boa.reverts("ComputePool: provider not whitelisted"):
        _join(pool, steps, active_pool, validated_node, pool_manager)


def test_join_blacklisted_node(pool, steps, active_pool, validated_node, pool_manager):
    pool.blacklistNode(active_pool, validated_node.address, sender=pool_manager.address)
    with boa.reverts("ComputePool: node is blacklisted from this pool"):
        _join(pool, steps, active_pool, validated_node, pool_manager)


def test_join_blacklisted_provider(pool, steps, active_pool, validated_node, provider, pool_manager):
    pool.blacklistProvider(active_pool, provider, [], sender=pool_manager.address)
    with boa.reverts("ComputePool: provider is blacklisted from this pool"):
        _join(pool, steps, active_pool, validated_node, pool_manager)


def test_join_stake_below_minimum(pool, hub, steps, active_pool, validated_node, provider, validator, pool_manager):
    # a slash takes at most the 11 INJ requirement: 50 -> 39 -> 28 -> 17 -> 6 < 11
    for _ in range(4):
        hub.slash(provider, STAKE, "drop below", sender=validator)
    with boa.reverts("ComputePool: provider stake below minimum"):
        _join(pool, steps, active_pool, validated_node, pool_manager)


def test_join_second_pool_refused(pool, steps, member, domain_id, pool_creator, pool_manager):
    other = steps.create_pool(pool_creator, domain_id, pool_manager.address)
    with boa.reverts("ComputePool: node already in a pool"):
        _join(pool, steps, other, member, pool_manager)


def test_join_over_compute_limit(pool, steps, domain_id, pool_creator, validated_node, pool_manager):
    small = steps.create_pool(pool_creator, domain_id, pool_manager.address, limit=NODE_UNITS - 1)
    with boa.reverts("ComputePool: pool compute limit reached"):
        _join(pool, steps, small, validated_node, pool_manager)


def test_join_exactly_at_compute_limit(pool, steps, domain_id, pool_creator, validated_node, pool_manager):
    exact = steps.create_pool(pool_creator, domain_id, pool_manager.address, limit=NODE_UNITS)
    _join(pool, steps, exact, validated_node, pool_manager)
    assert pool.getPool(exact).totalCompute == NODE_UNITS


def test_join_invite_from_wrong_key(pool, steps, active_pool, validated_node, other_node):
    with boa.reverts("ComputePool: invite not signed by the pool manager"):
        _join(pool, steps, active_pool, validated_node, other_node)


def test_join_invite_for_other_pool(pool, steps, active_pool, validated_node, pool_manager):
    signature = steps.invite(pool_manager, active_pool + 1, validated_node.address)
    with boa.reverts("ComputePool: invite not signed by the pool manager"):
        pool.joinComputePool(active_pool, validated_node.address, DEADLINE, signature, sender=validated_node.address)


def test_join_invite_is_single_use(pool, steps, active_pool, validated_node, pool_manager):
    signature = steps.invite(pool_manager, active_pool, validated_node.address)
    pool.joinComputePool(active_pool, validated_node.address, DEADLINE, signature, sender=validated_node.address)
    pool.leaveComputePool(active_pool, validated_node.address, sender=validated_node.address)
    with boa.reverts("ComputePool: invite not signed by the pool manager"):
        pool.joinComputePool(active_pool, validated_node.address, DEADLINE, signature, sender=validated_node.address)


def test_rotated_manager_old_invites_die(
    pool, steps, active_pool, validated_node, pool_manager, pool_creator, other_node
):
    signature = steps.invite(pool_manager, active_pool, validated_node.address)
    pool.setPoolManager(active_pool, other_node.address, sender=pool_creator)
    with boa.reverts("ComputePool: invite not signed by the pool manager"):
        pool.joinComputePool(active_pool, validated_node.address, DEADLINE, signature, sender=validated_node.address)
    _join(pool, steps, active_pool, validated_node, other_node)


# -- leave / eject ------------------------------------------------------------------------------


@pytest.mark.parametrize("caller", ["node", "provider"])
def test_leave(pool, member, active_pool, provider, caller):
    pool.leaveComputePool(active_pool, member.address, sender=member.address if caller == "node" else provider)
    e = one_event(pool, "NodeLeft")
    assert (e.poolId, e.node, e.provider, e.computeUnits, e.reason) == (
        active_pool,
        member.address,
        provider,
        NODE_UNITS,
        "left",
    )
    assert pool.activePoolOf(member.address) == 0
    assert pool.getPool(active_pool).totalCompute == 0
    assert pool.providerNodesInPool(active_pool, provider) == 0
    assert pool.inviteNonce(member.address) == 1


def test_leave_by_stranger(pool, member, active_pool, attacker):
    with boa.reverts("ComputePool: caller is not the node or its provider"):
        pool.leaveComputePool(active_pool, member.address, sender=attacker)


def test_leave_when_not_member(pool, validated_node, active_pool):
    with boa.reverts("ComputePool: node not in pool"):
        pool.leaveComputePool(active_pool, validated_node.address, sender=validated_node.address)


def test_leave_ended_pool_is_already_free(pool, member, active_pool, pool_creator):
    pool.endComputePool(active_pool, sender=pool_creator)
    with boa.reverts("ComputePool: node not in pool"):
        pool.leaveComputePool(active_pool, member.address, sender=member.address)


@pytest.mark.parametrize("by", ["manager", "creator"])
def test_eject(pool, member, active_pool, pool_manager, pool_creator, provider, by):
    pool.ejectNode(active_pool, member.address, sender=pool_manager.address if by == "manager" else pool_creator)
    e = one_event(pool, "NodeLeft")
    assert (e.node, e.reason) == (member.address, "ejected")
    assert pool.activePoolOf(member.address) == 0
    assert pool.providerNodesInPool(active_pool, provider) == 0


def test_eject_only_manager(pool, member, active_pool, attacker):
    with boa.reverts("ComputePool: caller is not the pool manager"):
        pool.ejectNode(active_pool, member.address, sender=attacker)


def test_eject_non_member(pool, validated_node, active_pool, pool_manager):
    with boa.reverts("ComputePool: node not in pool"):
        pool.ejectNode(active_pool, validated_node.address, sender=pool_manager.address)


# -- blacklists ---------------------------------------------------------------------------------


def test_blacklist_member_node(pool, member, active_pool, pool_manager):
    pool.blacklistNode(active_pool, member.address, sender=pool_manager.address)
    assert one_event(pool, "NodeBlacklisted").node == member.address
    assert one_event(pool, "NodeLeft").reason == "blacklisted"
    assert pool.nodeBlacklisted(active_pool, member.address)
    assert pool.activePoolOf(member.address) == 0


def test_blacklist_outside_node(pool, validated_node, active_pool, pool_manager):
    pool.blacklistNode(active_pool, validated_node.address, sender=pool_manager.address)
    assert pool.get_logs(strict=False)[-1].node == validated_node.address
    assert len([e for e in pool.get_logs(strict=False) if type(e).__name__ == "NodeLeft"]) == 0


def test_blacklist_node_twice(pool, validated_node, active_pool, pool_manager):
    pool.blacklistNode(active_pool, validated_node.address, sender=pool_manager.address)
    with boa.reverts("ComputePool: node already blacklisted"):
        pool.blacklistNode(active_pool, validated_node.address, sender=pool_manager.address)


def test_blacklist_node_only_manager(pool, validated_node, active_pool, attacker):
    with boa.reverts("ComputePool: caller is not the pool manager"):
        pool.blacklistNode(active_pool, validated_node.address, sender=attacker)


def test_blacklist_provider_removes_listed_nodes(
    pool, steps, hub, member, other_node, active_pool, provider, validator, pool_manager
):
    steps.add_node(provider, other_node)
    hub.validateNode(other_node.address, sender=validator)
    steps.join(active_pool, other_node, pool_manager)
    pool.blacklistProvider(active_pool, provider, [member.address, other_node.address], sender=pool_manager.address)
    e = one_event(pool, "ProviderBlacklisted")
    assert (e.poolId, e.provider, e.nodesRemoved) == (active_pool, provider, 2)
    assert pool.providerBlacklisted(active_pool, provider)
    assert pool.providerNodesInPool(active_pool, provider) == 0
    assert pool.getPool(active_pool).totalCompute == 0


def test_blacklist_provider_must_list_every_node(pool, member, active_pool, provider, pool_manager):
    with boa.reverts("ComputePool: provider still has nodes in the pool, list them all"):
        pool.blacklistProvider(active_pool, provider, [], sender=pool_manager.address)


def test_blacklist_provider_refuses_foreign_node(
    pool, steps, hub, member, active_pool, other_provider, other_node, validator, pool_manager, provider
):
    steps.ready_provider(other_provider, other_node, validator)
    steps.join(active_pool, other_node, pool_manager)
    with boa.reverts("ComputePool: node belongs to another provider"):
        pool.blacklistProvider(active_pool, provider, [other_node.address], sender=pool_manager.address)


def test_blacklist_provider_refuses_non_member(pool, validated_node, active_pool, provider, pool_manager):
    with boa.reverts("ComputePool: node not in pool"):
        pool.blacklistProvider(active_pool, provider, [validated_node.address], sender=pool_manager.address)


def test_blacklist_provider_twice(pool, active_pool, provider, pool_manager):
    pool.blacklistProvider(active_pool, provider, [], sender=pool_manager.address)
    with boa.reverts("ComputePool: provider already blacklisted"):
        pool.blacklistProvider(active_pool, provider, [], sender=pool_manager.address)


def test_blacklist_provider_only_manager(pool, active_pool, provider, attacker):
    with boa.reverts("ComputePool: caller is not the pool manager"):
        pool.blacklistProvider(active_pool, provider, [], sender=attacker)


def test_remove_node_releases_pool_membership(hub, pool, member, active_pool, provider):
    hub.removeComputeNode(member.address, sender=provider)
    assert one_event(hub, "NodeLeft").reason == "released"
    assert pool.activePoolOf(member.address) == 0
    assert pool.getPool(active_pool).totalCompute == 0


def test_ended_pool_frees_its_nodes(pool, member, active_pool, pool_creator):
    pool.endComputePool(active_pool, sender=pool_creator)
    assert pool.activePoolOf(member.address) == 0
    assert pool.poolStatus(active_pool) == COMPLETED
