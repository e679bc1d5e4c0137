"""Governance.recount: slashed stake does not vote (SPEC 12.3)."""

import boa

from hub.contracts import INJ
from tests.contracts.governance.conftest import AGAINST, FOR, VOTING_PERIOD
from tests.utils.scenario import STAKE, one_event


def test_recount_after_a_slash(governance, hub, active, voters, validator, attacker):
    governance.castVote(active, FOR, sender=voters[0])
    slashed = hub.slash(voters[0], 7 * INJ, "misbehaviour", sender=validator)
    assert governance.recount(active, voters[0], sender=attacker) == STAKE - slashed
    e = one_event(governance, "VoteRecounted")
    assert (e.voter, e.proposalId, e.previousWeight, e.weight) == (voters[0], active, STAKE, STAKE - slashed)
    assert governance.getProposal(active).forVotes == STAKE - slashed
    assert governance.voteOf(active, voters[0]) == (FOR, STAKE - slashed)


def test_recount_against_side(governance, hub, active, voters, validator):
    governance.castVote(active, AGAINST, sender=voters[1])
    hub.slash(voters[1], INJ, "x", sender=validator)
    governance.recount(active, voters[1])
    assert governance.getProposal(active).againstVotes == 2 * STAKE - INJ


def test_recount_refused_while_backed(governance, hub, active, voters, validator):
    governance.castVote(active, FOR, sender=voters[0])
    with boa.reverts("Governance: the vote is still backed by active stake"):
        governance.recount(active, voters[0])
    # a slash made good by new stake leaves the vote backed
    hub.slash(voters[0], INJ, "x", sender=validator)
    hub.increaseStake(sender=voters[0], value=INJ)
    with boa.reverts("Governance: the vote is still backed by active stake"):
        governance.recount(active, voters[0])


def test_recount_needs_a_vote(governance, active, voters):
    with boa.reverts("Governance: no vote to recount"):
        governance.recount(active, voters[0])


def test_recount_only_while_voting(governance, hub, active, voters, validator):
    governance.castVote(active, FOR, sender=voters[0])
    boa.env.time_travel(seconds=VOTING_PERIOD)
    hub.slash(voters[0], INJ, "x", sender=validator)
    with boa.reverts("Governance: voting is not open"):
        governance.recount(active, voters[0])


def test_recount_to_zero_keeps_the_voter_marked(governance, hub, active, voters, validator):
    governance.castVote(active, FOR, sender=voters[0])
    for _ in range(60):
        if hub.previewSlash(voters[0], STAKE) == 0:
            break
        hub.slash(voters[0], STAKE, "x", sender=validator)
    governance.recount(active, voters[0])
    assert governance.getProposal(active).forVotes == 0
    with boa.reverts("Governance: already voted"):
        governance.castVote(active, FOR, sender=voters[0])
