"""Fixtures of the governance tests: the system of tests/contracts/conftest.py with its powers
handed to a Governance contract the way `hub deploy --governance` hands them over (SPEC 12.1),
two providers with stake to vote with, and helpers that encode allow-listed calls."""

from __future__ import annotations

import boa
import pytest
from eth_abi import encode
from eth_utils import function_signature_to_4byte_selector as selector

from hub.contracts import CONTRACTS_DIR, INJ
from tests.utils.scenario import ADMIN_ROLE, FEDERATOR_ROLE, STAKE

VOTING_DELAY = 10
VOTING_PERIOD = 500  # shorter than the test system's 1,000 s unbonding period (SPEC 12.4)
TIMELOCK_DELAY = 100
QUORUM_BPS = 2_000
THRESHOLD = 5 * INJ
GUARDIAN_PERIOD = 5_000

AGAINST, FOR, ABSTAIN = 0, 1, 2
PENDING, ACTIVE, CANCELED, DEFEATED, SUCCEEDED, QUEUED, EXPIRED, EXECUTED = range(8)


def encode_call(target: str, signature: str, types: list[str], args: list) -> tuple[str, bytes]:
    """An IGovernance.Call tuple: (target, selector + ABI-encoded arguments)."""
    return (target, selector(signature) + encode(types, args))


def set_stake_minimum(hub, amount: int) -> tuple[str, bytes]:
    return encode_call(hub.address, "setStakeMinimum(uint256)", ["uint256"], [amount])


def role_call(hub, verb: str, role: bytes, account: str) -> tuple[str, bytes]:
    return encode_call(hub.address, f"{verb}(bytes32,address)", ["bytes32", "address"], [role, account])


def set_parameters(gov, *values: int) -> tuple[str, bytes]:
    return encode_call(
        gov.address, "setParameters(uint256,uint256,uint256,uint256,uint256)", ["uint256"] * 5, list(values)
    )


@pytest.fixture(scope="module")
def governance_deployer():
    from boa.interpret import set_search_paths

    previous = boa.interpret._search_path
    set_search_paths([str(CONTRACTS_DIR)])
    try:
        return boa.load_partial(str(CONTRACTS_DIR / "governance" / "Governance.vy"))
    finally:
        set_search_paths(previous)


@pytest.fixture(scope="module")
def guardian():
    address = boa.env.generate_address("guardian")
    boa.env.set_balance(address, 10 * INJ)
    return address


@pytest.fixture(scope="module")
def governance(governance_deployer, system, admin, federator, guardian):
    """Deployed and holding the hub's admin and federator roles; no key holds either."""
    with boa.env.prank(admin):
        gov = governance_deployer.deploy(
            system.hub.address,
            system.stake.address,
            VOTING_DELAY,
            VOTING_PERIOD,
            TIMELOCK_DELAY,
            QUORUM_BPS,
            THRESHOLD,
            guardian,
            GUARDIAN_PERIOD,
        )
        system.stake.setGovernance(gov.address)
        system.hub.grantRole(ADMIN_ROLE, gov.address)
        system.hub.grantRole(FEDERATOR_ROLE, gov.address)
        system.hub.revokeRole(FEDERATOR_ROLE, federator)
        system.hub.renounceRole(ADMIN_ROLE, admin)
    return gov


@pytest.fixture(scope="module")
def voters(hub, provider, other_provider, governance):
    """Two registered providers: `provider` with STAKE, `other_provider` with 2 x STAKE."""
    hub.registerProvider(sender=provider, value=STAKE)
    hub.registerProvider(sender=other_provider, value=2 * STAKE)
    return provider, other_provider


@pytest.fixture
def proposal(governance, hub, voters):
    """A pending proposal by `provider` to set the stake minimum to 3 INJ."""
    return governance.propose([set_stake_minimum(hub, 3 * INJ)], "stake minimum 3 INJ", sender=voters[0])


@pytest.fixture
def active(governance, proposal):
    boa.env.time_travel(seconds=VOTING_DELAY)
    assert governance.state(proposal) == ACTIVE
    return proposal


@pytest.fixture
def succeeded(governance, active, voters):
    governance.castVote(active, FOR, sender=voters[1])
    boa.env.time_travel(seconds=VOTING_PERIOD)
    assert governance.state(active) == SUCCEEDED
    return active


@pytest.fixture
def queued(governance, succeeded, attacker):
    governance.queue(succeeded, sender=attacker)
    return succeeded
