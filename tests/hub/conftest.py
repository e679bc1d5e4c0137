"""Fixtures for the hub tests: every test in isolated user folders, the contracts built once, and
private chains for the tests that stop, kill or reset one.

The session chain and deployment (`devnet`, `w3`, `hub_world`, `world`) are the root conftest's
plugin, tests/session_chain.py, shared with tests/app and tests/test_bad_inputs.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hub.devkeys import LOCAL_CHAIN_ID
from hub.devnet import Devnet, DevnetConfig, DevnetPorts
from tests.session_chain import free_ports


@pytest.fixture(autouse=True)
def _isolated_user_dirs(isolated_user_dirs: None) -> None:
    """No test reads or writes the developer's keystores, config or devnet."""


@pytest.fixture(scope="session", autouse=True)
def _contracts_built(contracts_built: None) -> None:
    """The tests that deploy on a chain of their own need the artifacts too, not only `hub_world`."""


@pytest.fixture
def port_offset() -> int:
    """A port offset (multiple of 10) at which every devnet port is free."""
    return free_ports().json_rpc - DevnetPorts().json_rpc


@pytest.fixture
def make_devnet(tmp_path: Path) -> Iterator[Callable[..., Devnet]]:
    """Factory for private chains (own home, own ports), all stopped after the test."""
    made: list[Devnet] = []

    def make(name: str = "chain", ports: DevnetPorts | None = None) -> Devnet:
        chain = Devnet(DevnetConfig(home=tmp_path / name, ports=ports or free_ports()))
        made.append(chain)
        return chain

    try:
        yield make
    finally:
        for chain in made:
            chain.stop()


def send_inj(w3, sender_index: int, to: str, value_wei: int) -> dict:
    """Send INJ from dev account `sender_index`, priced as Injective charges (full gas limit x
    base fee, no tip), and return the receipt."""
    from hub.devkeys import dev_account

    sender = dev_account(sender_index)
    base_fee = w3.eth.get_block("latest")["baseFeePerGas"]
    tx = {
        "type": 2,
        "chainId": LOCAL_CHAIN_ID,
        "nonce": w3.eth.get_transaction_count(sender.address, "pending"),
        "to": to,
        "value": value_wei,
        "gas": 21_000,
        "maxFeePerGas": base_fee,
        "maxPriorityFeePerGas": 0,
    }
    signed = sender.sign_transaction(tx)
    receipt = w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(signed.raw_transaction), 60)
    assert receipt["status"] == 1
    return receipt


@pytest.fixture
def transfer() -> Callable[..., dict]:
    return send_inj
