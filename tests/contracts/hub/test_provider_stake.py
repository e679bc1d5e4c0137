"""registerProvider, increaseStake, reclaimStake, rebondStake, deregisterProvider."""

import boa
import pytest

from aihub_demo.evm_system import deploy_system
from hub.client.hub_contract import UNBOND_SLOT_GAS
from hub.contracts import INJ, SystemParams
from tests.utils.scenario import MIN_STAKE, NODE_UNITS, STAKE, UNBONDING, one_event

# -- registerProvider ---------------------------------------------------------------------------


def test_register_provider(hub, registry, stake_manager, provider):
    before = boa.env.get_balance(provider)
    hub.registerProvider(sender=provider, value=STAKE)
    assert one_event(hub, "ProviderRegistered").provider == provider
    staked = one_event(hub, "Staked")
    assert (staked.account, staked.amount, staked.stake) == (provider, STAKE, STAKE)
    record = registry.getProvider(provider)
    assert (record.registered, record.whitelisted, record.blacklisted, record.totalCompute, record.nodeCount) == (
        True,
        False,
        False,
        0,
        0,
    )
    assert stake_manager.stakeOf(provider) == STAKE
    assert boa.env.get_balance(stake_manager.address) == STAKE
    assert boa.env.get_balance(hub.address) == 0
    assert boa.env.get_balance(provider) == before - STAKE


def test_register_provider_at_exact_minimum(hub, provider, stake_manager):
    hub.registerProvider(sender=provider, value=MIN_STAKE)
    assert stake_manager.stakeOf(provider) == MIN_STAKE


def test_register_provider_below_minimum(hub, provider):
    with boa.reverts("InjectiveAiHub: stake below minimum"):
        hub.registerProvider(sender=provider, value=MIN_STAKE - 1)


def test_register_provider_zero_stake_refused_even_without_minimum(hub, federator, provider):
    hub.setStakeMinimum(0, sender=federator)
    with boa.reverts("InjectiveAiHub: stake below minimum"):
        hub.registerProvider(sender=provider, value=0)


def test_register_provider_twice(hub, registered):
    with boa.reverts("ComputeRegistry: provider already registered"):
        hub.registerProvider(sender=registered, value=STAKE)


def test_register_provider_blacklisted(hub, validator, provider):
    hub.blacklistProvider(provider, [], sender=validator)
    with boa.reverts("ComputeRegistry: provider is blacklisted"):
        hub.registerProvider(sender=provider, value=STAKE)


# -- increaseStake ------------------------------------------------------------------------------


def test_increase_stake(hub, stake_manager, registered):
    hub.increaseStake(sender=registered, value=3 * INJ)
    e = one_event(hub, "Staked")
    assert (e.account, e.amount, e.stake) == (registered, 3 * INJ, STAKE + 3 * INJ)
    assert stake_manager.stakeOf(registered) == STAKE + 3 * INJ


def test_increase_stake_not_registered(hub, attacker):
    with boa.reverts("InjectiveAiHub: provider not registered"):
        hub.increaseStake(sender=attacker, value=INJ)


def test_increase_stake_zero(hub, registered):
    with boa.reverts("StakeManager: zero stake"):
        hub.increaseStake(sender=registered, value=0)


# -- reclaimStake -------------------------------------------------------------------------------


def test_reclaim_stake(hub, stake_manager, added_node, provider):
    required = (NODE_UNITS + 1) * MIN_STAKE
    amount = STAKE - required
    hub.reclaimStake(amount, sender=provider)
    e = one_event(hub, "Unbonded")
    assert (e.account, e.amount, e.maturity, e.stake) == (provider, amount, boa.env.timestamp + UNBONDING, required)
    assert stake_manager.stakeOf(provider) == required
    assert stake_manager.unbondingOf(provider) == amount
    assert stake_manager.pendingUnbonds(provider) == [[amount, boa.env.timestamp + UNBONDING]]
    assert stake_manager.withdrawableOf(provider) == 0


def test_reclaim_stake_below_minimum(hub, added_node, provider):
    required = (NODE_UNITS + 1) * MIN_STAKE
    with boa.reverts("InjectiveAiHub: stake would fall below minimum"):
        hub.reclaimStake(STAKE - required + 1, sender=provider)


def test_reclaim_stake_more_than_stake(hub, registered):
    with boa.reverts("InjectiveAiHub: amount exceeds stake"):
        hub.reclaimStake(STAKE + 1, sender=registered)


def test_reclaim_stake_zero(hub, registered):
    with boa.reverts("StakeManager: zero amount"):
        hub.reclaimStake(0, sender=registered)


def test_reclaim_stake_not_registered(hub, attacker):
    with boa.reverts("InjectiveAiHub: provider not registered"):
        hub.reclaimStake(1, sender=attacker)


def test_a_new_unbond_entry_costs_no_more_than_the_clients_pad():
    """`hub` estimates reclaimStake / deregisterProvider against the latest block, where the unbond
    may merge into a same-second entry, and the transaction may land a second later and open a new
    one: the client adds UNBOND_SLOT_GAS for that. Keep the pad in step with the contract."""
    # measured as real transactions (every slot cold), in an environment of its own: resetting
    # access counters would break the test session's snapshots
    with boa.swap_env(boa.Env()):
        admin, federator, validator, provider = (boa.env.generate_address(x) for x in "afvp")
        boa.env.set_balance(provider, 100 * INJ)
        system = deploy_system(admin, federator, validator, SystemParams(unbonding_period=UNBONDING))

        def unbond_gas() -> int:
            boa.env._reset_access_counters()
            system.hub.reclaimStake(1, sender=provider)
            return system.hub._computation.get_gas_used()

        system.hub.registerProvider(sender=provider, value=STAKE)
        unbond_gas()  # the first entry
        merged = unbond_gas()  # the same second: merged into it
        boa.env.time_travel(seconds=1)
        fresh = unbond_gas()  # a second later: a new entry
    assert fresh > merged
    assert fresh - merged <= UNBOND_SLOT_GAS


def test_reclaim_stake_same_second_merges_without_extending(hub, stake_manager, registered):
    hub.reclaimStake(INJ, sender=registered)
    hub.reclaimStake(2 * INJ, sender=registered)
    assert stake_manager.pendingUnbonds(registered) == [[3 * INJ, boa.env.timestamp + UNBONDING]]


def test_reclaim_stake_queue_cap(hub, stake_manager, registered):
    cap = stake_manager.MAX_PENDING_UNBONDS()
    for _ in range(cap):
        hub.reclaimStake(INJ, sender=registered)
        boa.env.time_travel(seconds=1)
    assert len(stake_manager.pendingUnbonds(registered)) == cap
    with boa.reverts("StakeManager: unbond queue full, withdraw first"):
        hub.reclaimStake(INJ, sender=registered)


# -- rebondStake --------------------------------------------------------------------------------


def test_rebond_takes_newest_entries_first(hub, stake_manager, registered):
    hub.reclaimStake(4 * INJ, sender=registered)
    first_maturity = boa.env.timestamp + UNBONDING
    boa.env.time_travel(seconds=10)
    hub.reclaimStake(3 * INJ, sender=registered)
    hub.rebondStake(5 * INJ, sender=registered)
    e = one_event(hub, "Rebonded")
    assert (e.account, e.amount, e.stake) == (registered, 5 * INJ, STAKE - 2 * INJ)
    # the newer entry (3) is gone entirely, the older one keeps its maturity with 2 left
    assert stake_manager.pendingUnbonds(registered) == [[2 * INJ, first_maturity]]
    assert stake_manager.stakeOf(registered) == STAKE - 2 * INJ


def test_rebond_more_than_unbonding(hub, registered):
    hub.reclaimStake(INJ, sender=registered)
    with boa.reverts("StakeManager: amount exceeds unbonding"):
        hub.rebondStake(INJ + 1, sender=registered)


def test_rebond_zero(hub, registered):
    with boa.reverts("StakeManager: zero amount"):
        hub.rebondStake(0, sender=registered)


def test_rebond_not_registered(hub, attacker):
    with boa.reverts("InjectiveAiHub: provider not registered"):
        hub.rebondStake(1, sender=attacker)


# -- deregisterProvider -------------------------------------------------------------------------


def test_deregister_provider_unbonds_everything(hub, registry, stake_manager, registered):
    hub.deregisterProvider(sender=registered)
    assert one_event(hub, "ProviderDeregistered").provider == registered
    e = one_event(hub, "Unbonded")
    assert (e.account, e.amount, e.stake) == (registered, STAKE, 0)
    assert not registry.getProvider(registered).registered
    assert stake_manager.stakeOf(registered) == 0
    assert stake_manager.unbondingOf(registered) == STAKE


def test_deregister_then_register_again(hub, registered, stake_manager):
    hub.deregisterProvider(sender=registered)
    hub.registerProvider(sender=registered, value=STAKE)
    assert stake_manager.stakeOf(registered) == STAKE


def test_deregister_with_nodes_refused(hub, added_node, provider):
    with boa.reverts("ComputeRegistry: remove the provider's nodes first"):
        hub.deregisterProvider(sender=provider)


def test_deregister_not_registered(hub, attacker):
    with boa.reverts("ComputeRegistry: provider not registered"):
        hub.deregisterProvider(sender=attacker)


@pytest.mark.parametrize("whitelisted", [False, True])
def test_deregister_clears_whitelist(hub, registry, validator, registered, whitelisted):
    if whitelisted:
        hub.whitelistProvider(registered, sender=validator)
    hub.deregisterProvider(sender=registered)
    hub.registerProvider(sender=registered, value=STAKE)
    assert not registry.getProvider(registered).whitelisted
