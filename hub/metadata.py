"""Pool metadata: publish a file's bytes under a URI with their keccak256, fetch and verify them.

A pool stores `metadataURI` and `metadataHash = keccak256(file bytes)`. `publish_metadata` turns a
local file into that pair: a `file://` absolute URI (the default: same machine, e.g. the local
chain), a `data:` URI that carries the bytes themselves (small files only: the contract keeps at
most 256 bytes of URI), or a URI the user hosts the same bytes at (http(s)://, for example served by
`hub pool metadata serve`, or ipfs://). `fetch_metadata` reads file://, data:, http(s):// (at most
MAX_METADATA_BYTES, with a timeout) and ipfs:// (through the HUB_IPFS_GATEWAY gateway) and refuses
bytes whose hash differs, so a trainer never runs on metadata other than what the pool committed to.

The document itself has one schema, `PoolMetadata`, used by `hub pool create` (checked before
anything is sent) and by the trainer (`trainer join`, the aux peer): see hub/README.md, "Pool
metadata". `hub` checks the document's shape and which training settings a pool may set; the
trainer also checks each setting's value when it builds its run configuration (hub cannot import
the trainer, which sits above it).
"""

from __future__ import annotations

import base64
import json
import mimetypes
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, unquote_to_bytes, urlparse

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from hub.errors import HubError, UsageError

# @dev The contract stores the URI as String[256].
MAX_URI_BYTES = 256
# @dev Largest metadata document fetched (a JSON description, not a data set).
MAX_METADATA_BYTES = 16 * 1024 * 1024
SCHEMES = ("file", "data", "http", "https", "ipfs")
# @dev ipfs:// URIs are read through this HTTP gateway unless HUB_IPFS_GATEWAY names another (a local
#      node's http://127.0.0.1:8080, say): the bytes are checked against the pool's hash either way,
#      so a gateway can withhold the document but not change it.
DEFAULT_IPFS_GATEWAY = "https://ipfs.io"


@dataclass(frozen=True)
class PublishedMetadata:
    """What `hub pool create` records on chain for a metadata file."""

    uri: str
    hash: bytes
    size: int


def metadata_hash(data: bytes) -> bytes:
    """keccak256 of the metadata bytes: the pool's `metadataHash`."""
    from eth_utils import keccak

    return keccak(data)


def _media_type(path: Path) -> str:
    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def data_uri(data: bytes, media_type: str = "application/json") -> str:
    """A base64 `data:` URI carrying `data`."""
    return f"data:{media_type};base64,{base64.b64encode(data).decode()}"


def _check_uri(uri: str) -> str:
    scheme = urlparse(uri).scheme.lower()
    if scheme not in SCHEMES:
        raise HubError(
            f"unsupported metadata URI {uri[:80]!r}", hint=f"use one of: {', '.join(s + ':' for s in SCHEMES)}"
        )
    if len(uri.encode()) > MAX_URI_BYTES:
        raise HubError(
            f"metadata URI is {len(uri.encode())} bytes; a pool stores at most {MAX_URI_BYTES}",
            hint="publish the file under a shorter URI (file:// path or https://) instead of a data: URI",
        )
    return uri


def publish_metadata(path: Path, *, inline: bool = False, uri: str | None = None) -> PublishedMetadata:
    """The URI and hash under which a pool publishes the metadata file at `path`.

    Default: the file's absolute `file://` URI. `inline`: a `data:` URI with the bytes. `uri`: a
    place where the same bytes are already hosted (checked only for its form, not fetched).
    """
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise HubError(f"cannot read metadata file {path}: {exc.strerror}", hint="pass --metadata FILE") from None
    if not data:
        raise HubError(f"metadata file {path} is empty", hint="the trainer reads the pool's run from it")
    if inline and uri is not None:
        raise UsageError("--inline and --metadata-uri exclude each other", hint="pick one way to publish the file")
    if inline:
        chosen = data_uri(data, _media_type(Path(path)))
    elif uri is not None:
        chosen = uri
    else:
        chosen = Path(path).resolve().as_uri()
    return PublishedMetadata(uri=_check_uri(chosen), hash=metadata_hash(data), size=len(data))


def _read_data_uri(uri: str) -> bytes:
    header, sep, payload = uri[len("data:") :].partition(",")
    if not sep:
        raise HubError("malformed data: URI (no comma)", hint="data:[<type>][;base64],<data>")
    if header.lower().endswith(";base64"):
        try:
            return base64.b64decode(payload, validate=True)
        except ValueError:
            raise HubError("malformed data: URI (bad base64)") from None
    return unquote_to_bytes(payload)


def _read_file_uri(uri: str) -> bytes:
    parsed = urlparse(uri)
    if parsed.netloc not in ("", "localhost"):
        raise HubError(f"file URI on another host: {uri}", hint="copy the file here or publish it over https://")
    path = Path(unquote(parsed.path))
    try:
        with path.open("rb") as handle:
            return handle.read(MAX_METADATA_BYTES + 1)
    except OSError as exc:
        raise HubError(
            f"cannot read pool metadata at {path}: {exc.strerror}",
            hint="a file:// URI only works on the machine that has the file; ask the pool operator for a copy",
        ) from None


def _read_http(uri: str, timeout_s: float) -> bytes:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(uri, headers={"User-Agent": "injective-ai-hub"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return response.read(MAX_METADATA_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise HubError(f"fetching pool metadata from {uri} failed: HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise HubError(
            f"cannot fetch pool metadata from {uri}: {reason}", hint="check the URL and your connection"
        ) from None


def ipfs_gateway_url(uri: str) -> str:
    """The gateway URL of an ipfs:// URI: `ipfs://CID/path` -> `<gateway>/ipfs/CID/path`."""
    import os

    parsed = urlparse(uri)
    if not parsed.netloc:
        raise HubError(f"malformed ipfs URI {uri[:80]!r}", hint="write ipfs://<CID> or ipfs://<CID>/<path>")
    gateway = os.environ.get("HUB_IPFS_GATEWAY") or DEFAULT_IPFS_GATEWAY
    if urlparse(gateway).scheme not in ("http", "https"):
        raise HubError(f"HUB_IPFS_GATEWAY={gateway!r} is not an http(s) URL", hint="for example https://ipfs.io")
    return f"{gateway.rstrip('/')}/ipfs/{parsed.netloc}{parsed.path}"


def fetch_metadata(uri: str, expected_hash: bytes | str | None, *, timeout_s: float = 30.0) -> bytes:
    """The bytes at `uri` (file://, data:, http(s)://, ipfs://), verified against `expected_hash`
    (keccak256; bytes or 0x-hex; None skips the check)."""
    scheme = urlparse(uri).scheme.lower()
    if scheme == "data":
        data = _read_data_uri(uri)
    elif scheme == "file":
        data = _read_file_uri(uri)
    elif scheme in ("http", "https"):
        data = _read_http(uri, timeout_s)
    elif scheme == "ipfs":
        data = _read_http(ipfs_gateway_url(uri), timeout_s)
    else:
        raise HubError(f"unsupported metadata URI {uri[:80]!r}", hint=f"supported: {', '.join(SCHEMES)}")
    if len(data) > MAX_METADATA_BYTES:
        raise HubError(f"pool metadata at {uri[:80]} is larger than {MAX_METADATA_BYTES} bytes")
    if expected_hash is not None:
        want = bytes.fromhex(expected_hash.removeprefix("0x")) if isinstance(expected_hash, str) else expected_hash
        got = metadata_hash(data)
        if got != want:
            raise HubError(
                f"pool metadata at {uri[:80]} does not match the pool's hash: got 0x{got.hex()}, want 0x{want.hex()}",
                hint="the file changed after the pool was created; ask the pool operator for the original",
            )
    return data


def check_served(published: PublishedMetadata) -> None:
    """Fetch a hosted (http(s):// or ipfs://) metadata URI and compare it with the published file,
    before a pool escrows a budget behind metadata that nodes cannot read; other URIs carry the
    bytes themselves (data:) or are local (file:)."""
    if urlparse(published.uri).scheme.lower() not in ("http", "https", "ipfs"):
        return
    try:
        fetch_metadata(published.uri, published.hash, timeout_s=15.0)
    except HubError as exc:
        raise HubError(
            f"--metadata-uri does not serve this file: {exc.message}",
            hint="host the same bytes there first (`hub pool metadata serve FILE` serves them)",
        ) from None


def load_metadata_json(uri: str, expected_hash: bytes | str | None, *, timeout_s: float = 30.0) -> Any:
    """`fetch_metadata`, then parsed as JSON."""
    data = fetch_metadata(uri, expected_hash, timeout_s=timeout_s)
    try:
        return json.loads(data)
    except (UnicodeDecodeError, ValueError) as exc:
        raise HubError(f"pool metadata at {uri[:80]} is not JSON: {exc}") from None


# -- the document ---------------------------------------------------------------------------------

# @dev Training settings a pool may set (fields of the trainer's TrainConfig): the swarm-wide ones and
#      the data and schedule. Node-local settings (device, checkpoint folder, listening addresses,
#      identity) stay the node's own. tests/hub/test_pool_metadata.py keeps this in step with TrainConfig.
POOL_TRAIN_FIELDS = frozenset(
    {
        "model",
        "tokenizer",
        "seed",
        "data",
        "data_split",
        "text_field",
        "data_shards",
        "shuffle_buffer",
        "seq_len",
        "batch_size",
        "target_batch_size",
        "averaging",
        "compression",
        "average_state_every",
        "matchmaking_time",
        "averaging_timeout",
        "lr",
        "warmup_steps",
        "total_steps",
        "weight_decay",
        "adam_beta1",
        "adam_beta2",
        "max_grad_norm",
        "outer_lr",
        "outer_momentum",
        "profile",
        "lora_rank",
        "lora_alpha",
        "lora_dropout",
        "lora_targets",
        "max_epochs",
        # swarm integrity: every peer of the run must agree (trainer/README.md, "Swarm integrity")
        "robust_aggregation",
        "trusted_reducers",
        "epoch_quorum",
    }
)


class WorkPolicy(BaseModel):
    """How a node reports work on chain."""

    model_config = ConfigDict(extra="forbid")

    submit_every_epochs: int = Field(1, ge=1)
    """Submit one work claim per this many collaborative epochs (a range key covers them)."""


class AuditPolicy(BaseModel):
    """What the aux peer does with a claim its own observations do not back (trainer/README.md, "Pool audit")."""

    model_config = ConfigDict(extra="forbid")

    tolerance: float = Field(0.05, ge=0)
    """Excess tolerated (a fraction of the verified tokens): rounding, a round labelled one epoch off."""
    hard_factor: float = Field(1.5, ge=1)
    """A claim above hard_factor x the most the evidence allows is fraud: hard invalidation (and the slash)."""
    slash: int = Field(0, ge=0)
    """Wei slashed from the provider on hard invalidation (0: none); a decimal string in JSON."""
    grace_seconds: float = Field(5.0, ge=0)
    """Wait this long after a claim for the peer's record and the round's observations before judging it."""

    @field_validator("slash", mode="before")
    @classmethod
    def _wei(cls, value: Any) -> Any:
        # wei do not fit a JSON number exactly: accept the decimal string form
        return int(value) if isinstance(value, str) and value.isdigit() else value


class PoolMetadata(BaseModel):
    """The document behind a pool's metadataURI (one JSON object; unknown fields are refused)."""

    model_config = ConfigDict(extra="forbid")

    run_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    """The swarm's run id: every node of the pool trains under it."""
    bootstrap_peers: list[str] = Field(default_factory=list)
    """Multiaddresses of peers a node dials first (the operator's aux peer)."""
    train: dict[str, Any] = Field(default_factory=dict)
    """Training settings every node uses (keys from POOL_TRAIN_FIELDS)."""
    work: WorkPolicy = Field(default_factory=WorkPolicy)
    audit: AuditPolicy = Field(default_factory=AuditPolicy)
    description: str = ""

    @field_validator("train")
    @classmethod
    def _only_pool_fields(cls, value: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(value) - POOL_TRAIN_FIELDS)
        if unknown:
            raise ValueError(f"training settings a pool cannot set: {', '.join(unknown)}")
        return value


def parse_pool_metadata(data: bytes, *, source: str = "pool metadata") -> PoolMetadata:
    """The document in `data`, or a one-line `HubError` naming the first problem and the fix."""
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, ValueError) as exc:
        raise HubError(
            f"{source} is not JSON: {exc}", hint="write one JSON object (hub/README.md, 'Pool metadata')"
        ) from None
    try:
        return PoolMetadata.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "the document"
        message = "unknown field" if first["type"] == "extra_forbidden" else first["msg"]
        raise HubError(
            f"{source} is invalid at {where}: {message}",
            hint="fields: run_id, bootstrap_peers, train, work, audit, description (hub/README.md, 'Pool metadata')",
        ) from None


# -- hosting the document for nodes on other machines ---------------------------------------------


def read_pool_metadata_file(path: Path) -> tuple[bytes, PoolMetadata]:
    """A local metadata file's bytes and its parsed document (one-line errors for both)."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise HubError(f"cannot read metadata file {path}: {exc.strerror}", hint="pass --metadata FILE") from None
    return data, parse_pool_metadata(data, source=str(path))


def make_metadata_server(path: Path, host: str = "0.0.0.0", port: int = 8751):  # noqa: S104 (meant for other machines)
    """An HTTP server for one metadata file, at `/<file name>` and at `/<0x keccak256>.json`.

    The bytes are read once, so editing the file later cannot change what nodes fetch (they would
    refuse it anyway: the pool's hash is fixed). Call serve_forever(); port 0 picks a free one.
    """
    from http import HTTPStatus
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    data, _ = read_pool_metadata_file(path)
    paths = {f"/{Path(path).name}", f"/0x{metadata_hash(data).hex()}.json"}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            found = self.path.split("?", 1)[0] in paths
            body = data if found else b"not found"
            self.send_response(HTTPStatus.OK if found else HTTPStatus.NOT_FOUND)
            self.send_header("Content-Type", "application/json" if found else "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass  # quiet: the command prints its address once

    try:
        return ThreadingHTTPServer((host, port), Handler)
    except OSError as exc:
        raise HubError(
            f"cannot listen on {host}:{port}: {exc.strerror}", hint="pick another --port (0: any free one)"
        ) from None
