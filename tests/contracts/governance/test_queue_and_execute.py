"""Governance.queue, execute and the states around them (SPEC 12.1, 12.4)."""

import boa
import pytest

from hub.contracts import INJ
from tests.contracts.governance.conftest import (
    AGAINST,
    DEFEATED,
    EXECUTED,
    EXPIRED,
    FOR,
    QUEUED,
    SUCCEEDED,
    TIMELOCK_DELAY,
    VOTING_DELAY,
    VOTING_PERIOD,
    encode_call,
    role_call,
    set_parameters,
    set_stake_minimum,
)
from tests.utils.scenario import STAKE, VALIDATOR_ROLE, one_event

GRACE = 14 * 86400


def test_queue_sets_the_eta(governance, succeeded, attacker):
    now = boa.env.evm.patch.timestamp
    assert governance.queue(succeeded, sender=attacker) == now + TIMELOCK_DELAY
    e = one_event(governance, "ProposalQueued")
    assert (e.proposalId, e.eta) == (succeeded, now + TIMELOCK_DELAY)
    p = governance.getProposal(succeeded)
    assert (p.queued, p.eta) == (True, now + TIMELOCK_DELAY)
    assert governance.state(succeeded) == QUEUED


def test_queue_only_succeeded(governance, active, voters):
    with boa.reverts("Governance: proposal has not succeeded"):
        governance.queue(active)
    boa.env.time_travel(seconds=VOTING_PERIOD)
    assert governance.state(active) == DEFEATED  # nobody voted
    with boa.reverts("Governance: proposal has not succeeded"):
        governance.queue(active)


def test_queue_twice(governance, queued):
    with boa.reverts("Governance: proposal has not succeeded"):
        governance.queue(queued)


def test_majority_needs_more_for_than_against(governance, active, voters):
    governance.castVote(active, FOR, sender=voters[0])
    governance.castVote(active, AGAINST, sender=voters[0 + 1])
    boa.env.time_travel(seconds=VOTING_PERIOD)
    assert governance.state(active) == DEFEATED


def test_a_tie_is_defeated(governance, hub, active, voters):
    hub.increaseStake(sender=voters[0], value=STAKE)
    governance.castVote(active, FOR, sender=voters[0])
    governance.castVote(active, AGAINST, sender=voters[1])
    boa.env.time_travel(seconds=VOTING_PERIOD)
    assert governance.state(active) == DEFEATED


def test_quorum_counts_for_and_abstain(governance, hub, voters, attacker, federator):
    # quorum: 20% of 160 INJ = 32 INJ; 10 INJ for alone misses it, plus 100 INJ abstaining reaches it
    hub.registerProvider(sender=attacker, value=10 * INJ)
    pid = governance.propose([set_stake_minimum(hub, 1)], "", sender=voters[0])
    assert governance.getProposal(pid).quorum == 32 * INJ
    boa.env.time_travel(seconds=VOTING_DELAY)
    governance.castVote(pid, FOR, sender=attacker)
    boa.env.time_travel(seconds=VOTING_PERIOD)
    assert governance.state(pid) == DEFEATED
    pid = governance.propose([set_stake_minimum(hub, 1)], "", sender=voters[0])
    boa.env.time_travel(seconds=VOTING_DELAY)
    governance.castVote(pid, FOR, sender=attacker)
    governance.castVote(pid, 2, sender=voters[1])
    boa.env.time_travel(seconds=VOTING_PERIOD)
    assert governance.state(pid) == SUCCEEDED


def test_execute_changes_exactly_what_it_said(governance, hub, queued, attacker):
    boa.env.time_travel(seconds=TIMELOCK_DELAY)
    before_treasury = hub.treasury()
    governance.execute(queued, sender=attacker)
    e = one_event(governance, "ProposalExecuted")
    assert (e.proposalId, e.executor) == (queued, attacker)
    assert hub.minStakePerComputeUnit() == 3 * INJ
    assert hub.treasury() == before_treasury
    assert governance.state(queued) == EXECUTED
    assert governance.getProposal(queued).executed


def test_execute_before_the_delay(governance, queued):
    boa.env.time_travel(seconds=TIMELOCK_DELAY - 1)
    with boa.reverts("Governance: timelock delay has not passed"):
        governance.execute(queued)


def test_execute_only_queued(governance, succeeded):
    with boa.reverts("Governance: proposal is not queued"):
        governance.execute(succeeded)


def test_execute_once(governance, queued):
    boa.env.time_travel(seconds=TIMELOCK_DELAY)
    governance.execute(queued)
    with boa.reverts("Governance: proposal is not queued"):
        governance.execute(queued)


def test_expired_after_the_grace_period(governance, queued):
    boa.env.time_travel(seconds=TIMELOCK_DELAY + GRACE)
    assert governance.state(queued) == EXPIRED
    with boa.reverts("Governance: proposal is not queued"):
        governance.execute(queued)


def _pass(governance, calls, voters):
    pid = governance.propose(calls, "", sender=voters[0])
    boa.env.time_travel(seconds=VOTING_DELAY)
    governance.castVote(pid, FOR, sender=voters[1])
    boa.env.time_travel(seconds=VOTING_PERIOD)
    governance.queue(pid)
    boa.env.time_travel(seconds=TIMELOCK_DELAY)
    return pid


def test_a_failing_call_reverts_the_whole_batch_with_its_reason(governance, hub, voters):
    too_high = 10_000 * INJ + 1
    pid = _pass(
        governance, [role_call(hub, "grantRole", VALIDATOR_ROLE, voters[0]), set_stake_minimum(hub, too_high)], voters
    )
    with boa.reverts("InjectiveAiHub: stake minimum above the ceiling"):
        governance.execute(pid)
    assert not hub.hasRole(VALIDATOR_ROLE, voters[0])
    assert governance.state(pid) == QUEUED


def test_batch_grants_roles_and_domain(governance, hub, system, domains, voters):
    calls = [
        role_call(hub, "grantRole", VALIDATOR_ROLE, voters[0]),
        encode_call(
            hub.address,
            "createDomain(string,address,string)",
            ["string", "address", "string"],
            ["voted", system.work_validation.address, "ipfs://voted"],
        ),
        encode_call(hub.address, "setTreasury(address)", ["address"], [voters[1]]),
    ]
    governance.execute(_pass(governance, calls, voters))
    assert hub.hasRole(VALIDATOR_ROLE, voters[0])
    assert hub.treasury() == voters[1]
    assert domains.getDomain(domains.domainCount())[0] == "voted"


def test_governance_changes_its_own_parameters(governance, voters):
    governance.execute(_pass(governance, [set_parameters(governance, 0, 400, 50, 5_000, 0)], voters))
    e = one_event(governance, "ParametersUpdated")
    assert (e.votingDelay, e.votingPeriod, e.timelockDelay, e.quorumBps, e.proposalThreshold) == (0, 400, 50, 5_000, 0)
    assert (
        governance.votingDelay(),
        governance.votingPeriod(),
        governance.timelockDelay(),
        governance.quorumBps(),
        governance.proposalThreshold(),
    ) == (0, 400, 50, 5_000, 0)


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ((0, 1_000, 50, 5_000, 0), "Governance: voting period must be positive and shorter than the unbonding period"),
        ((0, 400, 0, 5_000, 0), "Governance: timelock delay must be 1..MAX_DELAY"),
        ((0, 400, 50, 0, 0), "Governance: quorum must be 1..10000 basis points"),
        ((30 * 86400 + 1, 400, 50, 5_000, 0), "Governance: voting delay above MAX_DELAY"),
    ],
)
def test_own_parameters_keep_their_bounds(governance, voters, values, reason):
    pid = _pass(governance, [set_parameters(governance, *values)], voters)
    with boa.reverts(reason):
        governance.execute(pid)


def test_parameter_change_leaves_open_proposals_alone(governance, hub, voters):
    open_pid = governance.propose([set_stake_minimum(hub, 1)], "", sender=voters[0])
    before = governance.getProposal(open_pid)
    governance.execute(_pass(governance, [set_parameters(governance, 0, 10, 1, 10_000, 0)], voters))
    after = governance.getProposal(open_pid)
    assert (after.voteStart, after.voteEnd, after.quorum) == (before.voteStart, before.voteEnd, before.quorum)
