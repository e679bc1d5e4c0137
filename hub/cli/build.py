"""`hub build`: compile contracts_vy/ into reproducible artifacts in build/."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hub.cli._output import JSON_HELP, console, print_json


def build_command(
    contracts: Annotated[
        Path | None,
        typer.Option(
            "--contracts",
            help="Contracts folder [env HUB_CONTRACTS_DIR; default ./contracts_vy].",
            file_okay=False,
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Artifacts folder [env HUB_BUILD_DIR; default build/ beside contracts].",
            file_okay=False,
        ),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Compile every deployable contract with the pinned vyper into build/<Name>.json."""
    from hub.build import EIP170_LIMIT, build

    err = console(stderr=True)
    with err.status("compiling contracts_vy/ ...") as spinner:
        manifest = build(contracts, out, on_contract=lambda name: spinner.update(f"compiled {name}..."))
    if json_out:
        print_json(manifest)
        return
    from rich.table import Table

    table = Table(title=f"built with {manifest.compiler} into {out or 'build/'}")
    table.add_column("contract", no_wrap=True)
    table.add_column("source", overflow="fold")
    table.add_column("runtime bytes", justify="right")
    table.add_column("of EIP-170 limit", justify="right")
    for name, entry in manifest.contracts.items():
        share = f"{entry.runtime_size / EIP170_LIMIT:.0%}"
        flag = f"[bold red]{share} OVER LIMIT[/]" if entry.over_eip170_limit else share
        table.add_row(name, entry.source_path, f"{entry.runtime_size:,}", flag)
    console().print(table)
    over = [name for name, entry in manifest.contracts.items() if entry.over_eip170_limit]
    if over:
        err.print(
            f"[bold red]warning:[/] over the {EIP170_LIMIT:,}-byte EIP-170 limit, not deployable: {', '.join(over)}"
        )
