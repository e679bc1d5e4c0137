"""Shared printing helpers for the CLI modules: rich consoles and `--json` output."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console

JSON_HELP = "Print machine-readable JSON instead of a table."


def console(stderr: bool = False) -> Console:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def print_json(data: Any) -> None:
    """One JSON document on stdout; pydantic models and paths are converted."""
    from pydantic import BaseModel

    def default(value: Any) -> Any:
        if isinstance(value, BaseModel):
            return value.model_dump(mode="json")
        return str(value)

    typer.echo(json.dumps(data, default=default, indent=2, sort_keys=True))


def print_table(title: str | None, columns: list[str], rows: list[list[str]]) -> None:
    """A rich table on stdout."""
    from rich.table import Table

    table = Table(title=title)
    for name in columns:
        table.add_column(name, overflow="fold")
    for row in rows:
        table.add_row(*row)
    console().print(table)


def print_fields(title: str | None, fields: list[tuple[str, str]]) -> None:
    """`name  value` lines under an optional title (a two-column table without borders)."""
    from rich.table import Table

    table = Table(show_header=False, box=None, title=title, title_justify="left")
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for name, value in fields:
        table.add_row(name, value)
    console().print(table)
