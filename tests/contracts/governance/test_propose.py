"""Governance.propose and the allow-list of SPEC 12.2."""

import boa
import pytest

from hub.contracts import INJ
from tests.contracts.governance.conftest import (
    PENDING,
    QUORUM_BPS,
    THRESHOLD,
    VOTING_DELAY,
    VOTING_PERIOD,
    encode_call,
    role_call,
    set_parameters,
    set_stake_minimum,
)
from tests.utils.scenario import ADMIN_ROLE, FEDERATOR_ROLE, STAKE, VALIDATOR_ROLE, one_event


def test_propose_records_and_logs(governance, hub, voters):
    calls = [set_stake_minimum(hub, 3 * INJ), role_call(hub, "grantRole", VALIDATOR_ROLE, voters[1])]
    now = boa.env.evm.patch.timestamp
    pid = governance.propose(calls, "two changes", sender=voters[0])
    e = one_event(governance, "ProposalCreated")
    custody = 3 * STAKE  # the two voters' stakes
    quorum = -(-custody * QUORUM_BPS // 10_000)
    assert (e.proposalId, e.proposer, e.voteStart, e.voteEnd, e.quorum, e.description) == (
        1,
        voters[0],
        now + VOTING_DELAY,
        now + VOTING_DELAY + VOTING_PERIOD,
        quorum,
        "two changes",
    )
    assert [tuple(c) for c in e.calls] == calls
    assert pid == 1 and governance.proposalCount() == 1
    p = governance.getProposal(pid)
    assert (p.proposer, p.voteStart, p.voteEnd, p.eta, p.quorum) == (
        voters[0],
        now + VOTING_DELAY,
        now + VOTING_DELAY + VOTING_PERIOD,
        0,
        quorum,
    )
    assert (p.forVotes, p.againstVotes, p.abstainVotes, p.queued, p.executed, p.canceled) == (
        0,
        0,
        0,
        False,
        False,
        False,
    )
    assert [tuple(c) for c in governance.getCalls(pid)] == calls
    assert governance.state(pid) == PENDING


def test_quorum_counts_pending_unbonds_but_not_slashed_stake(governance, hub, voters, validator):
    hub.reclaimStake(10 * INJ, sender=voters[1])
    hub.slash(voters[1], INJ, "test", sender=validator)
    pid = governance.propose([set_stake_minimum(hub, 1)], "", sender=voters[0])
    assert governance.getProposal(pid).quorum == -(-(3 * STAKE - INJ) * QUORUM_BPS // 10_000)


def test_propose_needs_a_call(governance, voters):
    with boa.reverts("Governance: a proposal needs at least one call"):
        governance.propose([], "nothing", sender=voters[0])


def test_propose_needs_the_threshold(governance, hub, voters, attacker):
    with boa.reverts("Governance: proposer stake below the threshold"):
        governance.propose([set_stake_minimum(hub, 1)], "", sender=attacker)
    hub.registerProvider(sender=attacker, value=THRESHOLD - 1)
    with boa.reverts("Governance: proposer stake below the threshold"):
        governance.propose([set_stake_minimum(hub, 1)], "", sender=attacker)
    hub.increaseStake(sender=attacker, value=1)
    assert governance.propose([set_stake_minimum(hub, 1)], "", sender=attacker) == 1


def _allowed(governance, call):
    return governance.isAllowed(call)


def test_allow_list_accepts_the_setters(governance, hub, voters, system):
    accepted = [
        set_stake_minimum(hub, 0),
        encode_call(hub.address, "setTreasury(address)", ["address"], [voters[0]]),
        encode_call(
            hub.address,
            "createDomain(string,address,string)",
            ["string", "address", "string"],
            ["n" * 64, system.work_validation.address, "u" * 256],
        ),
        role_call(hub, "grantRole", VALIDATOR_ROLE, voters[0]),
        role_call(hub, "revokeRole", VALIDATOR_ROLE, voters[0]),
        role_call(hub, "grantRole", FEDERATOR_ROLE, voters[0]),
        role_call(hub, "revokeRole", FEDERATOR_ROLE, voters[0]),
        set_parameters(governance, 1, 2, 3, 4, 5),
    ]
    for call in accepted:
        assert _allowed(governance, call), call
    assert governance.propose(accepted, "all of them", sender=voters[0]) == 1


@pytest.mark.parametrize(
    "make",
    [
        # the admin role is never granted or revoked by a proposal
        lambda g, h, s, a: role_call(h, "grantRole", ADMIN_ROLE, a),
        lambda g, h, s, a: role_call(h, "revokeRole", ADMIN_ROLE, g.address),
        # governance keeps its own federator role
        lambda g, h, s, a: role_call(h, "revokeRole", FEDERATOR_ROLE, g.address),
        # an unknown role id
        lambda g, h, s, a: role_call(h, "grantRole", b"\x11" * 32, a),
        # a grant with trailing bytes
        lambda g, h, s, a: (h.address, role_call(h, "grantRole", VALIDATOR_ROLE, a)[1] + b"\x00"),
        # hub functions outside the list
        lambda g, h, s, a: encode_call(
            h.address, "slash(address,uint256,string)", ["address", "uint256", "string"], [a, 1, "x"]
        ),
        lambda g, h, s, a: encode_call(
            h.address, "renounceRole(bytes32,address)", ["bytes32", "address"], [ADMIN_ROLE, g.address]
        ),
        lambda g, h, s, a: encode_call(
            h.address, "setModuleAddresses(address,address,address,address,address)", ["address"] * 5, [a] * 5
        ),
        lambda g, h, s, a: encode_call(h.address, "validateNode(address)", ["address"], [a]),
        # the right selector on another target
        lambda g, h, s, a: encode_call(s.stake.address, "setStakeMinimum(uint256)", ["uint256"], [1]),
        lambda g, h, s, a: encode_call(s.stake.address, "withdraw()", [], []),
        lambda g, h, s, a: encode_call(s.rewards.address, "refund(uint256)", ["uint256"], [1]),
        # governance functions other than setParameters
        lambda g, h, s, a: encode_call(g.address, "cancel(uint256)", ["uint256"], [1]),
        # too short to hold a selector
        lambda g, h, s, a: (h.address, b"\x01\x02\x03"),
        # plain INJ transfer to an account
        lambda g, h, s, a: (a, b""),
    ],
)
def test_allow_list_refuses(governance, hub, system, voters, attacker, make):
    call = make(governance, hub, system, attacker)
    assert not _allowed(governance, call)
    with boa.reverts("Governance: call not on the allow-list"):
        governance.propose([set_stake_minimum(hub, 1), call], "", sender=voters[0])
