"""`hub build`: compile contracts_vy/ into reproducible artifacts (build/, or the wheel's hub/artifacts)."""

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
            help="Contracts folder [env HUB_CONTRACTS_DIR; default: the sources that came with hub].",
            file_okay=False,
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Artifacts folder [env HUB_BUILD_DIR; default build/ beside the contracts, hub/artifacts in a wheel].",
            file_okay=False,
        ),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Compile every deployable contract with the pinned vyper into build/<Name>.json."""
    from importlib.util import find_spec

    from hub import paths
    from hub.build import EIP170_LIMIT, build
    from hub.errors import HubError

    if find_spec("vyper") is None:
        raise HubError(
            "`hub build` needs the vyper compiler, not installed",
            hint="pip install 'injective-ai-hub[build]'",
        )

    err = console(stderr=True)
    with err.status("compiling contracts_vy/ ...") as spinner:
        manifest = build(contracts, out, on_contract=lambda name: spinner.update(f"compiled {name}..."))
    if json_out:
        print_json(manifest)
        return
    from rich.table import Table

    table = Table(title=f"built with {manifest.compiler} into {out or paths.build_dir(contracts)}")
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
