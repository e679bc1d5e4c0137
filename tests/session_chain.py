"""The local chain that the chain tests share for the whole session, the system deployed on it once,
and isolated user folders: a pytest plugin, registered once by the root conftest.py.

One plugin, not a conftest that others import: pytest registers a fixture once per module that
defines or imports it, so a session fixture imported into a second conftest starts a second chain.
Registered here, `devnet` is one chain for tests/hub, tests/app and tests/test_bad_inputs.py
together, and `hub_world` one deployment on it for tests/hub and tests/test_bad_inputs.py (tests/app
deploys its own on the same chain when it starts: see its conftest); nothing starts until a test
asks for it (`pytest tests/contracts` or `pytest fuzz` never starts a chain nor builds the contracts).

Nothing here is autouse: the folders that want every test isolated from the developer's keystores,
config and devnet request `isolated_user_dirs` from an autouse fixture of their own.

The chain runs from the cached genesis template on free, shifted ports, so it can run beside a
developer's own `hub devnet` on 8545; it is stopped at the end of the session, failures included.
The deployment is shared: every test makes fresh funded actors (`HubWorld.actor`), and a test that
changes a system-wide setting puts it back. Heavy imports are deferred: the root conftest loads this
module for every run, the contract and fuzz suites included.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from hub.devkeys import LOCAL_CHAIN_ID

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

    from hub.client import HubClient
    from hub.devnet import Devnet, DevnetPorts

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


@pytest.fixture
def isolated_user_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads or writes the developer's keystores, config or devnet."""
    for name in _USER_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HUB_DEPLOYMENTS_DIR", str(tmp_path / "deployments"))
    monkeypatch.setenv("HUB_KEYSTORE_DIR", str(tmp_path / "keystores"))
    monkeypatch.setenv("HUB_CONFIG", str(tmp_path / "networks.toml"))
    monkeypatch.setenv("HUB_DEVNET_HOME", str(tmp_path / "devnet-home"))


@pytest.fixture(scope="session")
def contracts_built() -> None:
    """`hub deploy` reads only artifacts that match the sources: compile once when they do not."""
    from hub.build import build_if_stale

    build_if_stale()


def free_ports() -> DevnetPorts:
    """Free ports for a test chain, never the same range twice in a session."""
    from hub.devnet import free_ports as devnet_free_ports

    while True:
        ports = devnet_free_ports()
        if ports.json_rpc not in _taken:
            _taken.add(ports.json_rpc)
            return ports


@pytest.fixture(scope="session")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    """A running local chain shared by the session (do not stop or reset it in a test)."""
    from hub.devnet import Devnet, DevnetConfig

    chain = Devnet(DevnetConfig(home=tmp_path_factory.mktemp("session-devnet"), ports=free_ports()))
    try:
        chain.start()
        yield chain
    finally:
        chain.stop()


@pytest.fixture(scope="session")
def w3(devnet: Devnet):
    from hub.networks import Network, connect

    return connect(Network(name="local", rpc_url=devnet.rpc_url, chain_id=LOCAL_CHAIN_ID))


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
        from tests.hub.helpers import TEST_PASSWORD

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
        from tests.hub.helpers import FAST_KDF, FUNDER_INDEX, TEST_PASSWORD

        account = account or Account.create()
        unique = f"{name}-{len(self.actors)}"
        import_key(unique, bytes(account.key), TEST_PASSWORD, directory=self.keystore_dir, kdf_iterations=FAST_KDF)
        actor = Actor(unique, account)
        self.actors.append(actor)
        if fund_wei:
            self.client(Actor("funder", dev_account(FUNDER_INDEX))).transfer(account.address, fund_wei)
        return actor

    def with_own_keystores(self, directory: Path) -> HubWorld:
        """The same chain and deployment with a keystore folder of its own, holding `admin` and
        `validator`: for a test that writes into its keystores (corrupt files, say) without the
        tests after it seeing them."""
        _admin_and_validator_keystores(directory)
        return replace(self, keystore_dir=directory, actors=[])


def _admin_and_validator_keystores(directory: Path) -> None:
    from hub.accounts import import_dev_account
    from tests.hub.helpers import FAST_KDF, TEST_PASSWORD

    for index, name in ((0, "admin"), (3, "validator")):
        import_dev_account(index, TEST_PASSWORD, name=name, directory=directory, kdf_iterations=FAST_KDF)


@pytest.fixture(scope="session")
def hub_world(devnet: Devnet, contracts_built: None, tmp_path_factory: pytest.TempPathFactory) -> HubWorld:
    """`hub deploy` once per session: an hour's unbonding (work stays locked through any test:
    tests/hub/helpers.py), 1 INJ per compute unit."""
    return deploy_world(devnet, tmp_path_factory)


@pytest.fixture(scope="session")
def short_unbonding_hub_world(
    devnet: Devnet, contracts_built: None, tmp_path_factory: pytest.TempPathFactory
) -> HubWorld:
    """A second deployment, once per session, whose unbonds mature within a test (SHORT_UNBONDING_S):
    for the tests that withdraw a matured unbond; its pools' challenge windows must be shorter."""
    from tests.hub.helpers import SHORT_UNBONDING_S

    return deploy_world(devnet, tmp_path_factory, unbonding_s=SHORT_UNBONDING_S)


def deploy_world(
    devnet: Devnet, tmp_path_factory: pytest.TempPathFactory, *, unbonding_s: int | None = None
) -> HubWorld:
    """The system deployed on `devnet` by `hub deploy` as `hub_world` says (unbonding in
    `unbonding_s`, UNBONDING_S unless given), with its own folders."""
    from hub.devkeys import dev_account
    from tests.hub.helpers import MAX_RATE, UNBONDING_S, run_hub

    root = tmp_path_factory.mktemp("hub-world")
    _admin_and_validator_keystores(root / "keystores")
    world = HubWorld(
        devnet=devnet,
        deployments_dir=root / "deployments",
        keystore_dir=root / "keystores",
        admin=Actor("admin", dev_account(0)),
        validator=Actor("validator", dev_account(3)),
    )
    args = [
        "deploy",
        "--account",
        "admin",
        "--unbonding-period",
        f"{unbonding_s or UNBONDING_S}s",
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
def world(hub_world: HubWorld, monkeypatch: pytest.MonkeyPatch, isolated_user_dirs: None) -> HubWorld:
    """The session deployment, with the environment of a user who has its keystores."""
    return _as_user(hub_world, monkeypatch)


@pytest.fixture
def short_unbonding_world(
    short_unbonding_hub_world: HubWorld, monkeypatch: pytest.MonkeyPatch, isolated_user_dirs: None
) -> HubWorld:
    """`short_unbonding_hub_world`, with the environment of a user who has its keystores."""
    return _as_user(short_unbonding_hub_world, monkeypatch)


def _as_user(world: HubWorld, monkeypatch: pytest.MonkeyPatch) -> HubWorld:
    for name, value in world.env.items():
        monkeypatch.setenv(name, value)
    return world
