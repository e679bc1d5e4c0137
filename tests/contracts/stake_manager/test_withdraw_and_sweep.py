"""StakeManager: withdraw, sweepSlashed, views, and the hub-only entry points."""

import boa
import pytest

from hub.contracts import INJ
from tests.utils.deployers import STAKE_DEPLOYER
from tests.utils.scenario import STAKE, UNBONDING, one_event


def test_withdraw_after_unbonding(hub, stake_manager, registered):
    hub.reclaimStake(10 * INJ, sender=registered)
    boa.env.time_travel(seconds=UNBONDING)
    before = boa.env.get_balance(registered)
    assert stake_manager.withdrawableOf(registered) == 10 * INJ
    paid = stake_manager.withdraw(sender=registered)
    assert paid == 10 * INJ
    e = one_event(stake_manager, "Withdrawn")
    assert (e.account, e.amount) == (registered, 10 * INJ)
    assert boa.env.get_balance(registered) == before + 10 * INJ
    assert stake_manager.pendingUnbonds(registered) == []
    assert stake_manager.unbondingOf(registered) == 0
    assert boa.env.get_balance(stake_manager.address) == STAKE - 10 * INJ


def test_withdraw_one_second_early(hub, stake_manager, registered):
    hub.reclaimStake(10 * INJ, sender=registered)
    boa.env.time_travel(seconds=UNBONDING - 1)
    with boa.reverts("StakeManager: nothing matured to withdraw"):
        stake_manager.withdraw(sender=registered)


def test_withdraw_pays_only_matured_entries(hub, stake_manager, registered):
    hub.reclaimStake(3 * INJ, sender=registered)
    boa.env.time_travel(seconds=UNBONDING // 2)
    hub.reclaimStake(4 * INJ, sender=registered)
    second_maturity = boa.env.timestamp + UNBONDING
    boa.env.time_travel(seconds=UNBONDING // 2)
    assert stake_manager.withdraw(sender=registered) == 3 * INJ
    assert stake_manager.pendingUnbonds(registered) == [[4 * INJ, second_maturity]]
    boa.env.time_travel(seconds=UNBONDING)
    assert stake_manager.withdraw(sender=registered) == 4 * INJ


def test_withdraw_nothing(stake_manager, attacker):
    with boa.reverts("StakeManager: nothing matured to withdraw"):
        stake_manager.withdraw(sender=attacker)


def test_withdraw_full_queue_then_reuse(hub, stake_manager, registered):
    cap = stake_manager.MAX_PENDING_UNBONDS()
    for _ in range(cap):
        hub.reclaimStake(INJ, sender=registered)
        boa.env.time_travel(seconds=1)
    boa.env.time_travel(seconds=UNBONDING)
    assert stake_manager.withdraw(sender=registered) == cap * INJ
    hub.reclaimStake(INJ, sender=registered)  # the queue is usable again
    assert len(stake_manager.pendingUnbonds(registered)) == 1


def test_sweep_slashed_pays_the_current_treasury(hub, stake_manager, registered, validator, admin, attacker, federator):
    hub.setStakeMinimum(5 * INJ, sender=federator)  # the per-incident cap of a provider with no nodes
    hub.slash(registered, 5 * INJ, "fraud", sender=validator)
    new_treasury = boa.env.generate_address("new_treasury")
    hub.setTreasury(new_treasury, sender=admin)
    assert stake_manager.sweepSlashed(sender=attacker) == 5 * INJ
    e = one_event(stake_manager, "SlashedSwept")
    assert (e.treasury, e.amount) == (new_treasury, 5 * INJ)
    assert boa.env.get_balance(new_treasury) == 5 * INJ
    assert stake_manager.slashedPending() == 0
    assert boa.env.get_balance(attacker) == 10**6 * INJ  # the caller gets nothing


def test_sweep_nothing(stake_manager, attacker):
    with boa.reverts("StakeManager: nothing to sweep"):
        stake_manager.sweepSlashed(sender=attacker)


@pytest.mark.parametrize(
    "call",
    [
        lambda s, a: s.stake(a, value=1, sender=a),
        lambda s, a: s.unbond(a, 1, sender=a),
        lambda s, a: s.rebond(a, 1, sender=a),
    ],
    ids=["stake", "unbond", "rebond"],
)
def test_hub_only_entry_points(stake_manager, attacker, call):
    with boa.reverts("StakeManager: caller is not the hub"):
        call(stake_manager, attacker)


def test_slash_only_hub_or_pool(stake_manager, attacker, registered):
    with boa.reverts("StakeManager: caller not allowed"):
        stake_manager.slash(registered, INJ, attacker, "x", sender=attacker)


def test_constructor_checks(admin):
    with boa.env.prank(admin):
        with boa.reverts("StakeManager: zero hub"):
            STAKE_DEPLOYER.deploy("0x" + "00" * 20, 1)
        with boa.reverts("StakeManager: zero unbonding period"):
            STAKE_DEPLOYER.deploy(admin, 0)
        assert STAKE_DEPLOYER.deploy(admin, 7).UNBONDING_PERIOD() == 7
