"""`hub network list|check`: the network table and a connectivity check."""

from __future__ import annotations

from typing import Annotated

import typer

from hub.cli._output import JSON_HELP, console, print_json

app = typer.Typer(help="Show the known networks and check a connection.", no_args_is_help=True, rich_markup_mode=None)

NetworkArgument = Annotated[
    str | None,
    typer.Argument(help="A network name or an RPC URL [env HUB_NETWORK; config file; else local]."),
]


@app.command("list")
def list_(json_out: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False) -> None:
    """List the networks: built-in ones and those of the config file."""
    from hub import paths
    from hub.networks import network_table

    table_data = network_table()
    if json_out:
        print_json(list(table_data.values()))
        return
    from rich.table import Table

    table = Table("name", "chain id", title=f"networks (config: {paths.config_file()})")
    table.add_column("RPC URL", overflow="fold")
    for net in table_data.values():
        table.add_row(net.name, str(net.chain_id), net.rpc_url)
    console().print(table)


@app.command()
def check(
    network: NetworkArgument = None,
    json_out: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Connect, verify the chain id, and print the latest block."""
    from hub.networks import connect, resolve_network

    net = resolve_network(network)
    w3 = connect(net)
    result = {
        "network": net.name,
        "rpc_url": net.rpc_url,
        "chain_id": w3.eth.chain_id,
        "block": w3.eth.block_number,
    }
    if json_out:
        print_json(result)
    else:
        typer.echo(f"{net.name}: chain id {result['chain_id']}, block {result['block']} at {net.rpc_url}")
