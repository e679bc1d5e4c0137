"""Pool metadata: publish a file's bytes under a URI with their keccak256, fetch and verify them.

A pool stores `metadataURI` and `metadataHash = keccak256(file bytes)`. `publish_metadata` turns a
local file into that pair: a `file://` absolute URI (the default: same machine, e.g. the local
chain), a `data:` URI that carries the bytes themselves (small files only: the contract keeps at
most 256 bytes of URI), or a URI the user hosts the same bytes at (https://, ipfs gateway, ...).
`fetch_metadata` reads file://, data: and http(s):// URIs and refuses bytes whose hash differs, so
a trainer never runs on metadata other than what the pool committed to.
"""

from __future__ import annotations

import base64
import json
import mimetypes
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, unquote_to_bytes, urlparse

from hub.errors import HubError

# @dev The contract stores the URI as String[256].
MAX_URI_BYTES = 256
# @dev Largest metadata document fetched (a JSON description, not a data set).
MAX_METADATA_BYTES = 16 * 1024 * 1024
SCHEMES = ("file", "data", "http", "https")


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
        raise HubError("--inline and --metadata-uri exclude each other", hint="pick one way to publish the file")
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


def fetch_metadata(uri: str, expected_hash: bytes | str | None, *, timeout_s: float = 30.0) -> bytes:
    """The bytes at `uri` (file://, data:, http(s)://), verified against `expected_hash`
    (keccak256; bytes or 0x-hex; None skips the check)."""
    scheme = urlparse(uri).scheme.lower()
    if scheme == "data":
        data = _read_data_uri(uri)
    elif scheme == "file":
        data = _read_file_uri(uri)
    elif scheme in ("http", "https"):
        data = _read_http(uri, timeout_s)
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


def load_metadata_json(uri: str, expected_hash: bytes | str | None, *, timeout_s: float = 30.0) -> Any:
    """`fetch_metadata`, then parsed as JSON."""
    data = fetch_metadata(uri, expected_hash, timeout_s=timeout_s)
    try:
        return json.loads(data)
    except (UnicodeDecodeError, ValueError) as exc:
        raise HubError(f"pool metadata at {uri[:80]} is not JSON: {exc}") from None
