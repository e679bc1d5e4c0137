"""Fixtures for the hub tests: a real local Injective node, isolated user directories.

The session devnet runs from the cached genesis template on free, shifted ports, so it can run
beside a developer's own `hub devnet` on 8545; it is stopped at the end of the session, failures
included. Tests that stop, kill or reset a chain make their own with `make_devnet`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from hub.devkeys import LOCAL_CHAIN_ID
from hub.devnet import Devnet, DevnetConfig, DevnetPorts
from hub.devnet import free_ports as devnet_free_ports
from tests.hub.helpers import FAST_KDF, FUNDER_INDEX, MAX_RATE, TEST_PASSWORD, UNBONDING_S, run_hub

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

    from hub.client import HubClient

_USER_ENV = (
    "HUB_NETWORK",
    "HUB_RPC_URL",
    "HUB_PASSWORD",
    "HUB_DEBUG",
    "HUB_CONTRACTS_DIR",
    "HUB_BUILD_DIR",
    "HUB_ACCOUNT",
    "HUB_DEPLOYMENTS_DIR",
)
_taken: set[int] = set()


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads or writes the developer's keystores, config or devnet."""
    for name in _USER_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HUB_DEPLOYMENTS_DIR", str(tmp_path / "deployments"))
    monkeypatch.setenv("HUB_KEYSTORE_DIR", str(tmp_path / "keystores"))
    monkeypatch.setenv("HUB_CONFIG", str(tmp_path / "networks.toml"))
    monkeypatch.setenv("HUB_DEVNET_HOME", str(tmp_path / "devnet-home"))


@pytest.fixture(scope="session", autouse=True)
def _contracts_built() -> None:
    """`hub deploy` reads only artifacts that match the sources: compile once when they do not."""
    from hub.build import build_if_stale

    build_if_stale()


def free_ports() -> DevnetPorts:
    """Free ports for a test chain, never the same range twice in a session."""
    while True:
        ports = devnet_free_ports()
        if ports.json_rpc not in _taken:
            _taken.add(ports.json_rpc)
            return ports


@pytest.fixture
def port_offset() -> int:
    """A port offset (multiple of 10) at which every devnet port is free."""
    return free_ports().json_rpc - DevnetPorts().json_rpc


@pytest.fixture(scope="session")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    """A running local chain shared by the session (do not stop or reset it in a test)."""
    chain = Devnet(DevnetConfig(home=tmp_path_factory.mktemp("session-devnet"), ports=free_ports()))
    try:
        chain.start()
        yield chain
    finally:
        chain.stop()


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


@pytest.fixture(scope="session")
def w3(devnet: Devnet):
    from hub.networks import Network, connect

    return connect(Network(name="local", rpc_url=devnet.rpc_url, chain_id=LOCAL_CHAIN_ID))


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


# -- one deployment per session, and actors with keystores for the chain commands -------------


@dataclass
class Actor:
    name: str  # keystore name
    account: LocalAccount = field(repr=False)

    @property
    def address(self) -> str:
        return self.account.address


@dataclass
class HubWorld:
    """The session devnet with the system deployed on it by `hub deploy`, and a keystore folder."""

    devnet: Devnet
    deployments_dir: Path
    keystore_dir: Path
    admin: Actor  # deployer: admin, federator and treasury
    validator: Actor
    actors: list[Actor] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        return {
            "HUB_RPC_URL": self.devnet.rpc_url,
            "HUB_DEPLOYMENTS_DIR": str(self.deployments_dir),
            "HUB_KEYSTORE_DIR": str(self.keystore_dir),
            "HUB_PASSWORD": TEST_PASSWORD,
        }

    def client(self, actor: Actor | None = None) -> HubClient:
        from hub.client import HubClient
        from hub.manifest import load_deployment
        from hub.networks import Network, connect

        w3 = connect(Network(name="local", rpc_url=self.devnet.rpc_url, chain_id=LOCAL_CHAIN_ID))
        deployment = load_deployment(LOCAL_CHAIN_ID, self.deployments_dir)
        return HubClient(w3, deployment, actor.account if actor else None, chain_id=LOCAL_CHAIN_ID)

    def actor(self, name: str, *, fund_wei: int = 100 * 10**18, account: LocalAccount | None = None) -> Actor:
        """A fresh account in the keystore (unique name), funded by the funder dev account."""
        from eth_account import Account

        from hub.accounts import import_key
        from hub.devkeys import dev_account

        account = account or Account.create()
        unique = f"{name}-{len(self.actors)}"
        import_key(unique, bytes(account.key), TEST_PASSWORD, directory=self.keystore_dir, kdf_iterations=FAST_KDF)
        actor = Actor(unique, account)
        self.actors.append(actor)
        if fund_wei:
            self.client(Actor("funder", dev_account(FUNDER_INDEX))).transfer(account.address, fund_wei)
        return actor


@pytest.fixture(scope="session")
def hub_world(devnet: Devnet, tmp_path_factory: pytest.TempPathFactory) -> HubWorld:
    """`hub deploy` once per session: seconds-long unbonding, 1 INJ per compute unit."""
    from hub.accounts import import_dev_account
    from hub.build import build_if_stale
    from hub.devkeys import dev_account

    build_if_stale()  # here too: tests/app and tests/test_bad_inputs import this fixture alone

    root = tmp_path_factory.mktemp("hub-world")
    keystores = root / "keystores"
    import_dev_account(0, TEST_PASSWORD, name="admin", directory=keystores, kdf_iterations=FAST_KDF)
    import_dev_account(3, TEST_PASSWORD, name="validator", directory=keystores, kdf_iterations=FAST_KDF)
    world = HubWorld(
        devnet=devnet,
        deployments_dir=root / "deployments",
        keystore_dir=keystores,
        admin=Actor("admin", dev_account(0)),
        validator=Actor("validator", dev_account(3)),
    )
    args = [
        "deploy",
        "--account",
        "admin",
        "--unbonding-period",
        f"{UNBONDING_S}s",
        "--min-stake",
        "1",
        "--max-rate",
        str(MAX_RATE),
        "--validator",
        world.validator.address,
    ]
    run_hub(*args, env=world.env)
    return world


@pytest.fixture
def world(hub_world: HubWorld, monkeypatch: pytest.MonkeyPatch, _isolated_user_dirs: None) -> HubWorld:
    """The session deployment, with the environment of a user who has its keystores."""
    for name, value in hub_world.env.items():
        monkeypatch.setenv(name, value)
    return hub_world
