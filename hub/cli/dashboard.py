"""`hub app` (alias `hub dashboard`): serve the web app over the chain until interrupted."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hub.cli._chain import ChainContext, chain_command
from hub.cli._output import serve_until_interrupted

app = typer.Typer(rich_markup_mode=None)


@chain_command(app, "app")
def serve_app(
    ctx: ChainContext,
    host: Annotated[str, typer.Option(help="Address to listen on (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (0: any free port).", min=0, max=65535)] = 8750,
    metadata_dir: Annotated[
        Path | None,
        typer.Option(
            "--metadata-dir", file_okay=False, help="Keep pool metadata made in the app here [default: hub data dir]."
        ),
    ] = None,
    runs_dir: Annotated[
        Path,
        typer.Option(
            "--runs-dir", file_okay=False, help="The trainer's run folders: loss curves and the aux peer's audit log."
        ),
    ] = Path("runs"),
) -> None:
    """Serve the web app: a live overview, and every actor's actions signed by your browser wallet."""
    from hub.app.server import make_server

    client = ctx.client(sign=False)
    server = make_server(client, host, port, metadata_dir=metadata_dir, runs_dir=runs_dir)
    bound_host, bound_port = server.server_address[:2]
    url = f"http://{bound_host}:{bound_port}/"
    serve_until_interrupted(
        server,
        f"app for chain {client.chain_id} at {url} (Ctrl-C to stop)",
        {"url": url, "chain_id": client.chain_id} if ctx.json_out else None,
    )
