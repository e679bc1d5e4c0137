"""The app's HTTP server: the page and its scripts, chain reads as JSON, and transactions built for
the connected wallet. It holds no key and sends nothing: `/api/build` answers with the transaction
(or typed data) the wallet is asked to sign.

Routes: GET `/`, `/static/<file>`; GET `/api/config`, `/api/snapshot`, `/api/account?address=`,
`/api/tx?hash=`, `/api/governance?address=` (proposals, and the account's votes and vote
lock), `/api/training` (loss curves and the aux audit log from the trainer's run
folders); POST `/api/build` {action, from, params}, `/api/invite` {from, typed_data, signature}.
Errors are `{"error": "<the sentence hub prints>"}`. The standard library's threading
server is enough for one user's page; it binds to 127.0.0.1 by default.
"""

from __future__ import annotations

import json
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlparse

from hub.errors import HubError

if TYPE_CHECKING:
    from hub.app.data import Overview
    from hub.client import HubClient

_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
# @dev Largest request body read (an attestation or an invite is well under 2 KiB).
MAX_BODY = 64 * 1024


def _static_files() -> dict[str, tuple[bytes, str]]:
    folder = resources.files("hub.app").joinpath("static")
    files = {}
    for entry in folder.iterdir():
        suffix = Path(entry.name).suffix
        if entry.is_file() and suffix in _TYPES:
            files[entry.name] = (entry.read_bytes(), _TYPES[suffix])
    return files


def make_server(
    client: HubClient,
    host: str = "127.0.0.1",
    port: int = 8750,
    *,
    metadata_dir: Path | None = None,
    runs_dir: Path | None = None,
    overview: Overview | None = None,
) -> ThreadingHTTPServer:
    """A server bound to (host, port) (port 0: any free one); call serve_forever(). Pool metadata
    written by the create-pool form is kept in `metadata_dir` (default: the hub data folder); loss
    curves and audit logs are read from the trainer's folders under `runs_dir` (`hub.app.runs`).
    Every page it serves shares one `overview` (default: one reading the node's widest log range)."""
    from hub import paths
    from hub.app import actions, data, runs
    from hub.app.wallet import WalletClient

    lock = threading.Lock()  # web3's HTTP session is shared: one chain conversation at a time
    static = _static_files()
    metadata_dir = metadata_dir or paths.data_dir() / "app-metadata"
    rpc_url = getattr(client.w3.provider, "endpoint_uri", None)
    overview = overview or data.Overview(client)

    def get(path: str, query: dict[str, str]) -> Any:
        if path == "/api/config":
            return {
                "chain_id": client.chain_id,
                "hub": client.hub.address,
                "network": data.wallet_network(client, rpc_url),
                "default_domain_id": client.deployment.default_domain_id,
                "governance": data.has_governance(client),
            }
        if path == "/api/snapshot":
            return overview.snapshot()
        if path == "/api/account":
            return overview.account(query.get("address", ""))
        if path == "/api/tx":
            return data.tx_status(client, query.get("hash", ""))
        if path == "/api/governance":
            return data.governance(client, query.get("address", ""))
        if path == "/api/training":
            return runs.training(runs_dir)
        return None

    def post(path: str, body: dict[str, Any]) -> Any:
        wallet = WalletClient(client, str(body.get("from") or ""))
        if path == "/api/build":
            params = body.get("params") or {}
            if not isinstance(params, dict):
                raise HubError("params must be an object")
            return actions.build(wallet, str(body.get("action")), params, metadata_dir=metadata_dir)
        if path == "/api/invite":
            return actions.signed_invite(wallet, body.get("typed_data") or {}, str(body.get("signature") or ""))
        return None

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            url = urlparse(self.path)
            if url.path == "/":
                self._reply(HTTPStatus.OK, *static["index.html"])
            elif url.path.startswith("/static/") and url.path[len("/static/") :] in static:
                self._reply(HTTPStatus.OK, *static[url.path[len("/static/") :]])
            elif url.path.startswith("/api/"):
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                self._api(lambda: get(url.path, query))
            else:
                self._reply(HTTPStatus.NOT_FOUND, b"not found", "text/plain")

        def do_POST(self) -> None:  # noqa: N802
            path = urlparse(self.path).path
            # JSON only: another site's page cannot send that without a CORS preflight, which this
            # server never grants, so only this page can have transactions built or files written
            if (self.headers.get("Content-Type") or "").split(";")[0].strip() != "application/json":
                self._json(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, {"error": "send JSON (Content-Type: application/json)"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self._json(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": "request too large"})
                return
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
            except ValueError:
                self._json(HTTPStatus.BAD_REQUEST, {"error": "the request is not JSON"})
                return
            if not isinstance(body, dict):
                self._json(HTTPStatus.BAD_REQUEST, {"error": "the request must be a JSON object"})
                return
            self._api(lambda: post(path, body))

        def _api(self, answer: Any) -> None:
            try:
                with lock:
                    result = answer()
            except HubError as exc:
                self._json(HTTPStatus.BAD_REQUEST, {"error": str(exc)})
                return
            if result is None:
                self._json(HTTPStatus.NOT_FOUND, {"error": "no such route"})
            else:
                self._json(HTTPStatus.OK, result)

        def _json(self, status: HTTPStatus, value: Any) -> None:
            self._reply(status, json.dumps(value).encode(), "application/json")

        def _reply(self, status: HTTPStatus, body: bytes, kind: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", f"{kind}; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the page went away (reloaded, closed) before its answer: no one to tell

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass  # quiet: the CLI prints the address once

    try:
        return ThreadingHTTPServer((host, port), Handler)
    except OSError as exc:
        raise HubError(f"cannot listen on {host}:{port}: {exc.strerror}", hint="pick another --port") from None
