"""`hub dashboard`: serve the read-only web page over the chain until interrupted."""

from __future__ import annotations

from typing import Annotated

import typer

from hub.cli._chain import ChainContext, chain_command
from hub.cli._output import serve_until_interrupted

app = typer.Typer(rich_markup_mode=None)


@chain_command(app, "dashboard")
def dashboard(
    ctx: ChainContext,
    host: Annotated[str, typer.Option(help="Address to listen on (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (0: any free port).", min=0, max=65535)] = 8750,
) -> None:
    """Serve a page with providers, stakes, nodes, pools, training progress and rewards."""
    from hub.dashboard.server import make_server

    client = ctx.client(sign=False)
    server = make_server(client, host, port)
    bound_host, bound_port = server.server_address[:2]
    url = f"http://{bound_host}:{bound_port}/"
    serve_until_interrupted(
        server,
        f"dashboard for chain {client.chain_id} at {url} (Ctrl-C to stop)",
        {"url": url, "chain_id": client.chain_id} if ctx.json_out else None,
    )
