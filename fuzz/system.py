"""Compile the contracts the fuzz suite runs against, and deploy the whole system from them.

The suite compiles from `hub.paths.contracts_dir()`: `contracts_vy/` by default, or the folder in
`HUB_CONTRACTS_DIR`. `fuzz/mutants.py` uses that variable to point the suite at a mutated copy of
the contracts without touching the real ones. `deploy` wires the system the same way as
`tests.utils.deployers.deploy_system` (same arguments, same fields), only from that folder; it does
not import that module, which compiles `contracts_vy/` when it is imported.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import boa
from boa.interpret import set_search_paths
from eth_abi import encode

from hub.contracts import SystemParams
from hub.paths import contracts_dir

RECEIVER_SOURCE = Path(__file__).resolve().parent / "contracts" / "MaliciousReceiver.vy"

# name -> (source file in the contracts dir, constructor argument types)
_SOURCES = {
    "InjectiveAiHub": ("InjectiveAiHub.vy", ["address", "address"]),
    "ComputeRegistry": ("ComputeRegistry.vy", ["address"]),
    "DomainRegistry": ("DomainRegistry.vy", ["address"]),
    "StakeManager": ("StakeManager.vy", ["address", "uint256"]),
    "ComputePool": ("ComputePool.vy", ["address"]),
    "RewardsDistributor": ("RewardsDistributor.vy", ["address"]),
    "WorkRateValidator": ("validators/WorkRateValidator.vy", ["uint256"]),
}


@dataclass
class System:
    """The six contracts plus the default work-validation contract, wired (as in tests.utils.deployers)."""

    hub: Any
    registry: Any
    domains: Any
    stake: Any
    pool: Any
    rewards: Any
    work_validation: Any


@contextlib.contextmanager
def _search_path(folder: Path) -> Iterator[None]:
    # boa keeps one global search path; restore it so other deployers keep theirs
    previous = boa.interpret._search_path
    set_search_paths([str(folder)])
    try:
        yield
    finally:
        set_search_paths(previous)


@cache
def deployers(folder: str | None = None) -> dict:
    """Compile every deployable contract of `folder` (default: the configured contracts dir) once."""
    root = Path(folder) if folder else contracts_dir()
    with _search_path(root):
        out = {name: boa.load_partial(str(root / file)) for name, (file, _) in _SOURCES.items()}
    out["MaliciousReceiver"] = boa.load_partial(str(RECEIVER_SOURCE))
    return out


def deploy_contract(name: str, *args: Any, sender: str) -> Any:
    """Run `name`'s constructor on chain as `sender` and wrap the new contract.

    The same creation transaction as `VyperDeployer.deploy`, without boa recomputing the
    constructor's source map on every deployment (which costs more than the EVM work; the suite
    deploys a system per example).
    """
    types = _SOURCES[name][1] if name in _SOURCES else []
    deployer = deployers()[name]
    address, computation = boa.env.deploy(bytecode=deployer.compiler_data.bytecode + encode(types, args), sender=sender)
    assert not computation.is_error, f"deploying {name} failed"
    return deployer.at(address)


def deploy(admin: str, federator: str, validator: str, params: SystemParams) -> System:
    """Deploy and wire the six contracts and the default work validator, as `deploy_system` does."""
    hub = deploy_contract("InjectiveAiHub", federator, validator, sender=admin)
    registry = deploy_contract("ComputeRegistry", hub.address, sender=admin)
    domains = deploy_contract("DomainRegistry", hub.address, sender=admin)
    stake = deploy_contract("StakeManager", hub.address, params.unbonding_period, sender=admin)
    pool = deploy_contract("ComputePool", hub.address, sender=admin)
    rewards = deploy_contract("RewardsDistributor", hub.address, sender=admin)
    work_validation = deploy_contract("WorkRateValidator", params.max_units_per_compute_unit_per_second, sender=admin)
    with boa.env.prank(admin):
        hub.setModuleAddresses(registry.address, domains.address, stake.address, pool.address, rewards.address)
    with boa.env.prank(federator):
        hub.setStakeMinimum(params.min_stake_per_compute_unit)
    return System(hub, registry, domains, stake, pool, rewards, work_validation)
