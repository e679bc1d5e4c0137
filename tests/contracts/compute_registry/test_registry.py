"""ComputeRegistry accepts writes from the hub only; what it reports about nodes."""

import boa
import pytest

from tests.utils.deployers import REGISTRY_DEPLOYER


@pytest.mark.parametrize(
    "call",
    [
        lambda r, a: r.registerProvider(a, sender=a),
        lambda r, a: r.deregisterProvider(a, sender=a),
        lambda r, a: r.whitelistProvider(a, sender=a),
        lambda r, a: r.blacklistProvider(a, sender=a),
        lambda r, a: r.addNode(a, a, 1, "", sender=a),
        lambda r, a: r.removeNode(a, sender=a),
        lambda r, a: r.setNodeValidated(a, True, sender=a),
    ],
    ids=["register", "deregister", "whitelist", "blacklist", "addNode", "removeNode", "setNodeValidated"],
)
def test_registry_is_hub_only(registry, attacker, call):
    with boa.reverts("ComputeRegistry: caller is not the hub"):
        call(registry, attacker)


def test_zero_hub_refused(admin):
    with boa.env.prank(admin):
        with boa.reverts("ComputeRegistry: zero hub"):
            REGISTRY_DEPLOYER.deploy("0x" + "00" * 20)


def test_node_work_info(registry, added_node, provider, hub, validator):
    assert registry.nodeWorkInfo(added_node.address) == (provider, 10, False, 10)
    hub.blacklistProvider(provider, [], sender=validator)
    assert registry.nodeWorkInfo(added_node.address) == (provider, 10, True, 10)
