"""Governance.castVote: weight is active stake, once per voter, only while ACTIVE (SPEC 12.3)."""

import boa
import pytest

from hub.contracts import INJ
from tests.contracts.governance.conftest import ABSTAIN, AGAINST, FOR, VOTING_PERIOD
from tests.utils.scenario import STAKE, one_event


def test_cast_vote_counts_active_stake(governance, stake_manager, active, voters):
    end = governance.getProposal(active).voteEnd
    assert governance.castVote(active, FOR, sender=voters[0]) == STAKE
    e = one_event(governance, "VoteCast")
    assert (e.voter, e.proposalId, e.support, e.weight) == (voters[0], active, FOR, STAKE)
    assert one_event(governance, "VoteLocked").until == end  # logged by the StakeManager in the same call
    assert governance.voteOf(active, voters[0]) == (FOR, STAKE)
    assert stake_manager.voteLockedUntil(voters[0]) == end
    governance.castVote(active, AGAINST, sender=voters[1])
    p = governance.getProposal(active)
    assert (p.forVotes, p.againstVotes, p.abstainVotes) == (STAKE, 2 * STAKE, 0)


def test_abstain_is_tallied_apart(governance, active, voters):
    governance.castVote(active, ABSTAIN, sender=voters[0])
    p = governance.getProposal(active)
    assert (p.forVotes, p.againstVotes, p.abstainVotes) == (0, 0, STAKE)
    assert governance.voteOf(active, voters[0]) == (ABSTAIN, STAKE)


def test_no_vote_reads_zero(governance, active, attacker):
    assert governance.voteOf(active, attacker) == (0, 0)


def test_cast_vote_once(governance, active, voters):
    governance.castVote(active, FOR, sender=voters[0])
    with boa.reverts("Governance: already voted"):
        governance.castVote(active, AGAINST, sender=voters[0])


def test_cast_vote_support_range(governance, active, voters):
    with boa.reverts("Governance: support must be 0 (against), 1 (for) or 2 (abstain)"):
        governance.castVote(active, 3, sender=voters[0])


def test_cast_vote_needs_active_stake(governance, active, attacker):
    with boa.reverts("Governance: no active stake to vote with"):
        governance.castVote(active, FOR, sender=attacker)


def test_unbonding_stake_does_not_vote(governance, hub, proposal, voters):
    hub.reclaimStake(10 * INJ, sender=voters[0])
    boa.env.time_travel(seconds=10)
    assert governance.castVote(proposal, FOR, sender=voters[0]) == STAKE - 10 * INJ


def test_cast_vote_before_start_and_after_end(governance, proposal, voters):
    with boa.reverts("Governance: voting is not open"):
        governance.castVote(proposal, FOR, sender=voters[0])
    boa.env.time_travel(seconds=10 + VOTING_PERIOD)
    with boa.reverts("Governance: voting is not open"):
        governance.castVote(proposal, FOR, sender=voters[0])


def test_cast_vote_unknown_proposal(governance, voters):
    for pid in (0, 1):
        with boa.reverts("Governance: unknown proposal"):
            governance.castVote(pid, FOR, sender=voters[0])


def test_stake_added_after_a_vote_does_not_add_to_it(governance, hub, active, voters):
    governance.castVote(active, FOR, sender=voters[0])
    hub.increaseStake(sender=voters[0], value=STAKE)
    assert governance.getProposal(active).forVotes == STAKE


def test_withdrawn_stake_restaked_from_another_account_votes_once(
    governance, hub, stake_manager, active, voters, attacker
):
    # the voter's stake is locked until the end: it can neither unbond nor reach another account in time
    governance.castVote(active, FOR, sender=voters[0])
    with boa.reverts("StakeManager: stake locked by a vote until it ends"):
        hub.reclaimStake(INJ, sender=voters[0])
    with boa.reverts("Governance: no active stake to vote with"):
        governance.castVote(active, FOR, sender=attacker)


@pytest.mark.parametrize("support", [AGAINST, FOR, ABSTAIN])
def test_weight_is_stake_at_the_vote(governance, active, voters, support):
    assert governance.castVote(active, support, sender=voters[1]) == 2 * STAKE
