"""The pool-metadata schema shared by `hub pool create` and the trainer, and metadata that reaches
other machines: http(s):// (served by `hub pool metadata serve`), ipfs:// through a gateway, each
fetched with a size cap and a timeout and checked against the pool's keccak256."""

from __future__ import annotations

import http.server
import json
import os
import re
import signal
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from eth_utils import keccak

from hub import metadata as metadata_module
from hub.errors import HubError
from hub.metadata import POOL_TRAIN_FIELDS, PoolMetadata, fetch_metadata, parse_pool_metadata
from tests.hub.helpers import INJ, hub_executable, hub_json, run_hub
from tests.hub.test_walkthrough import walkthrough_script
from tests.utils.serving import serving


def _walkthrough_metadata() -> bytes:
    script = walkthrough_script()
    match = re.search(r"cat > pool\.json <<'EOF'\n(.*?)\nEOF\n", script, flags=re.S)
    assert match, "the walkthrough writes pool.json with a heredoc"
    return match.group(1).encode()


def test_the_walkthrough_example_is_valid_for_hub_and_for_the_trainer() -> None:
    from trainer.training.config import TrainConfig

    document = parse_pool_metadata(_walkthrough_metadata())
    assert document.run_id == "walkthrough" and document.train["model"] == "tiny"
    # the trainer builds its run from the same settings: their values must be valid there too
    config = TrainConfig(**document.train, run_id=document.run_id)
    assert (config.model, config.seq_len) == ("tiny", 64)


def test_train_fields_are_trainer_settings() -> None:
    from trainer.training.config import TrainConfig

    assert POOL_TRAIN_FIELDS <= set(TrainConfig.model_fields)
    # node-local settings are not the pool's to choose
    assert not {"device", "checkpoint_dir", "run_id"} & POOL_TRAIN_FIELDS


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"run_id: x", "is not JSON"),
        (b"\xff\xfe", "is not JSON"),
        (b"[1, 2]", "is invalid at the document"),
        (b'{"model": "tiny"}', "is invalid at run_id: Field required"),
        (b'{"run_id": "x", "model": "tiny-llama"}', "is invalid at model: unknown field"),
        (b'{"run_id": "x", "train": {"device": "cuda"}}', "a pool cannot set: device"),
        (b'{"run_id": "has space"}', "is invalid at run_id"),
        (b'{"run_id": "x", "work": {"submit_every_epochs": 0}}', "is invalid at work.submit_every_epochs"),
        (b'{"run_id": "x", "audit": {"hard_factor": 0.5}}', "is invalid at audit.hard_factor"),
    ],
)
def test_bad_documents_are_one_line_naming_the_place(data: bytes, expected: str) -> None:
    with pytest.raises(HubError) as caught:
        parse_pool_metadata(data, source="pool.json")
    message = str(caught.value)
    assert message.startswith("pool.json ") and expected in message and "\n" not in message
    assert "hub/README.md" in message  # the hint says where the schema is


def test_slash_is_wei_as_a_decimal_string() -> None:
    wei = "123456789012345678901234567890"
    document = parse_pool_metadata(json.dumps({"run_id": "x", "audit": {"slash": wei}}).encode())
    assert document.audit.slash == int(wei)
    assert PoolMetadata.model_validate({"run_id": "x"}).audit.slash == 0


def test_metadata_check_command(tmp_path: Path) -> None:
    good = tmp_path / "pool.json"
    good.write_bytes(_walkthrough_metadata())
    result = run_hub("pool", "metadata", "check", good)
    assert f"keccak256 0x{keccak(good.read_bytes()).hex()}" in result.output
    bad = tmp_path / "bad.json"
    bad.write_text('{"run_id": "x", "dataset": "corpus.txt"}')
    result = run_hub("pool", "metadata", "check", bad, ok=False)
    assert result.exit_code == 1 and "is invalid at dataset: unknown field" in result.output


# -- hosting ---------------------------------------------------------------------------------------


@contextmanager
def _metadata_server(path: Path) -> Iterator[tuple[subprocess.Popen, str, str]]:
    """`hub pool metadata serve FILE --host 127.0.0.1 --port 0` as typed; yields its two URLs."""
    process = subprocess.Popen(
        [hub_executable(), "pool", "metadata", "serve", str(path), "--host", "127.0.0.1", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )
    try:
        first = process.stdout.readline()  # printed once the socket is bound
        urls = re.findall(r"http://127\.0\.0\.1:\d+/\S+", first)
        assert len(urls) == 2, (first, process.stderr.read())
        yield process, urls[0], urls[1]
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=30)


def test_metadata_serve_as_typed_serves_the_bytes_the_pool_commits_to(tmp_path: Path) -> None:
    path = tmp_path / "pool.json"
    data = _walkthrough_metadata()
    path.write_bytes(data)
    with _metadata_server(path) as (process, by_name, by_hash):
        assert by_name.endswith("/pool.json") and by_hash.endswith(f"/0x{keccak(data).hex()}.json")
        assert fetch_metadata(by_name, keccak(data)) == data
        assert fetch_metadata(by_hash, "0x" + keccak(data).hex()) == data
        # editing the file afterwards changes nothing that nodes see
        path.write_bytes(b'{"run_id": "edited"}')
        assert fetch_metadata(by_name, keccak(data)) == data
        with pytest.raises(HubError, match="HTTP 404"):
            fetch_metadata(by_name.replace("pool.json", "other.json"), None)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
        assert "Traceback" not in process.stderr.read()


def test_metadata_serve_refuses_an_invalid_file(tmp_path: Path) -> None:
    path = tmp_path / "pool.json"
    path.write_text("not json")
    result = subprocess.run(
        [hub_executable(), "pool", "metadata", "serve", str(path), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith("error: ") and "is not JSON" in result.stderr and result.stderr.count("\n") == 1


def test_ipfs_uris_go_through_the_configured_gateway(monkeypatch: pytest.MonkeyPatch) -> None:
    data = b'{"run_id": "from-ipfs"}'
    asked: list[str] = []

    class Gateway(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            asked.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args) -> None:
            pass

    with serving(http.server.ThreadingHTTPServer(("127.0.0.1", 0), Gateway)) as base:
        monkeypatch.setenv("HUB_IPFS_GATEWAY", base + "/")
        assert fetch_metadata("ipfs://bafyexamplecid/pool.json", keccak(data)) == data
        with pytest.raises(HubError, match="does not match the pool's hash"):
            fetch_metadata("ipfs://bafyexamplecid", b"\x01" * 32)
    assert asked == ["/ipfs/bafyexamplecid/pool.json", "/ipfs/bafyexamplecid"]
    monkeypatch.setenv("HUB_IPFS_GATEWAY", "ftp://gateway")
    with pytest.raises(HubError, match="HUB_IPFS_GATEWAY"):
        fetch_metadata("ipfs://bafyexamplecid", None)


def test_the_default_gateway_is_public() -> None:
    os.environ.pop("HUB_IPFS_GATEWAY", None)
    assert metadata_module.ipfs_gateway_url("ipfs://cid/a.json") == "https://ipfs.io/ipfs/cid/a.json"


def test_http_fetch_is_capped_and_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metadata_module, "MAX_METADATA_BYTES", 1000)

    class Big(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"x" * 5000)

        def log_message(self, *args) -> None:
            pass

    with serving(http.server.ThreadingHTTPServer(("127.0.0.1", 0), Big)) as base:
        with pytest.raises(HubError, match="larger than 1000 bytes"):
            fetch_metadata(base + "/pool.json", None)

    # a host that accepts the connection and never answers: the fetch gives up at its timeout
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        with pytest.raises(HubError, match="cannot fetch pool metadata"):
            fetch_metadata(f"http://127.0.0.1:{silent.getsockname()[1]}/pool.json", None, timeout_s=0.5)


# -- hub pool create -------------------------------------------------------------------------------


def test_pool_create_checks_the_document_and_the_hosted_copy_before_sending(world, tmp_path: Path) -> None:
    creator = world.actor("meta-creator")
    client = world.client()
    nonce = client.w3.eth.get_transaction_count(creator.address)
    as_creator = ["--budget", "1", "--reward-per-unit", "0.001", "--challenge-window", "5s", "--account", creator.name]

    not_json = tmp_path / "notes.txt"
    not_json.write_text("train the tiny model please")
    result = run_hub("pool", "create", "--metadata", not_json, *as_creator, ok=False)
    assert result.exit_code == 1 and "is not JSON" in result.output
    unknown = tmp_path / "unknown.json"
    unknown.write_text('{"run_id": "x", "model": "tiny-llama"}')
    result = run_hub("pool", "create", "--metadata", unknown, *as_creator, ok=False)
    assert result.exit_code == 1 and "is invalid at model: unknown field" in result.output

    path = tmp_path / "pool.json"
    path.write_bytes(_walkthrough_metadata())
    other = tmp_path / "other.json"
    other.write_text('{"run_id": "other"}')
    with _metadata_server(other) as (_, wrong_url, _):
        result = run_hub("pool", "create", "--metadata", path, "--metadata-uri", wrong_url, *as_creator, ok=False)
    assert result.exit_code == 1 and "--metadata-uri does not serve this file" in result.output
    assert "hub pool metadata serve" in result.output
    assert client.w3.eth.get_transaction_count(creator.address) == nonce  # nothing was sent

    with _metadata_server(path) as (_, url, _):
        created = hub_json("pool", "create", "--metadata", path, "--metadata-uri", url, *as_creator)
        pool = client.pool.get(created["pool_id"])
        assert pool.metadata_uri == url
        # what a node on another machine does: fetch from the chain's URI, verified by the chain's hash
        assert client.pool.metadata(created["pool_id"]) == path.read_bytes()
    assert client.rewards.budget(created["pool_id"]).funded == INJ
