"""The contracts' deployment order and their deployment parameters.

One place that the boa deployers (tests, fuzz, bench, demo) and the on-chain deployer share, so the
system is always built the same way.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from hub.paths import default_contracts_dir

# @dev The sources that came with this `hub` (HUB_CONTRACTS_DIR is read by `hub.paths.contracts_dir`).
CONTRACTS_DIR = default_contracts_dir()

# Deployable contracts, in deployment order (the hub first: every module takes its address).
MODULES = ("ComputeRegistry", "DomainRegistry", "StakeManager", "ComputePool", "RewardsDistributor")
DEPLOYABLE = ("InjectiveAiHub", *MODULES, "WorkRateValidator")

INJ = 10**18


def source_path(name: str, root: Path = CONTRACTS_DIR) -> Path:
    """Path of a deployable contract's source file under `root` (default: contracts_vy/)."""
    from hub.build import deployable_sources

    sources = deployable_sources(root)
    if name not in sources:
        raise ValueError(f"no deployable contract named {name!r} under {root}")
    return sources[name]


class SystemParams(BaseModel):
    """Deployment parameters of one system. Durations are seconds: the local chain cannot warp
    time, so local deployments use short ones."""

    unbonding_period: int = Field(default=7 * 86400, gt=0, description="seconds an unbond waits")
    min_stake_per_compute_unit: int = Field(default=10 * INJ, ge=0, description="wei per compute unit")
    max_units_per_compute_unit_per_second: int = Field(
        default=1000, gt=0, description="work-rate cap of the default validation contract"
    )
