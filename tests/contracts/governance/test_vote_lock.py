"""StakeManager.setGovernance, lockForVote and the unbond check (SPEC 12.3)."""

import boa
import pytest

from tests.contracts.governance.conftest import ACTIVE, FOR, VOTING_DELAY, set_stake_minimum
from tests.utils.deployers import deploy_system
from tests.utils.scenario import UNBONDING, one_event


def test_set_governance_recorded(governance, stake_manager):
    assert stake_manager.governance() == governance.address


def test_set_governance_once(governance, stake_manager):
    # the hub admin is now governance itself; even it cannot set another
    with boa.env.prank(governance.address):
        with boa.reverts("StakeManager: governance already set"):
            stake_manager.setGovernance(governance.address)


@pytest.fixture
def bare(admin, federator, validator):
    """A system whose admin has not handed anything to governance yet."""
    return deploy_system(admin, federator, validator)


def test_set_governance_admin_only(bare, attacker):
    with boa.reverts("StakeManager: caller is not the hub admin"):
        bare.stake.setGovernance(bare.pool.address, sender=attacker)


def test_set_governance_needs_a_contract(bare, admin, attacker):
    with boa.reverts("StakeManager: governance is not a contract"):
        bare.stake.setGovernance(attacker, sender=admin)


def test_set_governance_event(bare, admin):
    bare.stake.setGovernance(bare.pool.address, sender=admin)
    assert one_event(bare.stake, "GovernanceSet").governance == bare.pool.address
    assert bare.stake.governance() == bare.pool.address


def test_lock_for_vote_governance_only(governance, stake_manager, attacker):
    with boa.reverts("StakeManager: caller is not governance"):
        stake_manager.lockForVote(attacker, boa.env.evm.patch.timestamp + 1, sender=attacker)


def test_lock_never_beyond_the_unbonding_period(governance, stake_manager, attacker):
    now = boa.env.evm.patch.timestamp
    with boa.env.prank(governance.address):
        with boa.reverts("StakeManager: vote lock beyond the unbonding period"):
            stake_manager.lockForVote(attacker, now + UNBONDING + 1)
        stake_manager.lockForVote(attacker, now + UNBONDING)
    assert stake_manager.voteLockedUntil(attacker) == now + UNBONDING


def test_lock_only_extends(governance, stake_manager, attacker):
    now = boa.env.evm.patch.timestamp
    with boa.env.prank(governance.address):
        stake_manager.lockForVote(attacker, now + 50)
        assert one_event(stake_manager, "VoteLocked").until == now + 50
        stake_manager.lockForVote(attacker, now + 20)
    assert stake_manager.voteLockedUntil(attacker) == now + 50


def test_voting_locks_unbonding_until_the_vote_ends(governance, hub, active, voters):
    provider = voters[0]
    governance.castVote(active, FOR, sender=provider)
    end = governance.getProposal(active).voteEnd
    with boa.reverts("StakeManager: stake locked by a vote until it ends"):
        hub.reclaimStake(1, sender=provider)
    with boa.reverts("StakeManager: stake locked by a vote until it ends"):
        hub.deregisterProvider(sender=provider)
    boa.env.time_travel(seconds=end - boa.env.evm.patch.timestamp)
    hub.reclaimStake(1, sender=provider)


def test_vote_lock_leaves_withdraw_alone(governance, hub, stake_manager, voters):
    # an exit already under way is never held up by a vote (SPEC 12.3, exits)
    provider = voters[0]
    hub.reclaimStake(10**18, sender=provider)
    boa.env.time_travel(seconds=UNBONDING - 100)
    pid = governance.propose([set_stake_minimum(hub, 1)], "", sender=provider)
    boa.env.time_travel(seconds=VOTING_DELAY)
    governance.castVote(pid, FOR, sender=provider)
    boa.env.time_travel(seconds=90)
    assert governance.state(pid) == ACTIVE
    with boa.reverts("StakeManager: stake locked by a vote until it ends"):
        hub.reclaimStake(1, sender=provider)
    assert stake_manager.withdraw(sender=provider) == 10**18
