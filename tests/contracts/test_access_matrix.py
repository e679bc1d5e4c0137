"""Every privileged function, called by every role that must not call it."""

import boa
import pytest

from hub.contracts import INJ

ZERO = "0x" + "00" * 20

# (name, caller roles allowed, call) -- `who` is the caller, `x` an arbitrary address argument
HUB_CALLS = {
    "setModuleAddresses": ({"admin"}, lambda s, who, x: s.hub.setModuleAddresses(x, x, x, x, x, sender=who)),
    "setTreasury": ({"admin"}, lambda s, who, x: s.hub.setTreasury(x, sender=who)),
    "grantRole": ({"admin"}, lambda s, who, x: s.hub.grantRole(b"\x01" * 32, x, sender=who)),
    "revokeRole": ({"admin"}, lambda s, who, x: s.hub.revokeRole(s.hub.VALIDATOR_ROLE(), x, sender=who)),
    "setStakeMinimum": ({"federator"}, lambda s, who, x: s.hub.setStakeMinimum(1, sender=who)),
    "createDomain": (
        {"federator"},
        lambda s, who, x: s.hub.createDomain("d", s.work_validation.address, "", sender=who),
    ),
    "validateNode": ({"validator"}, lambda s, who, x: s.hub.validateNode(x, sender=who)),
    "invalidateNode": ({"validator"}, lambda s, who, x: s.hub.invalidateNode(x, sender=who)),
    "whitelistProvider": ({"validator"}, lambda s, who, x: s.hub.whitelistProvider(x, sender=who)),
    "blacklistProvider": ({"validator"}, lambda s, who, x: s.hub.blacklistProvider(x, [], sender=who)),
    "slash": ({"validator"}, lambda s, who, x: s.hub.slash(x, INJ, "r", sender=who)),
}
ROLES = ["admin", "federator", "validator", "provider", "pool_creator", "attacker"]


# allowed callers are covered by each function's own happy-path test
HUB_CASES = [(name, role) for name, (allowed, _) in HUB_CALLS.items() for role in ROLES if role not in allowed]


@pytest.fixture
def actors(admin, federator, validator, provider, pool_creator, attacker, pool_manager):
    # requested up front: creating fixtures from inside a test would break boa's snapshot stack
    return {
        "admin": admin,
        "federator": federator,
        "validator": validator,
        "provider": provider,
        "pool_creator": pool_creator,
        "attacker": attacker,
        "pool_manager": pool_manager.address,
    }


@pytest.mark.parametrize("name,role", HUB_CASES)
def test_hub_privileged_calls(system, actors, role, name):
    _, call = HUB_CALLS[name]
    with boa.reverts("AccessControl: missing role"):
        call(system, actors[role], actors["attacker"])


POOL_CALLS = {
    "startComputePool": lambda s, who, p, n: s.pool.startComputePool(p, sender=who),
    "endComputePool": lambda s, who, p, n: s.pool.endComputePool(p, sender=who),
    "setPoolManager": lambda s, who, p, n: s.pool.setPoolManager(p, who, sender=who),
    "ejectNode": lambda s, who, p, n: s.pool.ejectNode(p, n, sender=who),
    "blacklistNode": lambda s, who, p, n: s.pool.blacklistNode(p, n, sender=who),
    "blacklistProvider": lambda s, who, p, n: s.pool.blacklistProvider(p, who, [], sender=who),
    "invalidateWork": lambda s, who, p, n: s.pool.invalidateWork(p, n, b"\x01" * 32, sender=who),
    "hardInvalidateWork": lambda s, who, p, n: s.pool.hardInvalidateWork(p, n, b"\x01" * 32, 0, "", sender=who),
    "topUp": lambda s, who, p, n: s.rewards.topUp(p, sender=who, value=1),
    "refund": lambda s, who, p, n: s.rewards.refund(p, sender=who),
}
POOL_REASONS = {
    "startComputePool": "ComputePool: caller is not the pool creator",
    "endComputePool": "ComputePool: caller is not the pool creator",
    "setPoolManager": "ComputePool: caller is not the pool creator",
    "ejectNode": "ComputePool: caller is not the pool manager",
    "blacklistNode": "ComputePool: caller is not the pool manager",
    "blacklistProvider": "ComputePool: caller is not the pool manager",
    "invalidateWork": "ComputePool: caller is not a validator or the pool manager",
    "hardInvalidateWork": "ComputePool: caller is not a validator",
    "topUp": "RewardsDistributor: caller is not the pool creator",
    "refund": "RewardsDistributor: caller is not the pool creator",
}
# the manager may eject, blacklist and soft-invalidate; only validators hard-invalidate (and soft)
POOL_ALLOWED = {
    "pool_manager": {"ejectNode", "blacklistNode", "blacklistProvider", "invalidateWork"},
    "validator": {"invalidateWork", "hardInvalidateWork"},
}


POOL_CASES = [
    (name, role)
    for name in POOL_CALLS
    for role in ["admin", "federator", "validator", "provider", "pool_manager", "attacker"]
    if name not in POOL_ALLOWED.get(role, set())
]


@pytest.mark.parametrize("name,role", POOL_CASES)
def test_pool_privileged_calls(system, actors, member, active_pool, role, name):
    who = actors[role]
    with boa.reverts(POOL_REASONS[name]):
        POOL_CALLS[name](system, who, active_pool, member.address)
