"""`hub devnet start|stop|status|reset|accounts`: the local Injective chain."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from hub.cli._output import JSON_HELP, console, print_json

if TYPE_CHECKING:
    from hub.devnet import Devnet, DevnetStatus

app = typer.Typer(
    help="Run a real single-validator Injective node on 127.0.0.1 (the `local` network).",
    no_args_is_help=True,
    rich_markup_mode=None,  # plain help: half the start-up time (see hub/cli/main.py)
)

HomeOption = Annotated[
    Path | None,
    typer.Option("--home", help="Devnet home [env HUB_DEVNET_HOME; default ~/.local/share/injective-ai-hub/devnet]."),
]
JsonOption = Annotated[bool, typer.Option("--json", help=JSON_HELP)]


def _devnet(home: Path | None, port_offset: int = 0, rpc_port: int | None = None, ws_port: int | None = None) -> Devnet:
    from pydantic import ValidationError

    from hub.devnet import Devnet, DevnetConfig, DevnetPorts
    from hub.errors import HubError

    try:
        ports = DevnetPorts.shifted(port_offset)
        if rpc_port is not None or ws_port is not None:
            ports = DevnetPorts(
                **{**ports.model_dump(), "json_rpc": rpc_port or ports.json_rpc, "ws": ws_port or ports.ws}
            )
    except ValidationError as exc:
        raise HubError(f"invalid ports: {exc.errors()[0]['msg']}", hint="ports are 1..65535 and distinct") from None
    config = DevnetConfig(ports=ports) if home is None else DevnetConfig(home=home, ports=ports)
    return Devnet(config)


def _print_status(status: DevnetStatus) -> None:
    from rich.table import Table

    table = Table(show_header=False, box=None)
    state = f"[green]running[/] (pid {status.pid})" if status.running else "[yellow]stopped[/]"
    if not status.initialized:
        state = "[yellow]not created[/] (`hub devnet start` creates it)"
    rows = [
        ("state", state),
        ("height", "-" if status.height is None else str(status.height)),
        ("EVM chain id", "-" if status.chain_id is None else str(status.chain_id)),
        ("cosmos chain id", status.cosmos_chain_id),
        ("JSON-RPC", status.rpc_url),
        ("WebSocket", status.ws_url),
        ("home", str(status.home)),
        ("log", str(status.log_file)),
    ]
    for key, value in rows:
        table.add_row(key, value)
    console().print(table)


@app.command()
def start(
    home: HomeOption = None,
    port_offset: Annotated[
        int, typer.Option("--port-offset", help="Shift every port by N (use a multiple of 10).")
    ] = 0,
    rpc_port: Annotated[int | None, typer.Option("--rpc-port", help="EVM JSON-RPC port [8545].")] = None,
    ws_port: Annotated[int | None, typer.Option("--ws-port", help="EVM WebSocket port [8546].")] = None,
    json_out: JsonOption = False,
) -> None:
    """Start the devnet in the background (creating it on first use) and wait until it is ready."""
    devnet = _devnet(home, port_offset, rpc_port, ws_port)
    if devnet.pid() is not None:
        status = devnet.status()
    else:
        with console(stderr=True).status("starting the devnet..."):
            status = devnet.start()
    if json_out:
        print_json(status)
    else:
        _print_status(status)


@app.command()
def stop(home: HomeOption = None) -> None:
    """Stop the devnet (SIGTERM, then wait). Its state is kept."""
    if _devnet(home).stop():
        typer.echo("devnet stopped")
    else:
        typer.echo("devnet was not running")


@app.command()
def status(home: HomeOption = None, json_out: JsonOption = False) -> None:
    """Show whether the devnet runs, its pid, height, chain id and RPC URL."""
    result = _devnet(home).status()
    if json_out:
        print_json(result)
    else:
        _print_status(result)


@app.command()
def reset(
    home: HomeOption = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Stop the devnet and delete its chain state; the next start begins at block 0."""
    from hub.cli._output import confirm_or_stop

    devnet = _devnet(home)
    confirm_or_stop(f"delete the local chain in {devnet.home} (all its blocks, balances and deployments)?", yes)
    devnet.reset()
    typer.echo(f"devnet reset: {devnet.home} is empty")


@app.command()
def accounts(json_out: JsonOption = False) -> None:
    """Print the dev accounts and their KNOWN-PUBLIC private keys (local chain only)."""
    from hub.devkeys import DEV_BALANCE_WEI, DEV_HD_PATH, DEV_MNEMONIC, dev_accounts

    rows = [
        {"index": i, "address": a.address, "private_key": "0x" + bytes(a.key).hex()}
        for i, a in enumerate(dev_accounts())
    ]
    if json_out:
        print_json({"warning": "KNOWN-PUBLIC dev keys: local chain only", "accounts": rows})
        return
    out = console()
    out.print(
        "[bold red]KNOWN-PUBLIC dev keys: use them on the local devnet only.[/] Anyone can take "
        "funds sent to these addresses on any other chain; `hub` refuses to sign with them there."
    )
    out.print(
        f"mnemonic {DEV_MNEMONIC!r}, path {DEV_HD_PATH}; "
        f"each funded with {DEV_BALANCE_WEI // 10**18:,} INJ in the devnet genesis"
    )
    for row in rows:  # plain lines: a table would wrap or cut the keys on narrow terminals
        out.print(f"{row['index']}  {row['address']}  {row['private_key']}", soft_wrap=True)
