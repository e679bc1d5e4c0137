"""Governance.cancel: the proposer before voting, the guardian while queued and until its deadline."""

import boa

from tests.contracts.governance.conftest import CANCELED, GUARDIAN_PERIOD, TIMELOCK_DELAY
from tests.utils.scenario import one_event


def test_proposer_cancels_while_pending(governance, proposal, voters):
    governance.cancel(proposal, sender=voters[0])
    e = one_event(governance, "ProposalCanceled")
    assert (e.proposalId, e.canceller) == (proposal, voters[0])
    assert governance.state(proposal) == CANCELED
    assert governance.getProposal(proposal).canceled


def test_proposer_cannot_cancel_once_voting_started(governance, active, voters):
    with boa.reverts("Governance: only the proposer before voting or the guardian while queued may cancel"):
        governance.cancel(active, sender=voters[0])


def test_nobody_else_cancels(governance, proposal, attacker, voters):
    for who in (attacker, voters[1]):
        with boa.reverts("Governance: only the proposer before voting or the guardian while queued may cancel"):
            governance.cancel(proposal, sender=who)


def test_guardian_cancels_queued(governance, queued, guardian):
    governance.cancel(queued, sender=guardian)
    assert governance.state(queued) == CANCELED
    boa.env.time_travel(seconds=TIMELOCK_DELAY)
    with boa.reverts("Governance: proposal is not queued"):
        governance.execute(queued)


def test_guardian_only_queued(governance, proposal, active, guardian):
    with boa.reverts("Governance: the guardian may cancel only queued proposals"):
        governance.cancel(active, sender=guardian)


def test_guardian_deadline(governance, succeeded, guardian):
    boa.env.time_travel(seconds=GUARDIAN_PERIOD)
    governance.queue(succeeded)
    with boa.reverts("Governance: the guardian's cancel period is over"):
        governance.cancel(succeeded, sender=guardian)


def test_cancel_unknown(governance, guardian):
    with boa.reverts("Governance: unknown proposal"):
        governance.cancel(7, sender=guardian)


def test_canceled_cannot_be_voted(governance, proposal, voters):
    governance.cancel(proposal, sender=voters[0])
    boa.env.time_travel(seconds=10)
    with boa.reverts("Governance: voting is not open"):
        governance.castVote(proposal, 1, sender=voters[1])
