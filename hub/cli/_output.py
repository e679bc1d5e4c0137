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
