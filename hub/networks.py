"""The network table: which JSON-RPC endpoint and EVM chain id each network name means.

Built in: `local` (the `hub devnet` chain, the default), `injective-testnet` and
`injective-mainnet`. A network is picked, first match wins, by `--network NAME|URL`, the env
var HUB_NETWORK, `default = "..."` in the config file, else `local`. HUB_RPC_URL replaces the RPC
URL of the picked named network (its chain id is still verified on connect). The config file
(~/.config/injective-ai-hub/networks.toml, or the path in HUB_CONFIG) can change built-in entries
and add new ones:

    default = "injective-testnet"

    [networks.injective-testnet]
    rpc_url = "https://my-own-testnet-node.example:8545"

    [networks.staging]
    rpc_url = "http://10.0.0.5:8545"
    chain_id = 1439
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from hub import paths
from hub.devkeys import LOCAL_CHAIN_ID
from hub.errors import HubError

if TYPE_CHECKING:
    from web3 import Web3

TESTNET_CHAIN_ID = 1439
MAINNET_CHAIN_ID = 1776
DEFAULT_NETWORK = "local"


def _check_rpc_url(url: str) -> str:
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"RPC URL must start with http:// or https://, got {url!r}")
    return url


class Network(BaseModel):
    """One entry of the table. `chain_id` is None only for a bare URL: then any chain is accepted."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    rpc_url: str
    chain_id: int | None
    explorer_url: str | None = None

    @field_validator("rpc_url")
    @classmethod
    def _valid_url(cls, url: str) -> str:
        return _check_rpc_url(url)


# Public endpoints and explorers as published in viem's chain definitions
# (viem 2.44, src/chains/definitions/injective.ts and injectiveTestnet.ts), which match the chain
# ids in Injective's docs (docs.injective.network/developers-evm/network-information).
BUILTIN_NETWORKS: dict[str, Network] = {
    n.name: n
    for n in (
        Network(name="local", rpc_url="http://127.0.0.1:8545", chain_id=LOCAL_CHAIN_ID),
        Network(
            name="injective-testnet",
            rpc_url="https://k8s.testnet.json-rpc.injective.network",
            chain_id=TESTNET_CHAIN_ID,
            explorer_url="https://testnet.blockscout.injective.network",
        ),
        Network(
            name="injective-mainnet",
            rpc_url="https://sentry.evm-rpc.injective.network",
            chain_id=MAINNET_CHAIN_ID,
            explorer_url="https://blockscout.injective.network",
        ),
    )
}


class NetworkEntry(BaseModel):
    """A `[networks.NAME]` table of the config file: every field optional for built-in names."""

    model_config = ConfigDict(extra="forbid")

    rpc_url: str | None = None
    chain_id: int | None = None
    explorer_url: str | None = None


class NetworksConfig(BaseModel):
    """The config file."""

    model_config = ConfigDict(extra="forbid")

    default: str | None = None
    networks: dict[str, NetworkEntry] = {}


def load_config(path: Path | None = None) -> NetworksConfig:
    """Read the config file; a missing file is an empty config."""
    path = path or paths.config_file()
    if not path.exists():
        return NetworksConfig()
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    try:
        return NetworksConfig.model_validate(tomllib.loads(path.read_text()))
    except (tomllib.TOMLDecodeError, ValidationError) as exc:
        first = str(exc).splitlines()
        detail = " ".join(first[:3]) if isinstance(exc, ValidationError) else first[0]
        raise HubError(f"invalid config file {path}: {detail}", hint="fix or remove the file") from None


def network_table(config: NetworksConfig | None = None) -> dict[str, Network]:
    """Built-in networks with the config file's changes and additions applied."""
    config = config if config is not None else load_config()
    table = dict(BUILTIN_NETWORKS)
    for name, entry in config.networks.items():
        base = table.get(name)
        if base is None and (entry.rpc_url is None or entry.chain_id is None):
            raise HubError(
                f"network {name!r} in the config file needs both rpc_url and chain_id",
                hint=f"add them under [networks.{name}] in {paths.config_file()}",
            )
        fields = base.model_dump() if base else {"name": name}
        fields.update(entry.model_dump(exclude_none=True))
        try:
            table[name] = Network(**fields)
        except ValidationError as exc:
            detail = exc.errors()[0]["msg"]
            raise HubError(f"network {name!r} in the config file: {detail}") from None
    return table


def resolve_network(
    selector: str | None = None,
    *,
    config: NetworksConfig | None = None,
    env: Mapping[str, str] | None = None,
) -> Network:
    """The network named or addressed by `selector` (a name or an http(s) URL), else the default."""
    env = os.environ if env is None else env
    config = config if config is not None else load_config()
    choice = selector or env.get("HUB_NETWORK") or config.default or DEFAULT_NETWORK
    if "://" in choice:
        try:
            return Network(name=choice, rpc_url=choice, chain_id=None)
        except ValidationError:
            raise HubError(f"not an RPC URL: {choice!r}", hint="use http://... or https://...") from None
    table = network_table(config)
    if choice not in table:
        raise HubError(
            f"unknown network {choice!r}",
            hint=f"one of {', '.join(sorted(table))}, or an RPC URL like http://127.0.0.1:8545",
        )
    network = table[choice]
    override = env.get("HUB_RPC_URL")
    if override:
        try:
            network = network.model_copy(update={"rpc_url": _check_rpc_url(override)})
        except ValueError as exc:
            raise HubError(f"HUB_RPC_URL: {exc}") from None
    return network


def _unreachable_hint(network: Network) -> str:
    if network.chain_id == LOCAL_CHAIN_ID:
        return "start the local chain with `hub devnet start` (or point HUB_RPC_URL at yours)"
    return "check the URL and your connection, or pick another with --network NAME|URL"


def is_transient(exc: Exception) -> bool:
    """Errors worth another try: the node is starting, busy, or the network hiccuped."""
    import requests
    from web3.exceptions import TooManyRequests, Web3RPCError

    if isinstance(exc, (requests.ConnectionError, requests.Timeout, TooManyRequests)):
        return True
    if isinstance(exc, requests.HTTPError):
        return exc.response is not None and exc.response.status_code >= 500
    # Injective answers eth_chainId with "method handler crashed" until block 1 exists.
    return isinstance(exc, Web3RPCError) and "handler crashed" in str(exc)


def _describe(exc: Exception) -> str:
    import requests

    if isinstance(exc, requests.ConnectionError):
        return "connection refused" if "refused" in str(exc).lower() else "cannot connect"
    if isinstance(exc, requests.Timeout):
        return "timed out"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def connect(
    network: Network | str | None = None,
    *,
    retries: int = 3,
    backoff_s: float = 0.5,
    timeout_s: float = 10.0,
) -> Web3:
    """A web3 connection to `network`, after checking that the node serves the expected chain id.

    Transient failures (connection refused, timeouts, HTTP 5xx, a node still starting) are retried
    `retries` times with doubling waits; then, or on a chain id mismatch, a `HubError` is raised.
    """
    from web3 import HTTPProvider, Web3

    if not isinstance(network, Network):
        network = resolve_network(network)
    provider = HTTPProvider(network.rpc_url, request_kwargs={"timeout": timeout_s}, exception_retry_configuration=None)
    w3 = Web3(provider)
    attempt = 0
    while True:
        try:
            chain_id = w3.eth.chain_id
            break
        except Exception as exc:  # web3 surfaces transport errors as several unrelated types
            if not is_transient(exc):
                raise HubError(
                    f"network {network.name!r} at {network.rpc_url} answered badly: {_describe(exc)}",
                    hint=_unreachable_hint(network),
                ) from exc
            if attempt >= retries:
                raise HubError(
                    f"cannot reach network {network.name!r} at {network.rpc_url} "
                    f"after {attempt + 1} tries: {_describe(exc)}",
                    hint=_unreachable_hint(network),
                ) from exc
            time.sleep(backoff_s * 2**attempt)
            attempt += 1
    if network.chain_id is not None and chain_id != network.chain_id:
        raise HubError(
            f"chain id mismatch: network {network.name!r} expects {network.chain_id}, "
            f"but {network.rpc_url} serves {chain_id}",
            hint="check --network, HUB_NETWORK, HUB_RPC_URL and the config file",
        )
    return w3
