"""A real single-validator Injective node on 127.0.0.1: the `local` network.

`Devnet(DevnetConfig()).start()` runs `injectived` (PyPI package `injective-core`, the optional
`devnet` extra) detached, with its state, pid file and log in one home directory, and returns once
the EVM JSON-RPC serves block 1. State survives `stop()` and even `kill -9`; `reset()` wipes it.

Genesis is built once per (binary, chain settings, dev accounts) and cached as a template under
~/.cache/injective-ai-hub/devnet-templates/; each new home is a copy of it, so a fresh chain costs
about a second instead of five. Genesis: cosmos chain id `injective-777`, EVM chain id 777 (never
mainnet's 1776), block gas limit 30,000,000, one validator, and the ten published dev accounts of
`hub.devkeys` funded with 1,000,000 INJ each.

Home layout: `node/` (the injectived home), `devnet.json` (ports and chain ids of the last start),
`injectived.pid`, `injectived.log`, `tmp/` (the node's TMPDIR).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from hashlib import sha256
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hub import paths
from hub.bech32 import inj_address
from hub.devkeys import (
    DEV_ADDRESSES,
    DEV_BALANCE_WEI,
    LOCAL_CHAIN_ID,
    is_dev_key,
    refuse_dev_key_off_local,
)
from hub.errors import HubError

__all__ = [
    "Devnet",
    "DevnetConfig",
    "DevnetPorts",
    "DevnetStatus",
    "ensure_template",
    "find_injectived",
    "is_dev_key",
    "refuse_dev_key_off_local",
]

INSTALL_HINT = "pip install 'injective-ai-hub[devnet]'"
COSMOS_CHAIN_ID = f"injective-{LOCAL_CHAIN_ID}"
# @dev Block gas limit; also the per-transaction cap Injective enforces.
BLOCK_MAX_GAS = 30_000_000
# @dev The validator's genesis balance and self-delegation (atto-INJ, i.e. wei).
VALIDATOR_BALANCE = 1_000_000 * 10**18
VALIDATOR_STAKE = 100 * 10**18
# @dev Bump when the template recipe changes, so cached templates are rebuilt.
TEMPLATE_FORMAT = 1


class DevnetPorts(BaseModel):
    """Every TCP port the node listens on (all bound to 127.0.0.1)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    json_rpc: int = Field(8545, ge=1, le=65535)
    ws: int = Field(8546, ge=1, le=65535)
    json_rpc_debug: int = Field(8547, ge=1, le=65535)  # server disabled; kept off others' ports
    evm_metrics: int = Field(6065, ge=1, le=65535)  # server disabled; kept off others' ports
    cometbft_rpc: int = Field(26657, ge=1, le=65535)
    p2p: int = Field(26656, ge=1, le=65535)
    api: int = Field(10337, ge=1, le=65535)
    grpc: int = Field(9900, ge=1, le=65535)

    @classmethod
    def shifted(cls, offset: int) -> DevnetPorts:
        """Default ports + `offset`. Use a multiple of 10: 8545..8547 are neighbours."""
        return cls(**{name: port + offset for name, port in cls().model_dump().items()})

    @model_validator(mode="after")
    def _distinct(self) -> DevnetPorts:
        ports = list(self.model_dump().values())
        if len(set(ports)) != len(ports):
            raise ValueError(f"devnet ports must be distinct: {self.model_dump()}")
        return self


def free_ports(start: int = 300, stop: int = 5000) -> DevnetPorts:
    """Default ports shifted by a multiple of 10 at which every port is free right now (for a chain
    that runs beside a developer's own `hub devnet`: tests, `hub demo`)."""
    import random
    import socket

    def bindable(port: int) -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                return False
        return True

    offsets = list(range(start, stop, 10))
    random.shuffle(offsets)
    for offset in offsets:
        ports = DevnetPorts.shifted(offset)
        if all(bindable(p) for p in ports.model_dump().values()):
            return ports
    raise HubError("no free range of ports for a local chain", hint="stop other local chains and try again")


class DevnetConfig(BaseModel):
    """Where the devnet lives and how it runs. Defaults are the `hub devnet` defaults."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    home: Path = Field(default_factory=paths.devnet_home)
    ports: DevnetPorts = DevnetPorts()
    # @dev Passed to --unsafe-consensus-timeout-commit (config.toml's timeout_commit is ignored).
    block_time: str = "100ms"
    ready_timeout_s: float = 60.0
    stop_timeout_s: float = 30.0
    template_dir: Path = Field(default_factory=lambda: paths.cache_dir() / "devnet-templates")
    # @dev The injectived binary; None finds it (the injective-core package, else PATH).
    injectived: Path | None = None

    @property
    def rpc_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.json_rpc}"


class DevnetStatus(BaseModel):
    """What `status()` reports. `height` and `chain_id` are None when the node is not running."""

    running: bool
    pid: int | None
    height: int | None
    chain_id: int | None
    cosmos_chain_id: str
    rpc_url: str
    ws_url: str
    home: Path
    log_file: Path
    initialized: bool


class _State(BaseModel):
    """`devnet.json`: the ports of the last start, so `status` finds the node without flags."""

    ports: DevnetPorts
    cosmos_chain_id: str
    evm_chain_id: int


# -- the binary ------------------------------------------------------------------------------


def find_injectived(explicit: Path | None = None) -> Path:
    """The injectived binary: `explicit`, the injective-core package's, or `injectived` on PATH."""
    if explicit is not None:
        if not explicit.exists():
            raise HubError(f"injectived not found at {explicit}", hint=INSTALL_HINT)
        return explicit
    try:
        import injective_core
    except ImportError:
        pass
    else:
        with contextlib.suppress(FileNotFoundError):
            return Path(injective_core.get_binary_path())
    found = shutil.which("injectived")
    if found is None:
        raise HubError("injectived is not installed: the local chain needs it", hint=INSTALL_HINT)
    return Path(found)


def _node_env(binary: Path, tmp_dir: Path) -> dict[str, str]:
    """The environment for injectived: its bundled libwasmvm on the loader path, and a TMPDIR of
    ours (every injectived run leaves an `injectiveapp*` folder in its TMPDIR)."""
    tmp_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, TMPDIR=str(tmp_dir))
    bin_dir = str(binary.resolve().parent)
    if any(binary.resolve().parent.glob("libwasmvm*")):
        var = "DYLD_LIBRARY_PATH" if sys.platform == "darwin" else "LD_LIBRARY_PATH"
        env[var] = os.pathsep.join(p for p in (bin_dir, env.get(var)) if p)
    return env


def _run(binary: Path, tmp_dir: Path, *args: str) -> str:
    """Run one injectived set-up command; its combined output, or a one-line HubError."""
    proc = subprocess.run(
        [str(binary), *args], env=_node_env(binary, tmp_dir), capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        lines = [ln for ln in (proc.stderr + proc.stdout).splitlines() if ln.strip()]
        last = lines[-1] if lines else f"exit status {proc.returncode}"
        raise HubError(f"injectived {args[0]} {args[1] if len(args) > 1 else ''} failed: {last}".strip())
    return proc.stdout


# -- the genesis template --------------------------------------------------------------------


def _template_key(binary: Path) -> str:
    stat = binary.resolve().stat()
    recipe = {
        "format": TEMPLATE_FORMAT,
        "binary": [str(binary.resolve()), stat.st_size, stat.st_mtime_ns],
        "cosmos_chain_id": COSMOS_CHAIN_ID,
        "evm_chain_id": LOCAL_CHAIN_ID,
        "max_gas": BLOCK_MAX_GAS,
        "accounts": [[a, DEV_BALANCE_WEI] for a in DEV_ADDRESSES],
        "validator": [VALIDATOR_BALANCE, VALIDATOR_STAKE],
    }
    return sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _edit_genesis(node_home: Path) -> None:
    genesis_path = node_home / "config" / "genesis.json"
    genesis = json.loads(genesis_path.read_text())
    genesis["app_state"]["evm"]["params"]["chain_config"]["eip155_chain_id"] = str(LOCAL_CHAIN_ID)
    genesis["consensus"]["params"]["block"]["max_gas"] = str(BLOCK_MAX_GAS)
    genesis_path.write_text(json.dumps(genesis, indent=2))


def _build_template(binary: Path, node_home: Path, tmp_dir: Path) -> None:
    """init, genesis edits, validator key, funded accounts, gentx: a ready-to-start home."""

    def run(*args: str) -> str:
        return _run(binary, tmp_dir, *args)

    common = ["--home", str(node_home)]
    chain = ["--chain-id", COSMOS_CHAIN_ID]
    keyring = ["--keyring-backend", "test"]
    run("init", "localnode", *chain, "--default-denom", "inj", *common)
    _edit_genesis(node_home)
    run("keys", "add", "validator", *keyring, *common)
    validator = run("keys", "show", "validator", "-a", *keyring, *common).strip()
    run("genesis", "add-genesis-account", validator, f"{VALIDATOR_BALANCE}inj", *chain, *common)
    for address in DEV_ADDRESSES:
        account = inj_address(address)
        run("genesis", "add-genesis-account", account, f"{DEV_BALANCE_WEI}inj", *chain, *common)
    run("genesis", "gentx", "validator", f"{VALIDATOR_STAKE}inj", *chain, *keyring, *common)
    run("genesis", "collect-gentxs", *common)
    run("genesis", "validate", *common)
    _apply_ports(node_home, DevnetPorts())


def ensure_template(config: DevnetConfig | None = None) -> Path:
    """The cached genesis home for this binary and recipe; built (about 3 s) if missing."""
    config = config or DevnetConfig()
    binary = find_injectived(config.injectived)
    final = config.template_dir / _template_key(binary)
    if (final / ".complete").exists():
        return final
    with _file_lock(config.template_dir / ".lock"):
        if (final / ".complete").exists():  # another process built it while we waited
            return final
        work = Path(tempfile.mkdtemp(prefix=".building-", dir=config.template_dir))
        try:
            _build_template(binary, work / "node", work / "tmp")
            (work / "node" / ".complete").touch()
            shutil.rmtree(final, ignore_errors=True)
            (work / "node").rename(final)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return final


# -- config files ----------------------------------------------------------------------------


def _set_toml(path: Path, values: dict[tuple[str, str], str]) -> None:
    """Set `key = "value"` under `[section]` in a TOML file injectived wrote, keeping the rest."""
    lines = path.read_text().splitlines(keepends=True)
    pending = dict(values)
    section = ""
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("["):
            section = stripped.strip("[]").strip()
            continue
        match = re.match(r"([A-Za-z0-9_.-]+)\s*=", stripped)
        if match and (section, match.group(1)) in pending:
            lines[i] = f'{match.group(1)} = "{pending.pop((section, match.group(1)))}"\n'
    if pending:
        missing = ", ".join(f"[{s}] {k}" for s, k in pending)
        raise HubError(f"unexpected layout of {path}: no {missing}", hint="`hub devnet reset --yes`")
    path.write_text("".join(lines))


def _apply_ports(node_home: Path, ports: DevnetPorts) -> None:
    """Bind every listener to 127.0.0.1 on `ports`; pprof off."""
    config = node_home / "config"
    _set_toml(
        config / "config.toml",
        {
            ("rpc", "laddr"): f"tcp://127.0.0.1:{ports.cometbft_rpc}",
            ("rpc", "pprof_laddr"): "",
            ("p2p", "laddr"): f"tcp://127.0.0.1:{ports.p2p}",
        },
    )
    _set_toml(
        config / "app.toml",
        {
            ("api", "address"): f"tcp://127.0.0.1:{ports.api}",
            ("grpc", "address"): f"127.0.0.1:{ports.grpc}",
            ("json-rpc", "address"): f"127.0.0.1:{ports.json_rpc}",
            ("json-rpc", "ws-address"): f"127.0.0.1:{ports.ws}",
            ("json-rpc", "metrics-address"): f"127.0.0.1:{ports.evm_metrics}",
            ("json-rpc-debug", "address"): f"127.0.0.1:{ports.json_rpc_debug}",
        },
    )
    _set_toml(
        config / "client.toml",
        {("", "node"): f"tcp://127.0.0.1:{ports.cometbft_rpc}", ("", "chain-id"): COSMOS_CHAIN_ID},
    )


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Go's listeners do
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


# -- JSON-RPC, without web3 (keeps `hub devnet status` fast) -------------------------------


def _rpc(url: str, method: str, timeout_s: float = 2.0) -> Any:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": []}).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout_s) as response:
        reply = json.load(response)
    if "error" in reply:
        raise RuntimeError(reply["error"].get("message", "JSON-RPC error"))
    return reply["result"]


def _block_number(url: str) -> int | None:
    try:
        return int(_rpc(url, "eth_blockNumber"), 16)
    except (OSError, RuntimeError, ValueError, urllib.error.URLError):
        return None


# -- processes -------------------------------------------------------------------------------

# @dev Nodes started by this process, so their exit is reaped (a dead child is a zombie to kill(0)).
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def _alive(pid: int) -> bool:
    child = _CHILDREN.get(pid)
    if child is not None:
        return child.poll() is None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    with contextlib.suppress(OSError):
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return True


def _is_our_node(pid: int, node_home: Path) -> bool:
    """The pid is alive and (where /proc exists) is injectived serving `node_home`."""
    if not _alive(pid):
        return False
    cmdline = Path(f"/proc/{pid}/cmdline")
    if not cmdline.exists():
        return True
    with contextlib.suppress(OSError):
        args = cmdline.read_bytes().split(b"\0")
        return any(b"injectived" in a for a in args[:1]) and str(node_home).encode() in args
    return False


class Devnet:
    """The local chain in `config.home`: start, stop, status, reset. Safe to call in any state."""

    def __init__(self, config: DevnetConfig | None = None) -> None:
        self.config = config or DevnetConfig()
        home = self.config.home.expanduser().resolve()
        self.home = home
        self.node_home = home / "node"
        self.pid_file = home / "injectived.pid"
        self.log_file = home / "injectived.log"
        self.state_file = home / "devnet.json"

    # -- queries

    @property
    def initialized(self) -> bool:
        return (self.node_home / "config" / "genesis.json").exists()

    @property
    def ports(self) -> DevnetPorts:
        """The ports of the last start (from devnet.json), else the configured ones."""
        with contextlib.suppress(OSError, ValueError):
            return _State.model_validate_json(self.state_file.read_text()).ports
        return self.config.ports

    @property
    def rpc_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.json_rpc}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.ports.ws}"

    def pid(self) -> int | None:
        """The node's pid if it is running, else None (a stale pid file is ignored)."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if _is_our_node(pid, self.node_home) else None

    def status(self) -> DevnetStatus:
        pid = self.pid()
        height = chain_id = None
        if pid is not None:
            height = _block_number(self.rpc_url)
            with contextlib.suppress(OSError, RuntimeError, ValueError, urllib.error.URLError):
                chain_id = int(_rpc(self.rpc_url, "eth_chainId"), 16)
        return DevnetStatus(
            running=pid is not None,
            pid=pid,
            height=height,
            chain_id=chain_id,
            cosmos_chain_id=COSMOS_CHAIN_ID,
            rpc_url=self.rpc_url,
            ws_url=self.ws_url,
            home=self.home,
            log_file=self.log_file,
            initialized=self.initialized,
        )

    # -- lifecycle

    def start(self) -> DevnetStatus:
        """Start the node detached and wait until it serves block 1. No-op if already running."""
        if self.pid() is not None:
            return self.status()
        self.home.mkdir(parents=True, exist_ok=True)
        with _file_lock(self.home / ".lock"):  # two concurrent starts make one node
            if self.pid() is None:
                self._start_locked()
        return self.status()

    def _start_locked(self) -> None:
        binary = find_injectived(self.config.injectived)
        if not self.initialized:
            self._init_from_template()
        ports = self.config.ports
        busy = [f"{name}={port}" for name, port in ports.model_dump().items() if _port_in_use(port)]
        if busy:
            raise HubError(
                f"devnet ports already in use on 127.0.0.1: {', '.join(busy)}",
                hint="is another devnet running? `hub devnet status`, or pick --port-offset 100",
            )
        _apply_ports(self.node_home, ports)
        state = _State(ports=ports, cosmos_chain_id=COSMOS_CHAIN_ID, evm_chain_id=LOCAL_CHAIN_ID)
        self.state_file.write_text(state.model_dump_json(indent=2) + "\n")
        command = [
            str(binary),
            "start",
            "--home",
            str(self.node_home),
            "--unsafe-consensus-timeout-commit",
            self.config.block_time,
            "--log-no-color",
        ]
        tmp_dir = self.home / "tmp"
        shutil.rmtree(tmp_dir, ignore_errors=True)
        with self.log_file.open("ab") as log:
            child = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=_node_env(binary, tmp_dir),
                cwd=self.home,
                start_new_session=True,  # detached: survives the terminal (and this process)
            )
        _CHILDREN[child.pid] = child
        self.pid_file.write_text(f"{child.pid}\n")
        self._wait_ready(child.pid)

    def stop(self) -> bool:
        """SIGTERM the node and wait for it to exit (SIGKILL after stop_timeout_s).

        Returns False if it was not running.
        """
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        os.kill(pid, signal.SIGTERM)
        if not self._wait_exit(pid, self.config.stop_timeout_s):
            os.kill(pid, signal.SIGKILL)
            self._wait_exit(pid, 10.0)
        _CHILDREN.pop(pid, None)
        self.pid_file.unlink(missing_ok=True)
        return True

    def reset(self) -> None:
        """Stop the node if running and delete its chain state, log and settings."""
        self.stop()
        shutil.rmtree(self.node_home, ignore_errors=True)
        shutil.rmtree(self.home / "tmp", ignore_errors=True)
        for path in (self.state_file, self.pid_file, self.log_file):
            path.unlink(missing_ok=True)

    # -- helpers

    def _init_from_template(self) -> None:
        template = ensure_template(self.config)
        staging = self.home / ".node-copying"
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(template, staging, symlinks=True)
        (staging / ".complete").unlink(missing_ok=True)
        shutil.rmtree(self.node_home, ignore_errors=True)
        staging.rename(self.node_home)

    def _wait_ready(self, pid: int) -> None:
        deadline = time.monotonic() + self.config.ready_timeout_s
        while True:
            if not _alive(pid):
                raise HubError(
                    f"the devnet exited while starting: {self._last_log_line()}",
                    hint=f"see {self.log_file}; `hub devnet reset` starts from a fresh chain",
                )
            height = _block_number(self.rpc_url)
            if height is not None and height >= 1:
                return
            if time.monotonic() > deadline:
                self.stop()
                raise HubError(
                    f"the devnet did not produce block 1 within {self.config.ready_timeout_s:.0f} s",
                    hint=f"see {self.log_file}",
                )
            time.sleep(0.05)

    @staticmethod
    def _wait_exit(pid: int, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while _alive(pid):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def _last_log_line(self) -> str:
        with contextlib.suppress(OSError):
            lines = [ln for ln in self.log_file.read_text(errors="replace").splitlines() if ln.strip()]
            if lines:
                return lines[-1][:300]
        return "no log output"
