"""whitelistProvider, blacklistProvider, slash (createDomain: tests/contracts/domain_registry)."""

import boa

from hub.contracts import INJ
from tests.utils.scenario import STAKE, UNBONDING, one_event


def test_whitelist_provider(hub, registry, registered, validator):
    hub.whitelistProvider(registered, sender=validator)
    assert one_event(hub, "ProviderWhitelisted").provider == registered
    assert registry.getProvider(registered).whitelisted


def test_whitelist_twice(hub, registered, validator):
    hub.whitelistProvider(registered, sender=validator)
    with boa.reverts("ComputeRegistry: provider already whitelisted"):
        hub.whitelistProvider(registered, sender=validator)


def test_whitelist_unregistered(hub, attacker, validator):
    with boa.reverts("ComputeRegistry: provider not registered"):
        hub.whitelistProvider(attacker, sender=validator)


def test_whitelist_blacklisted(hub, registered, validator):
    hub.blacklistProvider(registered, [], sender=validator)
    with boa.reverts("ComputeRegistry: provider is blacklisted"):
        hub.whitelistProvider(registered, sender=validator)


def test_whitelist_only_validator(hub, registered, federator):
    with boa.reverts("AccessControl: missing role"):
        hub.whitelistProvider(registered, sender=federator)


def test_blacklist_provider(hub, registry, registered, validator):
    hub.whitelistProvider(registered, sender=validator)
    hub.blacklistProvider(registered, [], sender=validator)
    assert one_event(hub, "ProviderBlacklisted").provider == registered
    p = registry.getProvider(registered)
    assert (p.registered, p.whitelisted, p.blacklisted) == (True, False, True)
    assert registry.isBlacklisted(registered)


def test_blacklist_survives_deregistration(hub, registry, registered, validator):
    hub.blacklistProvider(registered, [], sender=validator)
    hub.deregisterProvider(sender=registered)
    assert registry.isBlacklisted(registered)
    with boa.reverts("ComputeRegistry: provider is blacklisted"):
        hub.registerProvider(sender=registered, value=STAKE)


def test_blacklist_twice(hub, attacker, validator):
    hub.blacklistProvider(attacker, [], sender=validator)
    with boa.reverts("ComputeRegistry: provider already blacklisted"):
        hub.blacklistProvider(attacker, [], sender=validator)


def test_blacklist_zero(hub, validator):
    with boa.reverts("ComputeRegistry: zero address"):
        hub.blacklistProvider("0x" + "00" * 20, [], sender=validator)


def test_blacklist_only_validator(hub, attacker, admin):
    with boa.reverts("AccessControl: missing role"):
        hub.blacklistProvider(attacker, [], sender=admin)


# -- slash --------------------------------------------------------------------------------------


def _raise_cap_to_the_whole_stake(hub, federator):
    """A provider with no nodes has a bonded requirement of one minimum unit, the per-incident slash
    cap (SPEC 3.3): make that unit the whole stake so these tests can slash all of it."""
    hub.setStakeMinimum(STAKE, sender=federator)


def test_slash_active_stake(hub, stake_manager, registered, validator, treasury, federator):
    _raise_cap_to_the_whole_stake(hub, federator)
    slashed = hub.slash(registered, 5 * INJ, "double claim", sender=validator)
    assert slashed == 5 * INJ
    e = one_event(hub, "Slashed")
    assert (e.account, e.slasher, e.requested, e.slashed, e.fromStake, e.fromUnbonding, e.reason) == (
        registered,
        validator,
        5 * INJ,
        5 * INJ,
        5 * INJ,
        0,
        "double claim",
    )
    assert stake_manager.stakeOf(registered) == STAKE - 5 * INJ
    assert stake_manager.slashedPending() == 5 * INJ
    assert boa.env.get_balance(stake_manager.address) == STAKE
    assert boa.env.get_balance(treasury) == 10**6 * INJ  # nothing moves until the sweep


def test_slash_is_capped_by_what_the_provider_has(hub, stake_manager, registered, validator, federator):
    hub.reclaimStake(10 * INJ, sender=registered)
    _raise_cap_to_the_whole_stake(hub, federator)
    slashed = hub.slash(registered, 1000 * INJ, "fraud", sender=validator)
    assert slashed == STAKE
    e = one_event(hub, "Slashed")
    assert (e.fromStake, e.fromUnbonding) == (STAKE - 10 * INJ, 10 * INJ)
    assert stake_manager.stakeOf(registered) == 0
    assert stake_manager.pendingUnbonds(registered) == []


def test_slash_reaches_newest_unbonds_first(hub, stake_manager, registered, validator, federator):
    hub.reclaimStake(10 * INJ, sender=registered)
    old_maturity = boa.env.timestamp + UNBONDING
    boa.env.time_travel(seconds=5)
    hub.reclaimStake(10 * INJ, sender=registered)
    _raise_cap_to_the_whole_stake(hub, federator)
    hub.slash(registered, STAKE - 20 * INJ + 15 * INJ, "fraud", sender=validator)
    assert stake_manager.pendingUnbonds(registered) == [[5 * INJ, old_maturity]]


def test_slash_zero_refused(hub, registered, validator):
    with boa.reverts("InjectiveAiHub: nothing to slash"):
        hub.slash(registered, 0, "nothing", sender=validator)


def test_slash_nothing_to_slash(hub, attacker, validator):
    with boa.reverts("InjectiveAiHub: nothing to slash"):
        hub.slash(attacker, INJ, "empty", sender=validator)


def test_slash_only_validator(hub, registered, federator, attacker):
    for who in (federator, attacker, registered):
        with boa.reverts("AccessControl: missing role"):
            hub.slash(registered, INJ, "x", sender=who)


def test_slash_refused_when_validator_is_treasury(hub, admin, registered, validator):
    hub.setTreasury(validator, sender=admin)
    with boa.reverts("InjectiveAiHub: a slash cannot pay its validator"):
        hub.slash(registered, INJ, "self-dealing", sender=validator)
