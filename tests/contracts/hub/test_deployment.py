"""Constructor, module wiring and treasury."""

import boa
import pytest

from tests.utils.deployers import HUB_DEPLOYER
from tests.utils.scenario import ADMIN_ROLE, FEDERATOR_ROLE, VALIDATOR_ROLE, one_event


def test_constructor_grants_roles_and_sets_treasury(admin, federator, validator):
    with boa.env.prank(admin):
        hub = HUB_DEPLOYER.deploy(federator, validator)
    assert hub.hasRole(ADMIN_ROLE, admin)
    assert hub.hasRole(FEDERATOR_ROLE, federator)
    assert hub.hasRole(VALIDATOR_ROLE, validator)
    assert not hub.hasRole(ADMIN_ROLE, federator)
    assert hub.treasury() == admin
    assert hub.DEFAULT_ADMIN_ROLE() == ADMIN_ROLE
    assert hub.FEDERATOR_ROLE() == FEDERATOR_ROLE
    assert hub.VALIDATOR_ROLE() == VALIDATOR_ROLE
    assert hub.minStakePerComputeUnit() == 0


@pytest.mark.parametrize("which", ["federator", "validator"])
def test_constructor_refuses_zero_role_holder(admin, federator, validator, which):
    args = [federator, validator]
    args[0 if which == "federator" else 1] = "0x" + "00" * 20
    with boa.env.prank(admin), boa.reverts("InjectiveAiHub: zero address"):
        HUB_DEPLOYER.deploy(*args)


def test_set_module_addresses_wires_every_module(system):
    hub = system.hub
    assert hub.computeRegistry() == system.registry.address
    assert hub.domainRegistry() == system.domains.address
    assert hub.stakeManager() == system.stake.address
    assert hub.computePool() == system.pool.address
    assert hub.rewardsDistributor() == system.rewards.address
    assert system.stake.computePool() == system.pool.address
    assert system.rewards.computePool() == system.pool.address
    assert system.pool.computeRegistry() == system.registry.address
    assert system.pool.domainRegistry() == system.domains.address
    assert system.pool.stakeManager() == system.stake.address
    assert system.pool.rewardsDistributor() == system.rewards.address
    for module in (system.registry, system.domains, system.stake, system.pool, system.rewards):
        assert module.HUB() == hub.address


def test_set_module_addresses_emits_event(admin, federator, validator, system):
    with boa.env.prank(admin):
        hub = HUB_DEPLOYER.deploy(federator, validator)
    from tests.utils.deployers import (
        DOMAINS_DEPLOYER,
        POOL_DEPLOYER,
        REGISTRY_DEPLOYER,
        REWARDS_DEPLOYER,
        STAKE_DEPLOYER,
    )

    with boa.env.prank(admin):
        mods = [
            REGISTRY_DEPLOYER.deploy(hub.address),
            DOMAINS_DEPLOYER.deploy(hub.address),
            STAKE_DEPLOYER.deploy(hub.address, 10),
            POOL_DEPLOYER.deploy(hub.address),
            REWARDS_DEPLOYER.deploy(hub.address),
        ]
        hub.setModuleAddresses(*[m.address for m in mods])
    e = one_event(hub, "ModulesSet")
    assert [e.computeRegistry, e.domainRegistry, e.stakeManager, e.computePool, e.rewardsDistributor] == [
        m.address for m in mods
    ]


def test_set_module_addresses_only_once(hub, admin, system):
    with boa.reverts("InjectiveAiHub: modules already set"):
        hub.setModuleAddresses(*[c.address for c in system.contracts()[1:]], sender=admin)


def test_set_module_addresses_only_admin(admin, federator, validator, attacker, system):
    with boa.env.prank(admin):
        hub = HUB_DEPLOYER.deploy(federator, validator)
    with boa.reverts("AccessControl: missing role"):
        hub.setModuleAddresses(*[c.address for c in system.contracts()[1:]], sender=attacker)


def test_set_module_addresses_refuses_non_contracts(admin, federator, validator, attacker, system):
    with boa.env.prank(admin):
        hub = HUB_DEPLOYER.deploy(federator, validator)
    addresses = [c.address for c in system.contracts()[1:]]
    addresses[2] = attacker
    with boa.reverts("InjectiveAiHub: module is not a contract"):
        hub.setModuleAddresses(*addresses, sender=admin)


def test_modules_refuse_second_wiring(system, admin):
    with boa.reverts("StakeManager: caller is not the hub"):
        system.stake.wire(system.pool.address, sender=admin)
    with boa.env.prank(system.hub.address):
        with boa.reverts("StakeManager: already wired"):
            system.stake.wire(system.pool.address)
        with boa.reverts("RewardsDistributor: already wired"):
            system.rewards.wire(system.pool.address)
        with boa.reverts("ComputePool: already wired"):
            system.pool.wire(
                system.registry.address, system.domains.address, system.stake.address, system.rewards.address
            )


def test_set_treasury(hub, admin, treasury, attacker):
    hub.setTreasury(attacker, sender=admin)
    e = one_event(hub, "TreasuryUpdated")
    assert (e.previous, e.current) == (treasury, attacker)
    assert hub.treasury() == attacker


def test_set_treasury_refuses_zero(hub, admin):
    with boa.reverts("InjectiveAiHub: zero treasury"):
        hub.setTreasury("0x" + "00" * 20, sender=admin)


def test_set_treasury_only_admin(hub, federator, attacker):
    with boa.reverts("AccessControl: missing role"):
        hub.setTreasury(attacker, sender=federator)


def test_set_module_addresses_refuses_modules_of_another_hub(admin, federator, validator, system):
    with boa.env.prank(admin):
        hub = HUB_DEPLOYER.deploy(federator, validator)
    with boa.reverts("InjectiveAiHub: module belongs to another hub"):
        hub.setModuleAddresses(*[c.address for c in system.contracts()[1:]], sender=admin)
