"""Governance's constructor, and the hand-over of SPEC 12.1: after it no key can change a parameter."""

import boa
import pytest

from hub.contracts import INJ
from tests.contracts.governance.conftest import (
    GUARDIAN_PERIOD,
    QUORUM_BPS,
    THRESHOLD,
    TIMELOCK_DELAY,
    VOTING_DELAY,
    VOTING_PERIOD,
)
from tests.utils.scenario import ADMIN_ROLE, FEDERATOR_ROLE, UNBONDING, VALIDATOR_ROLE


def test_constructor_records_everything(governance, system, guardian):
    assert governance.HUB() == system.hub.address
    assert governance.STAKE_MANAGER() == system.stake.address
    assert governance.UNBONDING_PERIOD() == UNBONDING
    assert governance.GUARDIAN() == guardian
    assert governance.GUARDIAN_UNTIL() > 0
    assert (
        governance.votingDelay(),
        governance.votingPeriod(),
        governance.timelockDelay(),
        governance.quorumBps(),
        governance.proposalThreshold(),
    ) == (VOTING_DELAY, VOTING_PERIOD, TIMELOCK_DELAY, QUORUM_BPS, THRESHOLD)
    assert governance.proposalCount() == 0


def _deploy(governance_deployer, system, **overrides):
    args = dict(
        hub=system.hub.address,
        stake=system.stake.address,
        delay=VOTING_DELAY,
        period=VOTING_PERIOD,
        timelock=TIMELOCK_DELAY,
        quorum=QUORUM_BPS,
        threshold=THRESHOLD,
        guardian=boa.env.generate_address("g"),
        guardian_period=GUARDIAN_PERIOD,
    )
    args.update(overrides)
    return governance_deployer.deploy(*args.values())


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"hub": "0x" + "00" * 20}, "Governance: zero address"),
        ({"period": 0}, "Governance: voting period must be positive and shorter than the unbonding period"),
        ({"period": UNBONDING}, "Governance: voting period must be positive and shorter than the unbonding period"),
        ({"delay": 30 * 86400 + 1}, "Governance: voting delay above MAX_DELAY"),
        ({"timelock": 0}, "Governance: timelock delay must be 1..MAX_DELAY"),
        ({"timelock": 30 * 86400 + 1}, "Governance: timelock delay must be 1..MAX_DELAY"),
        ({"quorum": 0}, "Governance: quorum must be 1..10000 basis points"),
        ({"quorum": 10_001}, "Governance: quorum must be 1..10000 basis points"),
    ],
)
def test_constructor_bounds(governance_deployer, system, overrides, reason):
    with boa.reverts(reason):
        _deploy(governance_deployer, system, **overrides)


def test_constructor_refuses_a_stake_manager_of_another_hub(governance_deployer, system, admin, federator, validator):
    from tests.utils.deployers import deploy_system

    other = deploy_system(admin, federator, validator)
    with boa.reverts("Governance: stake manager belongs to another hub"):
        _deploy(governance_deployer, system, stake=other.stake.address)


def test_no_guardian_means_no_guardian_period(governance_deployer, system):
    gov = _deploy(governance_deployer, system, guardian="0x" + "00" * 20)
    assert gov.GUARDIAN_UNTIL() == 0


def test_after_handover_no_key_holds_admin_or_federator(governance, hub, admin, federator):
    assert hub.hasRole(ADMIN_ROLE, governance.address)
    assert hub.hasRole(FEDERATOR_ROLE, governance.address)
    assert not hub.hasRole(ADMIN_ROLE, admin)
    assert not hub.hasRole(FEDERATOR_ROLE, federator)


def test_after_handover_no_key_changes_a_parameter(governance, hub, admin, federator, attacker):
    for who in (admin, federator, attacker):
        with boa.reverts("AccessControl: missing role"):
            hub.setStakeMinimum(2 * INJ, sender=who)
        with boa.reverts("AccessControl: missing role"):
            hub.setTreasury(who, sender=who)
        with boa.reverts("AccessControl: missing role"):
            hub.grantRole(VALIDATOR_ROLE, who, sender=who)
    with boa.reverts("Governance: only an executed proposal may change parameters"):
        governance.setParameters(0, 1, 1, 1, 0, sender=admin)


def test_runtime_under_eip170(governance):
    assert 0 < len(boa.env.get_code(governance.address)) <= 24_576
