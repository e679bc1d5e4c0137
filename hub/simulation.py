"""The whole contract system on Titanoboa's in-process EVM: compiled once, deployed and wired the
same way the on-chain deployer does it. Used by the demo scenario, the contract tests, the fuzz
suite and the gas benchmark."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from hub.contracts import CONTRACTS_DIR, DEPLOYABLE, SystemParams, source_path


@cache
def deployer(name: str) -> Any:
    """boa's deployer for one deployable contract, compiled from contracts_vy/ once per process."""
    import boa
    from boa.interpret import set_search_paths

    if name not in DEPLOYABLE:
        raise ValueError(f"unknown contract {name!r}")
    set_search_paths([str(CONTRACTS_DIR)])
    return boa.load_partial(str(source_path(name)))


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
    """Deploy and wire a system as `admin`, then set the stake minimum as `federator`."""
    import boa

    params = params or SystemParams()
    with boa.env.prank(admin):
        hub = deployer("InjectiveAiHub").deploy(federator, validator)
        registry = deployer("ComputeRegistry").deploy(hub.address)
        domains = deployer("DomainRegistry").deploy(hub.address)
        stake = deployer("StakeManager").deploy(hub.address, params.unbonding_period)
        pool = deployer("ComputePool").deploy(hub.address)
        rewards = deployer("RewardsDistributor").deploy(hub.address)
        work_validation = deployer("WorkRateValidator").deploy(params.max_units_per_compute_unit_per_second)
        hub.setModuleAddresses(registry.address, domains.address, stake.address, pool.address, rewards.address)
    with boa.env.prank(federator):
        hub.setStakeMinimum(params.min_stake_per_compute_unit)
    return System(hub, registry, domains, stake, pool, rewards, work_validation)
