"""Deployers for the tests, the fuzz suite and the benchmarks: each contract compiled once
(`aihub_demo.evm_system`), plus the system deployer they all share."""

from __future__ import annotations

from aihub_demo.evm_system import System, deploy_system, deployer

HUB_DEPLOYER = deployer("InjectiveAiHub")
REGISTRY_DEPLOYER = deployer("ComputeRegistry")
DOMAINS_DEPLOYER = deployer("DomainRegistry")
STAKE_DEPLOYER = deployer("StakeManager")
POOL_DEPLOYER = deployer("ComputePool")
REWARDS_DEPLOYER = deployer("RewardsDistributor")
VALIDATION_DEPLOYER = deployer("WorkRateValidator")

__all__ = [
    "DOMAINS_DEPLOYER",
    "HUB_DEPLOYER",
    "POOL_DEPLOYER",
    "REGISTRY_DEPLOYER",
    "REWARDS_DEPLOYER",
    "STAKE_DEPLOYER",
    "VALIDATION_DEPLOYER",
    "System",
    "deploy_system",
]
