"""addComputeNode, removeComputeNode, validateNode, invalidateNode."""

import boa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub import signatures as sig
from tests.utils.scenario import MIN_STAKE, NODE_UNITS, SPECS, STAKE, one_event

# -- addComputeNode -----------------------------------------------------------------------------


def test_add_compute_node(hub, registry, steps, registered, node):
    steps.add_node(registered, node)
    e = one_event(hub, "NodeAdded")
    assert (e.provider, e.node, e.computeUnits, e.specsURI, e.nonce) == (registered, node.address, NODE_UNITS, SPECS, 0)
    record = registry.getNode(node.address)
    assert (record.provider, record.computeUnits, record.validated) == (registered, NODE_UNITS, False)
    provider = registry.getProvider(registered)
    assert (provider.totalCompute, provider.nodeCount) == (NODE_UNITS, 1)
    assert registry.getProviderTotalCompute(registered) == NODE_UNITS
    assert registry.nodeNonce(node.address) == 1


def test_add_compute_node_with_deadline(hub, steps, registered, node):
    deadline = boa.env.timestamp + 60
    signature = steps.attest(registered, node, deadline=deadline)
    hub.addComputeNode(node.address, SPECS, NODE_UNITS, signature, deadline, sender=registered)
    assert one_event(hub, "NodeAdded").node == node.address


def test_add_compute_node_expired(hub, steps, registered, node):
    deadline = boa.env.timestamp + 60
    signature = steps.attest(registered, node, deadline=deadline)
    boa.env.time_travel(seconds=61)
    with boa.reverts("InjectiveAiHub: attestation expired"):
        hub.addComputeNode(node.address, SPECS, NODE_UNITS, signature, deadline, sender=registered)


def test_add_compute_node_not_registered(hub, steps, attacker, node):
    with boa.reverts("InjectiveAiHub: provider not registered"):
        hub.addComputeNode(node.address, SPECS, NODE_UNITS, steps.attest(attacker, node), sender=attacker)


def test_add_compute_node_stake_too_low(hub, steps, registered, node):
    units = STAKE // MIN_STAKE  # needs (units + 1) * MIN_STAKE > STAKE
    with boa.reverts("InjectiveAiHub: stake below minimum"):
        hub.addComputeNode(node.address, SPECS, units, steps.attest(registered, node, units), sender=registered)


def test_add_compute_node_at_exact_stake(hub, registry, steps, registered, node):
    units = STAKE // MIN_STAKE - 1
    steps.add_node(registered, node, units)
    assert registry.getNode(node.address).computeUnits == units


def test_add_compute_node_zero_units(hub, steps, registered, node):
    with boa.reverts("ComputeRegistry: compute units must be positive"):
        hub.addComputeNode(node.address, SPECS, 0, steps.attest(registered, node, 0), sender=registered)


def test_add_compute_node_zero_key(hub, registered):
    with boa.reverts("ComputeRegistry: zero node key"):
        hub.addComputeNode("0x" + "00" * 20, SPECS, 1, b"\x00" * 65, sender=registered)


def test_add_compute_node_key_taken(hub, steps, added_node, other_provider):
    hub.registerProvider(sender=other_provider, value=STAKE)
    with boa.reverts("ComputeRegistry: node key already registered"):
        hub.addComputeNode(
            added_node.address, SPECS, NODE_UNITS, steps.attest(other_provider, added_node), sender=other_provider
        )


def test_add_compute_node_blacklisted_provider(hub, steps, registered, validator, node):
    hub.blacklistProvider(registered, [], sender=validator)
    with boa.reverts("ComputeRegistry: provider is blacklisted"):
        steps.add_node(registered, node)


def test_add_compute_node_signed_by_other_key(hub, steps, registered, node, other_node):
    data = sig.node_attestation(steps.chain_id, hub.address, registered, node.address, NODE_UNITS, SPECS, 0)
    signature = sig.sign(other_node, data)
    with boa.reverts("InjectiveAiHub: attestation not signed by the node key"):
        hub.addComputeNode(node.address, SPECS, NODE_UNITS, signature, sender=registered)


@pytest.mark.parametrize("field", ["provider", "units", "specs", "nonce"])
def test_add_compute_node_signature_commits_to_every_field(hub, steps, registered, other_provider, node, field):
    kwargs = {"provider": registered, "units": NODE_UNITS, "specs": SPECS, "nonce": 0}
    kwargs[{"provider": "provider", "units": "units", "specs": "specs", "nonce": "nonce"}[field]] = {
        "provider": other_provider,
        "units": NODE_UNITS + 1,
        "specs": SPECS + "x",
        "nonce": 1,
    }[field]
    signature = steps.attest(kwargs["provider"], node, kwargs["units"], kwargs["specs"], kwargs["nonce"])
    with boa.reverts("InjectiveAiHub: attestation not signed by the node key"):
        hub.addComputeNode(node.address, SPECS, NODE_UNITS, signature, sender=registered)


# boa's plugin snapshots the chain around every example, so function fixtures are reset in effect
# no deadline: a loaded CI machine must not fail a test that checks values, not time
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=25, deadline=None)
@given(units=st.integers(1, 2**256 - 2))
def test_add_compute_node_stores_units_without_truncation(hub, registry, federator, steps, registered, node, units):
    hub.setStakeMinimum(0, sender=federator)
    steps.add_node(registered, node, units)
    assert registry.getNode(node.address).computeUnits == units
    assert registry.getProvider(registered).totalCompute == units


def test_add_compute_node_max_units_reverts_instead_of_wrapping(hub, federator, steps, registered, node):
    # total + units + 1 overflows: checked addition refuses (the overflow itself, no other revert)
    hub.setStakeMinimum(0, sender=federator)
    with boa.reverts(compiler="safeadd"):
        steps.add_node(registered, node, 2**256 - 1)


# -- removeComputeNode --------------------------------------------------------------------------


def test_remove_compute_node(hub, registry, added_node, provider):
    hub.removeComputeNode(added_node.address, sender=provider)
    e = one_event(hub, "NodeRemoved")
    assert (e.provider, e.node, e.computeUnits) == (provider, added_node.address, NODE_UNITS)
    record = registry.getNode(added_node.address)
    assert (record.provider, record.computeUnits, record.validated) == (boa.eval("empty(address)"), 0, False)
    p = registry.getProvider(provider)
    assert (p.totalCompute, p.nodeCount) == (0, 0)
    assert registry.nodeNonce(added_node.address) == 1  # never resets


def test_remove_compute_node_not_owner(hub, added_node, attacker):
    with boa.reverts("InjectiveAiHub: not the node's provider"):
        hub.removeComputeNode(added_node.address, sender=attacker)


def test_remove_compute_node_unknown(hub, registered, node):
    with boa.reverts("InjectiveAiHub: not the node's provider"):
        hub.removeComputeNode(node.address, sender=registered)


def test_removed_node_old_attestation_cannot_be_replayed(hub, steps, registered, node):
    signature = steps.attest(registered, node)
    hub.addComputeNode(node.address, SPECS, NODE_UNITS, signature, sender=registered)
    hub.removeComputeNode(node.address, sender=registered)
    with boa.reverts("InjectiveAiHub: attestation not signed by the node key"):
        hub.addComputeNode(node.address, SPECS, NODE_UNITS, signature, sender=registered)
    steps.add_node(registered, node)  # a fresh attestation over nonce 1 works
    assert one_event(hub, "NodeAdded").nonce == 1


# -- validateNode / invalidateNode --------------------------------------------------------------


def test_validate_node(hub, registry, added_node, validator, provider):
    hub.validateNode(added_node.address, sender=validator)
    e = one_event(hub, "NodeValidationChanged")
    assert (e.provider, e.node, e.validated) == (provider, added_node.address, True)
    assert registry.getNode(added_node.address).validated


def test_validate_node_twice(hub, added_node, validator):
    hub.validateNode(added_node.address, sender=validator)
    with boa.reverts("ComputeRegistry: node already validated"):
        hub.validateNode(added_node.address, sender=validator)


def test_validate_unknown_node(hub, validator, node):
    with boa.reverts("ComputeRegistry: node not registered"):
        hub.validateNode(node.address, sender=validator)


def test_validate_node_only_validator(hub, added_node, federator):
    with boa.reverts("AccessControl: missing role"):
        hub.validateNode(added_node.address, sender=federator)


def test_invalidate_node(hub, registry, validated_node, validator, provider):
    hub.invalidateNode(validated_node.address, sender=validator)
    e = one_event(hub, "NodeValidationChanged")
    assert (e.provider, e.node, e.validated) == (provider, validated_node.address, False)
    assert not registry.getNode(validated_node.address).validated


def test_invalidate_node_not_validated(hub, added_node, validator):
    with boa.reverts("ComputeRegistry: node not validated"):
        hub.invalidateNode(added_node.address, sender=validator)


def test_invalidate_node_only_validator(hub, validated_node, attacker):
    with boa.reverts("AccessControl: missing role"):
        hub.invalidateNode(validated_node.address, sender=attacker)


def test_invalidate_node_releases_it_from_its_pool(hub, pool, member, active_pool, validator):
    hub.invalidateNode(member.address, sender=validator)
    e = one_event(hub, "NodeLeft")
    assert (e.poolId, e.node, e.reason) == (active_pool, member.address, "released")
    assert pool.activePoolOf(member.address) == 0
    assert pool.getPool(active_pool).totalCompute == 0
