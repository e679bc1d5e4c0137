"""Fixtures for the contract tests: one system per module, actors named by role, and the steps
that take a provider from registration to paid work. Titanoboa's pytest plugin snapshots the chain
around every fixture and test, so each test starts from its fixtures' state."""

from __future__ import annotations

import boa
import pytest
from eth_account import Account

from hub.contracts import INJ, SystemParams
from tests.utils.deployers import deploy_system
from tests.utils.scenario import (
    MIN_STAKE,
    RATE,
    STAKE,
    UNBONDING,
    Steps,
)


def _funded(label: str) -> str:
    address = boa.env.generate_address(label)
    boa.env.set_balance(address, 10**6 * INJ)
    return address


def _signer(seed: int) -> Account:
    account = Account.from_key(seed.to_bytes(32, "big"))
    boa.env.set_balance(account.address, 10**3 * INJ)
    return account


@pytest.fixture(scope="module")
def admin():
    return _funded("admin")


@pytest.fixture(scope="module")
def federator():
    return _funded("federator")


@pytest.fixture(scope="module")
def validator():
    return _funded("validator")


@pytest.fixture(scope="module")
def provider():
    return _funded("provider")


@pytest.fixture(scope="module")
def other_provider():
    return _funded("other_provider")


@pytest.fixture(scope="module")
def pool_creator():
    return _funded("pool_creator")


@pytest.fixture(scope="module")
def attacker():
    return _funded("attacker")


@pytest.fixture(scope="module")
def treasury():
    return _funded("treasury")


@pytest.fixture(scope="module")
def node():
    return _signer(0x1001)


@pytest.fixture(scope="module")
def other_node():
    return _signer(0x1002)


@pytest.fixture(scope="module")
def pool_manager():
    return _signer(0x2001)


@pytest.fixture(scope="module")
def chain_id():
    return boa.env.evm.patch.chain_id


@pytest.fixture(scope="module")
def system(admin, federator, validator, treasury):
    s = deploy_system(
        admin,
        federator,
        validator,
        SystemParams(
            unbonding_period=UNBONDING, min_stake_per_compute_unit=MIN_STAKE, max_units_per_compute_unit_per_second=RATE
        ),
    )
    s.hub.setTreasury(treasury, sender=admin)
    return s


@pytest.fixture(scope="module")
def hub(system):
    return system.hub


@pytest.fixture(scope="module")
def registry(system):
    return system.registry


@pytest.fixture(scope="module")
def stake_manager(system):
    return system.stake


@pytest.fixture(scope="module")
def domains(system):
    return system.domains


@pytest.fixture(scope="module")
def pool(system):
    return system.pool


@pytest.fixture(scope="module")
def rewards(system):
    return system.rewards


@pytest.fixture(scope="module")
def steps(system, chain_id):
    return Steps(system, chain_id)


@pytest.fixture
def registered(hub, provider):
    hub.registerProvider(sender=provider, value=STAKE)
    return provider


@pytest.fixture
def added_node(steps, registered, node):
    steps.add_node(registered, node)
    return node


@pytest.fixture
def validated_node(hub, added_node, validator, provider):
    hub.validateNode(added_node.address, sender=validator)
    hub.whitelistProvider(provider, sender=validator)
    return added_node


@pytest.fixture
def domain_id(hub, federator, system):
    return hub.createDomain("llama-pretraining", system.work_validation.address, "ipfs://domain", sender=federator)


@pytest.fixture
def pending_pool(steps, pool_creator, domain_id, pool_manager):
    return steps.create_pool(pool_creator, domain_id, pool_manager.address)


@pytest.fixture
def active_pool(pool, pending_pool, pool_creator):
    pool.startComputePool(pending_pool, sender=pool_creator)
    return pending_pool


@pytest.fixture
def member(steps, active_pool, validated_node, pool_manager):
    """`validated_node` joined `active_pool`."""
    steps.join(active_pool, validated_node, pool_manager)
    return validated_node


@pytest.fixture
def submitted_work(pool, member, active_pool):
    """One accepted work key of `member` in `active_pool`, 60 s after joining."""
    boa.env.time_travel(seconds=60)
    key = b"\x01" * 32
    pool.submitWork(active_pool, key, 100_000, sender=member.address)
    return key
