"""A small read-only HTTP server: `/` serves the page, `/api/snapshot` the chain's state as JSON.

The standard library's threading server is enough: the page polls every few seconds, and every
request is a handful of JSON-RPC reads. It binds to 127.0.0.1 by default and has no write routes.
"""

from __future__ import annotations

import json
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import TYPE_CHECKING, Any

from hub.dashboard.data import snapshot
from hub.errors import HubError

if TYPE_CHECKING:
    from hub.client import HubClient

_STATIC = {
    "/": ("index.html", "text/html"),
    "/app.js": ("app.js", "text/javascript"),
    "/style.css": ("style.css", "text/css"),
}


def make_server(client: HubClient, host: str = "127.0.0.1", port: int = 8750) -> ThreadingHTTPServer:
    """A server bound to (host, port) (port 0: any free one); call serve_forever() or use `serve`."""
    lock = threading.Lock()  # web3's HTTP session is shared: one snapshot at a time

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            path = self.path.split("?", 1)[0]
            if path == "/api/snapshot":
                try:
                    with lock:
                        body = json.dumps(snapshot(client)).encode()
                except HubError as exc:
                    self._reply(
                        HTTPStatus.SERVICE_UNAVAILABLE, json.dumps({"error": str(exc)}).encode(), "application/json"
                    )
                    return
                self._reply(HTTPStatus.OK, body, "application/json")
            elif path in _STATIC:
                name, kind = _STATIC[path]
                self._reply(HTTPStatus.OK, resources.files("hub.dashboard").joinpath("static", name).read_bytes(), kind)
            else:
                self._reply(HTTPStatus.NOT_FOUND, b"not found", "text/plain")

        def _reply(self, status: HTTPStatus, body: bytes, kind: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", f"{kind}; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass  # quiet: the CLI prints the address once

    try:
        return ThreadingHTTPServer((host, port), Handler)
    except OSError as exc:
        raise HubError(f"cannot listen on {host}:{port}: {exc.strerror}", hint="pick another --port") from None
