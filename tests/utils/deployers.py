"""Compile each contract once and deploy the whole system on Titanoboa's in-process EVM.

Shared by the contract tests, the fuzz suite, the gas benchmark and the demo scenario.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boa
from boa.interpret import set_search_paths

from hub.contracts import CONTRACTS_DIR, SystemParams, source_path

set_search_paths([str(CONTRACTS_DIR)])

HUB_DEPLOYER = boa.load_partial(str(source_path("InjectiveAiHub")))
REGISTRY_DEPLOYER = boa.load_partial(str(source_path("ComputeRegistry")))
DOMAINS_DEPLOYER = boa.load_partial(str(source_path("DomainRegistry")))
STAKE_DEPLOYER = boa.load_partial(str(source_path("StakeManager")))
POOL_DEPLOYER = boa.load_partial(str(source_path("ComputePool")))
REWARDS_DEPLOYER = boa.load_partial(str(source_path("RewardsDistributor")))
VALIDATION_DEPLOYER = boa.load_partial(str(source_path("WorkRateValidator")))


@dataclass
class System:
    """The six contracts plus the default work-validation contract, wired."""

    hub: Any
    registry: Any
    domains: Any
    stake: Any
    pool: Any
    rewards: Any
    work_validation: Any

    def contracts(self) -> list[Any]:
        return [self.hub, self.registry, self.domains, self.stake, self.pool, self.rewards]


def deploy_system(admin: str, federator: str, validator: str, params: SystemParams | None = None) -> System:
    """Deploy and wire a system as `admin`, set the stake minimum as `federator`."""
    params = params or SystemParams()
    with boa.env.prank(admin):
        hub = HUB_DEPLOYER.deploy(federator, validator)
        registry = REGISTRY_DEPLOYER.deploy(hub.address)
        domains = DOMAINS_DEPLOYER.deploy(hub.address)
        stake = STAKE_DEPLOYER.deploy(hub.address, params.unbonding_period)
        pool = POOL_DEPLOYER.deploy(hub.address)
        rewards = REWARDS_DEPLOYER.deploy(hub.address)
        work_validation = VALIDATION_DEPLOYER.deploy(params.max_units_per_compute_unit_per_second)
        hub.setModuleAddresses(registry.address, domains.address, stake.address, pool.address, rewards.address)
    with boa.env.prank(federator):
        hub.setStakeMinimum(params.min_stake_per_compute_unit)
    return System(hub, registry, domains, stake, pool, rewards, work_validation)
