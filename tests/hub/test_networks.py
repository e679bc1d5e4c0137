"""The network table, its overrides, and `connect` (chain id check, retries) against real servers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from typer.testing import CliRunner

from hub.cli.main import app
from hub.devnet import Devnet
from hub.errors import HubError
from hub.networks import (
    BUILTIN_NETWORKS,
    MAINNET_CHAIN_ID,
    TESTNET_CHAIN_ID,
    Network,
    connect,
    load_config,
    network_table,
    resolve_network,
)
from tests.utils.serving import serving

runner = CliRunner()


def test_builtin_networks() -> None:
    assert {n: (v.chain_id, v.rpc_url.split("://")[0]) for n, v in BUILTIN_NETWORKS.items()} == {
        "local": (777, "http"),
        "injective-testnet": (TESTNET_CHAIN_ID, "https"),
        "injective-mainnet": (MAINNET_CHAIN_ID, "https"),
    }
    assert BUILTIN_NETWORKS["local"].rpc_url == "http://127.0.0.1:8545"


def test_local_is_the_default() -> None:
    assert resolve_network().name == "local"


def _write_config(tmp_path, text: str) -> None:
    (tmp_path / "networks.toml").write_text(text)  # HUB_CONFIG points here (conftest)


def test_precedence_flag_then_env_then_config_then_local(tmp_path, monkeypatch) -> None:
    _write_config(tmp_path, 'default = "injective-testnet"\n')
    assert resolve_network().name == "injective-testnet"
    monkeypatch.setenv("HUB_NETWORK", "injective-mainnet")
    assert resolve_network().name == "injective-mainnet"
    assert resolve_network("local").name == "local"


def test_hub_rpc_url_replaces_the_url_but_keeps_the_chain_id(monkeypatch) -> None:
    monkeypatch.setenv("HUB_RPC_URL", "http://10.1.2.3:8545")
    net = resolve_network("injective-mainnet")
    assert (net.rpc_url, net.chain_id) == ("http://10.1.2.3:8545", MAINNET_CHAIN_ID)


def test_a_url_selects_an_unnamed_network_with_any_chain_id() -> None:
    net = resolve_network("http://127.0.0.1:9999")
    assert (net.rpc_url, net.chain_id) == ("http://127.0.0.1:9999", None)


@pytest.mark.parametrize("selector", ["ws://127.0.0.1:8546", "mainnet"])
def test_bad_selectors_are_one_line_errors(selector: str) -> None:
    with pytest.raises(HubError) as raised:
        resolve_network(selector)
    assert "\n" not in str(raised.value)


def test_config_file_overrides_and_adds_networks(tmp_path) -> None:
    _write_config(
        tmp_path,
        '[networks.injective-testnet]\nrpc_url = "https://my-node.example"\n'
        '[networks.staging]\nrpc_url = "http://10.0.0.5:8545"\nchain_id = 1439\n',
    )
    table = network_table()
    assert table["injective-testnet"].rpc_url == "https://my-node.example"
    assert table["injective-testnet"].chain_id == TESTNET_CHAIN_ID
    assert table["staging"] == Network(name="staging", rpc_url="http://10.0.0.5:8545", chain_id=1439)
    assert table["injective-mainnet"] == BUILTIN_NETWORKS["injective-mainnet"]


def test_config_file_errors_name_the_file(tmp_path) -> None:
    _write_config(tmp_path, "[networks.x\n")
    with pytest.raises(HubError, match="networks.toml"):
        load_config()
    _write_config(tmp_path, '[networks.x]\nrpc_url = "http://a:1"\n')
    with pytest.raises(HubError, match="needs both rpc_url and chain_id"):
        network_table()


def test_connect_verifies_the_chain_id(devnet: Devnet) -> None:
    assert connect(Network(name="local", rpc_url=devnet.rpc_url, chain_id=777)).eth.chain_id == 777
    assert connect(devnet.rpc_url).eth.block_number >= 1  # a bare URL takes any chain id
    with pytest.raises(HubError, match="chain id mismatch") as raised:
        connect(Network(name="injective-mainnet", rpc_url=devnet.rpc_url, chain_id=MAINNET_CHAIN_ID))
    assert "expects 1776" in str(raised.value) and "serves 777" in str(raised.value)


def test_connect_to_nothing_fails_after_retries(port_offset: int) -> None:
    url = f"http://127.0.0.1:{8545 + port_offset}"  # a free port: nobody listens
    with pytest.raises(HubError, match=r"cannot reach network 'local' .* after 3 tries: connection refused") as e:
        connect(Network(name="local", rpc_url=url, chain_id=777), retries=2, backoff_s=0.01)
    assert "hub devnet start" in (e.value.hint or "")


class _Flaky(BaseHTTPRequestHandler):
    """Answers HTTP 503 to the first `failures` requests, then eth_chainId = 777."""

    failures = 0
    seen = 0

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen += 1
        if type(self).seen <= type(self).failures:
            self.send_response(503)
            self.end_headers()
            return
        body = json.dumps({"jsonrpc": "2.0", "id": request["id"], "result": hex(777)}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def flaky_node() -> Iterator[tuple[str, type[_Flaky]]]:
    handler = type("Handler", (_Flaky,), {"failures": 2, "seen": 0})
    with serving(ThreadingHTTPServer(("127.0.0.1", 0), handler)) as url:
        yield url, handler


def test_transient_errors_are_retried(flaky_node) -> None:
    url, handler = flaky_node
    assert connect(Network(name="flaky", rpc_url=url, chain_id=777), retries=2, backoff_s=0.01)
    assert handler.seen == 3


def test_retries_are_bounded(flaky_node) -> None:
    url, handler = flaky_node
    with pytest.raises(HubError, match="after 2 tries"):
        connect(Network(name="flaky", rpc_url=url, chain_id=777), retries=1, backoff_s=0.01)
    assert handler.seen == 2


def test_cli_check_uses_hub_rpc_url(devnet: Devnet, monkeypatch) -> None:
    monkeypatch.setenv("HUB_RPC_URL", devnet.rpc_url)
    ok = runner.invoke(app, ["network", "check", "--json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)["chain_id"] == 777
    wrong = runner.invoke(app, ["network", "check", "injective-mainnet"])
    assert wrong.exit_code == 1
    assert wrong.output.count("\n") == 1 and wrong.output.startswith("error: chain id mismatch")


def test_cli_list_json_includes_config_networks(tmp_path) -> None:
    _write_config(tmp_path, '[networks.staging]\nrpc_url = "http://10.0.0.5:8545"\nchain_id = 1439\n')
    result = runner.invoke(app, ["network", "list", "--json"])
    assert result.exit_code == 0
    names = [n["name"] for n in json.loads(result.output)]
    assert names == ["local", "injective-testnet", "injective-mainnet", "staging"]
