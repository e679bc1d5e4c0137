"""HTTP servers that tests run on a thread of their own: any server (`serving`), and `hub app`'s
server over a client (`serving_app`), each stopped and its port closed when the block ends."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from socketserver import BaseServer

    from hub.client import HubClient


@contextmanager
def serving(server: BaseServer) -> Iterator[str]:
    """`server` (bound, not yet serving) answering on a daemon thread until the block ends; yields
    its origin, `http://HOST:PORT`."""
    import threading

    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        host, port = server.server_address[:2]  # type: ignore[misc]
        yield f"http://{host}:{port}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def serving_app(client: HubClient, folder: Path, **options: Any) -> Iterator[str]:
    """`hub app`'s server over `client` on a free port, keeping the metadata the create-pool form
    writes under `folder`; `options` are `make_server`'s (runs_dir, overview). Yields the page's
    address (`http://127.0.0.1:PORT/`)."""
    from hub.app.server import make_server

    with serving(make_server(client, "127.0.0.1", 0, metadata_dir=folder / "app-metadata", **options)) as origin:
        yield origin + "/"
