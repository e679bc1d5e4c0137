"""Parsing what users type (amounts, addresses, keys, durations, roles) and pool metadata URIs."""

from __future__ import annotations

import base64
import http.server
from pathlib import Path

import pytest
from eth_utils import keccak

from hub.amounts import format_inj, inj_number, parse_amount
from hub.errors import HubError
from hub.inputs import parse_address, parse_bytes32, parse_duration, role_id
from hub.metadata import MAX_URI_BYTES, fetch_metadata, load_metadata_json, publish_metadata
from tests.utils.serving import serving

INJ = 10**18


@pytest.mark.parametrize(
    ("text", "wei"),
    [
        ("100", 100 * INJ),
        ("100inj", 100 * INJ),
        ("100 INJ", 100 * INJ),
        ("0.5", INJ // 2),
        (".25", INJ // 4),
        ("1000wei", 1000),
        ("1 WEI", 1),
        ("0", 0),
        ("0.000000000000000001", 1),
        ("12.", 12 * INJ),
    ],
)
def test_amounts(text: str, wei: int) -> None:
    assert parse_amount(text) == wei


@pytest.mark.parametrize("text", ["", "-1", "1e18", "abc", "1.5wei", "0.0000000000000000001", "1,000", "10 eth"])
def test_bad_amounts(text: str) -> None:
    with pytest.raises(HubError, match="invalid amount"):
        parse_amount(text)


def test_zero_can_be_refused_and_amounts_print_exactly() -> None:
    with pytest.raises(HubError, match="must be more than zero"):
        parse_amount("0inj", allow_zero=False)
    assert format_inj(1_234_500_000_000_000_000_000) == "1,234.5 INJ"
    assert inj_number(1_234_500_000_000_000_000_000) == "1234.5"
    assert format_inj(1) == "0.000000000000000001 INJ"
    assert parse_amount(inj_number(123_456_789_123_456_789_123)) == 123_456_789_123_456_789_123


def test_addresses_keys_durations_roles() -> None:
    lower = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"
    assert parse_address(lower) == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
    with pytest.raises(HubError, match="bad checksum"):
        parse_address("0xF39fd6e51aad88F6F4ce6aB8827279cffFb92266")
    with pytest.raises(HubError, match="zero address"):
        parse_address("0x" + "0" * 40)
    assert parse_bytes32("0x" + "ab" * 32) == b"\xab" * 32
    with pytest.raises(HubError, match="invalid work key"):
        parse_bytes32("0xab")
    assert [parse_duration(t) for t in ("30", "30s", "5m", "2h", "7d")] == [30, 30, 300, 7200, 604800]
    with pytest.raises(HubError, match="invalid duration"):
        parse_duration("soon")
    assert role_id("admin") == b"\x00" * 32
    assert role_id("VALIDATOR_ROLE") == role_id("validator") == keccak(text="VALIDATOR_ROLE")
    with pytest.raises(HubError, match="unknown role"):
        role_id("root")


# -- metadata


def test_publish_as_file_uri_and_fetch(tmp_path: Path) -> None:
    path = tmp_path / "pool meta.json"
    path.write_bytes(b'{"run_id": "x"}')
    published = publish_metadata(path)
    assert published.uri == path.resolve().as_uri() and published.uri.startswith("file:///")
    assert published.hash == keccak(path.read_bytes())
    assert fetch_metadata(published.uri, published.hash) == path.read_bytes()
    assert load_metadata_json(published.uri, "0x" + published.hash.hex()) == {"run_id": "x"}
    path.write_bytes(b'{"run_id": "changed"}')
    with pytest.raises(HubError, match="does not match the pool's hash"):
        fetch_metadata(published.uri, published.hash)


def test_publish_inline_and_bounds(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_bytes(b'{"a": 1}')
    published = publish_metadata(path, inline=True)
    assert published.uri == "data:application/json;base64," + base64.b64encode(b'{"a": 1}').decode()
    assert fetch_metadata(published.uri, published.hash) == b'{"a": 1}'
    assert fetch_metadata("data:,hello%20world", keccak(b"hello world")) == b"hello world"
    path.write_bytes(b"x" * MAX_URI_BYTES)
    with pytest.raises(HubError, match="a pool stores at most 256"):
        publish_metadata(path, inline=True)
    with pytest.raises(HubError, match="unsupported metadata URI"):
        publish_metadata(path, uri="ftp://example.org/m.json")
    (tmp_path / "empty.json").write_bytes(b"")
    with pytest.raises(HubError, match="is empty"):
        publish_metadata(tmp_path / "empty.json")


def test_fetch_over_http(tmp_path: Path) -> None:
    (tmp_path / "pool.json").write_bytes(b'{"served": true}')

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(tmp_path), **kwargs)

        def log_message(self, *args) -> None:
            pass

    with serving(http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)) as base:
        assert load_metadata_json(f"{base}/pool.json", keccak(b'{"served": true}')) == {"served": True}
        with pytest.raises(HubError, match="HTTP 404"):
            fetch_metadata(f"{base}/missing.json", None)
        with pytest.raises(HubError, match="does not match"):
            fetch_metadata(f"{base}/pool.json", b"\x00" * 32)
