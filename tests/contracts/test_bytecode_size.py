"""EIP-170: every deployable contract's runtime bytecode fits in 24,576 bytes."""

import pytest

from hub.contracts import DEPLOYABLE
from tests.utils import deployers

EIP170_LIMIT = 24_576
DEPLOYERS = {
    "InjectiveAiHub": deployers.HUB_DEPLOYER,
    "ComputeRegistry": deployers.REGISTRY_DEPLOYER,
    "DomainRegistry": deployers.DOMAINS_DEPLOYER,
    "StakeManager": deployers.STAKE_DEPLOYER,
    "ComputePool": deployers.POOL_DEPLOYER,
    "RewardsDistributor": deployers.REWARDS_DEPLOYER,
    "WorkRateValidator": deployers.VALIDATION_DEPLOYER,
}


def test_every_deployable_has_a_deployer():
    assert set(DEPLOYERS) == set(DEPLOYABLE)


@pytest.mark.parametrize("name", DEPLOYABLE)
def test_runtime_bytecode_under_eip170(system, name):
    contract = {
        "InjectiveAiHub": system.hub,
        "ComputeRegistry": system.registry,
        "DomainRegistry": system.domains,
        "StakeManager": system.stake,
        "ComputePool": system.pool,
        "RewardsDistributor": system.rewards,
        "WorkRateValidator": system.work_validation,
    }[name]
    import boa

    runtime = boa.env.get_code(contract.address)
    assert 0 < len(runtime) <= EIP170_LIMIT, f"{name} runtime is {len(runtime)} bytes"
