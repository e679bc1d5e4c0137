"""The whole contract system on Titanoboa's in-process EVM: compiled once, deployed and wired the
same way the on-chain deployer does it. Used by the demo scenario, the contract tests, the fuzz
suite (against mutated copies too, through `root`) and the gas benchmark."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from hub.contracts import CONTRACTS_DIR, DEPLOYABLE, SystemParams, source_path


@cache
def deployer(name: str, root: Path = CONTRACTS_DIR) -> Any:
    """boa's deployer for one deployable contract, compiled from `root` once per process."""
    if name not in DEPLOYABLE:
        raise ValueError(f"unknown contract {name!r}")
    return load_partial(source_path(name, root), root)


def load_partial(source: Path, root: Path) -> Any:
    """Compile `source` with `root` as the import search path, leaving boa's global path as it was."""
    import boa
    from boa.interpret import set_search_paths

    previous = boa.interpret._search_path
    set_search_paths([str(root)])
    try:
        return boa.load_partial(str(source))
    finally:
        set_search_paths(previous)


@cache
def _constructor_types(compiled: Any) -> tuple[str, ...]:
    from vyper.compiler.output import build_abi_output

    abi = build_abi_output(compiled.compiler_data)
    return tuple(i["type"] for e in abi if e["type"] == "constructor" for i in e["inputs"])


def deploy(compiled: Any, *args: Any, sender: str) -> Any:
    """Run `compiled`'s constructor as `sender` and wrap the new contract.

    The creation transaction `VyperDeployer.deploy` sends, without boa rebuilding the constructor's
    source map on every deployment: that costs more than the EVM work, and the tests and the fuzz
    suite deploy a fresh system per test or example.
    """
    import boa
    from eth_abi import encode

    bytecode = compiled.compiler_data.bytecode + encode(list(_constructor_types(compiled)), list(args))
    address, computation = boa.env.deploy(bytecode=bytecode, sender=sender)
    if computation.is_error:
        raise RuntimeError(f"constructor of {compiled.filename} reverted: {computation.error}")
    return compiled.at(address)


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


def deploy_system(
    admin: str, federator: str, validator: str, params: SystemParams | None = None, root: Path = CONTRACTS_DIR
) -> System:
    """Deploy and wire a system from `root` as `admin`, then set the stake minimum as `federator`."""
    import boa

    params = params or SystemParams()

    def new(name: str, *args: Any) -> Any:
        return deploy(deployer(name, root), *args, sender=admin)

    hub = new("InjectiveAiHub", federator, validator)
    registry = new("ComputeRegistry", hub.address)
    domains = new("DomainRegistry", hub.address)
    stake = new("StakeManager", hub.address, params.unbonding_period)
    pool = new("ComputePool", hub.address)
    rewards = new("RewardsDistributor", hub.address)
    work_validation = new("WorkRateValidator", params.max_units_per_compute_unit_per_second)
    with boa.env.prank(admin):
        hub.setModuleAddresses(registry.address, domains.address, stake.address, pool.address, rewards.address)
    with boa.env.prank(federator):
        hub.setStakeMinimum(params.min_stake_per_compute_unit)
    return System(hub, registry, domains, stake, pool, rewards, work_validation)
