"""Role grant, revoke and renounce, for every role; modules read roles live (regression 5)."""

import boa
import pytest

from tests.utils.scenario import ADMIN_ROLE, FEDERATOR_ROLE, VALIDATOR_ROLE, one_event

ROLES = {"admin": ADMIN_ROLE, "federator": FEDERATOR_ROLE, "validator": VALIDATOR_ROLE}


@pytest.mark.parametrize("role", ROLES.values(), ids=ROLES.keys())
def test_grant_role(hub, admin, attacker, role):
    hub.grantRole(role, attacker, sender=admin)
    e = one_event(hub, "RoleGranted")
    assert (e.role, e.account, e.sender) == (role, attacker, admin)
    assert hub.hasRole(role, attacker)


@pytest.mark.parametrize("role", ROLES.values(), ids=ROLES.keys())
def test_revoke_role(hub, admin, attacker, role):
    hub.grantRole(role, attacker, sender=admin)
    hub.revokeRole(role, attacker, sender=admin)
    e = one_event(hub, "RoleRevoked")
    assert (e.role, e.account, e.sender) == (role, attacker, admin)
    assert not hub.hasRole(role, attacker)


@pytest.mark.parametrize("role", ROLES.values(), ids=ROLES.keys())
def test_renounce_role(hub, admin, attacker, role):
    hub.grantRole(role, attacker, sender=admin)
    hub.renounceRole(role, attacker, sender=attacker)
    e = one_event(hub, "RoleRevoked")
    assert (e.account, e.sender) == (attacker, attacker)
    assert not hub.hasRole(role, attacker)


def test_grant_role_only_admin(hub, federator, attacker):
    with boa.reverts("AccessControl: missing role"):
        hub.grantRole(VALIDATOR_ROLE, attacker, sender=federator)


def test_grant_role_refuses_zero_account(hub, admin):
    with boa.reverts("AccessControl: zero account"):
        hub.grantRole(VALIDATOR_ROLE, "0x" + "00" * 20, sender=admin)


def test_grant_role_twice_refused(hub, admin, validator):
    with boa.reverts("AccessControl: role already granted"):
        hub.grantRole(VALIDATOR_ROLE, validator, sender=admin)


def test_revoke_role_only_admin(hub, validator, federator):
    with boa.reverts("AccessControl: missing role"):
        hub.revokeRole(VALIDATOR_ROLE, validator, sender=federator)


def test_revoke_role_not_held(hub, admin, attacker):
    with boa.reverts("AccessControl: role not held"):
        hub.revokeRole(VALIDATOR_ROLE, attacker, sender=admin)


def test_renounce_only_for_self(hub, validator, attacker):
    with boa.reverts("AccessControl: can only renounce for self"):
        hub.renounceRole(VALIDATOR_ROLE, validator, sender=attacker)


def test_admin_can_renounce_and_lose_power(hub, admin, attacker):
    hub.renounceRole(ADMIN_ROLE, admin, sender=admin)
    with boa.reverts("AccessControl: missing role"):
        hub.grantRole(VALIDATOR_ROLE, attacker, sender=admin)
