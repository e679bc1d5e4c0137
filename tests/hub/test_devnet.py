"""`hub.devnet` against a real injectived: start, status, stop, restart, kill -9, reset."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
from eth_account import Account
from typer.testing import CliRunner

from hub.cli.main import app
from hub.devkeys import DEV_ADDRESSES, DEV_BALANCE_WEI, LOCAL_CHAIN_ID
from hub.devnet import COSMOS_CHAIN_ID, Devnet, DevnetConfig, ensure_template
from hub.errors import HubError
from tests.utils.waiting import wait_until

INJ = 10**18
runner = CliRunner()


def _fresh_address() -> str:
    return Account.create().address


def _wait_until_dead(pid: int) -> None:
    """Wait for the process to be gone (reaped, if it is our child)."""

    def gone() -> bool:
        try:
            reaped, _ = os.waitpid(pid, os.WNOHANG)
            return reaped == pid
        except ChildProcessError:  # not our child: gone when no process has its pid
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return True
            return False

    wait_until(gone, 30, f"pid {pid} to exit", poll=0.05)


def _wait_for_height(chain: Devnet, height: int) -> None:
    wait_until(lambda: (chain.status().height or 0) >= height, 60, f"the chain to reach height {height}", poll=0.05)


def test_session_devnet_serves_the_local_chain(devnet: Devnet, w3) -> None:
    status = devnet.status()
    assert status.running and status.pid is not None
    assert status.chain_id == LOCAL_CHAIN_ID == w3.eth.chain_id
    assert status.cosmos_chain_id == COSMOS_CHAIN_ID
    assert status.rpc_url == devnet.rpc_url == f"http://127.0.0.1:{devnet.config.ports.json_rpc}"
    assert w3.eth.get_block("latest")["gasLimit"] == 30_000_000
    _wait_for_height(devnet, status.height + 2)  # blocks keep coming


def test_dev_accounts_are_funded_in_genesis(w3) -> None:
    for address in DEV_ADDRESSES:
        assert w3.eth.get_balance(address, block_identifier=1) == DEV_BALANCE_WEI


def test_node_listens_on_loopback_only(devnet: Devnet) -> None:
    pid = devnet.pid()
    listening = _listening_addresses(pid)
    assert listening, "no listening sockets found for the node"
    assert {host for host, _ in listening} == {"127.0.0.1"}
    assert {port for _, port in listening} <= set(devnet.ports.model_dump().values())


def _listening_addresses(pid: int) -> set[tuple[str, int]]:
    """(host, port) of the TCP sockets `pid` listens on, from /proc (Linux)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        target = os.readlink(f"/proc/{pid}/fd/{fd}")
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = set()
    for table in ("tcp", "tcp6"):
        with open(f"/proc/{pid}/net/{table}") as handle:
            for line in handle.readlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and fields[9] in inodes:  # 0A = LISTEN
                    host_hex, port_hex = fields[1].split(":")
                    host = ".".join(str(b) for b in bytes.fromhex(host_hex)[::-1]) if table == "tcp" else host_hex
                    found.add((host, int(port_hex, 16)))
    return found


def test_start_is_idempotent(devnet: Devnet) -> None:
    pid = devnet.pid()
    assert Devnet(devnet.config).start().pid == pid


def test_stop_then_start_keeps_state(make_devnet, transfer) -> None:
    from hub.networks import Network, connect

    chain = make_devnet()
    first = chain.start()
    w3 = connect(Network(name="t", rpc_url=chain.rpc_url, chain_id=LOCAL_CHAIN_ID))
    payee = _fresh_address()
    receipt = transfer(w3, 1, payee, 3 * INJ)

    assert chain.stop() is True
    stopped = chain.status()
    assert not stopped.running and stopped.pid is None and stopped.height is None
    assert not chain.pid_file.exists()
    _wait_until_dead(first.pid)
    assert chain.stop() is False  # already stopped

    second = chain.start()
    assert second.pid != first.pid
    assert second.height >= receipt["blockNumber"]
    assert w3.eth.get_balance(payee) == 3 * INJ


def test_state_survives_kill_9(make_devnet, transfer) -> None:
    from hub.networks import Network, connect

    chain = make_devnet()
    first = chain.start()
    w3 = connect(Network(name="t", rpc_url=chain.rpc_url, chain_id=LOCAL_CHAIN_ID))
    payee = _fresh_address()
    receipt = transfer(w3, 2, payee, 5 * INJ)
    _wait_for_height(chain, receipt["blockNumber"] + 2)

    os.kill(first.pid, signal.SIGKILL)
    _wait_until_dead(first.pid)
    assert chain.status().running is False
    assert chain.pid_file.exists()  # stale: start must see through it

    second = chain.start()
    assert second.running and second.pid != first.pid
    assert w3.eth.get_balance(payee) == 5 * INJ
    assert w3.eth.get_transaction_receipt(receipt["transactionHash"])["status"] == 1


def test_reset_wipes_state(make_devnet, transfer) -> None:
    from hub.networks import Network, connect

    chain = make_devnet()
    chain.start()
    w3 = connect(Network(name="t", rpc_url=chain.rpc_url, chain_id=LOCAL_CHAIN_ID))
    payee = _fresh_address()
    receipt = transfer(w3, 3, payee, INJ)

    chain.reset()
    assert not chain.node_home.exists() and not chain.log_file.exists()
    assert chain.status().initialized is False

    chain.start()
    assert w3.eth.get_balance(payee) == 0
    assert w3.eth.get_balance(DEV_ADDRESSES[3]) == DEV_BALANCE_WEI  # the fee and the INJ are back
    with pytest.raises(Exception, match="not found"):
        w3.eth.get_transaction_receipt(receipt["transactionHash"])


def test_status_of_a_devnet_never_started(tmp_path) -> None:
    status = Devnet(DevnetConfig(home=tmp_path / "nothing")).status()
    assert (status.running, status.initialized, status.pid, status.height) == (False, False, None, None)


def test_a_reused_pid_is_not_taken_for_the_node(make_devnet) -> None:
    chain = make_devnet()
    chain.home.mkdir(parents=True)
    chain.pid_file.write_text(f"{os.getpid()}\n")  # alive, but not injectived serving this home
    assert chain.pid() is None
    assert chain.stop() is False  # and, above all, this test process is still alive


def test_ports_in_use_is_a_clear_error(devnet: Devnet, make_devnet) -> None:
    clash = make_devnet("clash", ports=devnet.config.ports)
    with pytest.raises(HubError, match="ports already in use") as raised:
        clash.start()
    assert raised.value.hint and "--port-offset" in raised.value.hint


def test_template_is_built_once_and_reused(devnet: Devnet) -> None:
    template = ensure_template(devnet.config)
    marker = template / ".complete"
    before = marker.stat().st_mtime_ns
    assert ensure_template(devnet.config) == template
    assert marker.stat().st_mtime_ns == before
    genesis = json.loads((template / "config" / "genesis.json").read_text())
    assert genesis["app_state"]["evm"]["params"]["chain_config"]["eip155_chain_id"] == "777"


def test_cli_status_json(devnet: Devnet) -> None:
    result = runner.invoke(app, ["devnet", "status", "--json", "--home", str(devnet.home)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["running"] is True
    assert data["pid"] == devnet.pid()
    assert data["chain_id"] == LOCAL_CHAIN_ID
    assert data["height"] >= 1
    assert data["rpc_url"] == devnet.rpc_url


def test_cli_start_detaches_and_stop_stops(make_devnet, port_offset: int) -> None:
    """`hub devnet start` in its own process: the node outlives it; `hub devnet stop` ends it."""
    chain = make_devnet("cli")  # only for clean-up and for reading its state
    home = ["--home", str(chain.home)]

    def hub(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "hub.cli.main", *args], capture_output=True, text=True)

    started = hub("devnet", "start", "--port-offset", str(port_offset), "--json", *home)
    assert started.returncode == 0, started.stderr
    pid = json.loads(started.stdout)["pid"]
    status = json.loads(hub("devnet", "status", "--json", *home).stdout)
    assert status["running"] and status["pid"] == pid
    assert status["rpc_url"] == f"http://127.0.0.1:{8545 + port_offset}"
    assert hub("devnet", "stop", *home).stdout.strip() == "devnet stopped"
    assert json.loads(hub("devnet", "status", "--json", *home).stdout)["running"] is False


def test_cli_reset_asks_first(make_devnet) -> None:
    chain = make_devnet()
    chain.start()
    chain.stop()
    # no terminal to ask in (a script): nothing is deleted, and the error names --yes
    unasked = runner.invoke(app, ["devnet", "reset", "--home", str(chain.home)], input="y\n")
    assert unasked.exit_code == 1
    assert unasked.output.startswith("error: not confirmed, nothing was done: delete the local chain in ")
    assert "pass --yes" in unasked.output
    assert chain.status().initialized
    accepted = runner.invoke(app, ["devnet", "reset", "--yes", "--home", str(chain.home)])
    assert accepted.exit_code == 0, accepted.output
    assert not chain.status().initialized


def test_cli_without_injectived_says_how_to_install(monkeypatch, tmp_path) -> None:
    monkeypatch.setitem(sys.modules, "injective_core", None)  # `import injective_core` fails
    monkeypatch.setenv("PATH", str(tmp_path))
    result = runner.invoke(app, ["devnet", "start", "--home", str(tmp_path / "h")])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert "pip install 'injective-ai-hub[devnet]'" in lines[0]


def test_cli_accounts_prints_the_public_dev_keys() -> None:
    result = runner.invoke(app, ["devnet", "accounts", "--json"])
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert "KNOWN-PUBLIC" in data["warning"]
    assert [a["address"] for a in data["accounts"]] == list(DEV_ADDRESSES)
    for row in data["accounts"]:
        assert Account.from_key(row["private_key"]).address == row["address"]


def test_concurrent_starts_make_one_node(make_devnet) -> None:
    from concurrent.futures import ThreadPoolExecutor

    chain = make_devnet()
    with ThreadPoolExecutor(3) as pool:
        pids = {s.pid for s in pool.map(lambda _: Devnet(chain.config).start(), range(3))}
    assert len(pids) == 1 and pids == {chain.pid()}
