"""Shared printing helpers for the CLI modules: rich consoles and `--json` output."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console

JSON_HELP = "Print machine-readable JSON instead of a table."


def console(stderr: bool = False, width: int | None = None) -> Console:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, width=width)


# @dev JSON keys whose integer values are wei. They are printed as decimal strings: wei overflow the
#      2**53 integers that JavaScript and many JSON readers keep exactly (1 INJ is 10**18 wei).
WEI_KEYS = frozenset(
    {
        "abstain_votes",
        "against_votes",
        "amount",
        "available",
        "balance",
        "budget",
        "committed",
        "fee_wei",
        "for_votes",
        "funded",
        "min_stake_per_compute_unit",
        "minimum_stake",
        "paid",
        "previous",
        "previous_weight",
        "proposal_threshold",
        "quorum",
        "refunded",
        "reward",
        "reward_per_unit",
        "slash",
        "slashed_pending",
        "stake",
        "unbonding",
        "weight",
        "withdrawable",
    }
)


def _wei_as_strings(value: Any, key: str | None = None) -> Any:
    if isinstance(value, dict):
        return {k: _wei_as_strings(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_wei_as_strings(v, key) for v in value]
    if key in WEI_KEYS and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def print_json(data: Any) -> None:
    """One JSON document on stdout; pydantic models and paths are converted, and wei amounts (the
    keys in WEI_KEYS) are decimal strings."""
    from pydantic import BaseModel

    def plain(value: Any) -> Any:
        if isinstance(value, BaseModel):
            return plain(value.model_dump(mode="json"))
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        return value

    typer.echo(json.dumps(_wei_as_strings(plain(data)), default=str, indent=2, sort_keys=True))


# @dev Values another command needs whole: 0x addresses (40 hex digits), work keys and hashes (64),
#      inj1 addresses (bech32, 39 characters after the prefix).
_WHOLE = re.compile(r"0x[0-9a-fA-F]{40}|0x[0-9a-fA-F]{64}|inj1[02-9ac-hj-np-z]{38}")


def _widest_whole(values: list[str]) -> int:
    """The longest address or key in `values` (0 if none): the column's minimum width."""
    return max((len(match) for value in values for match in _WHOLE.findall(value)), default=0)


def print_table(title: str | None, columns: list[str], rows: list[list[str]]) -> None:
    """A rich table on stdout. A column holding addresses or work keys is never narrower than the
    longest one, so they are never cut or folded (the line gets longer instead)."""
    from rich.table import Table

    table = Table(title=title)
    for index, name in enumerate(columns):
        whole = _widest_whole([row[index] for row in rows])
        if whole:
            table.add_column(name, no_wrap=True, min_width=whole)
        else:
            table.add_column(name, overflow="fold")
    for row in rows:
        table.add_row(*row)
    _print_wide(table)


def print_fields(title: str | None, fields: list[tuple[str, str]]) -> None:
    """`name  value` lines under an optional title (a two-column table without borders); addresses
    and keys in values are never cut (see `print_table`)."""
    from rich.table import Table

    # a title that names an address is as wide as it needs, or rich folds it into two lines
    title_width = len(title) if title and _widest_whole([title]) else None
    table = Table(show_header=False, box=None, title=title, title_justify="left", min_width=title_width)
    table.add_column(style="bold", no_wrap=True)
    whole = _widest_whole([value for _, value in fields])
    table.add_column(overflow="fold", min_width=whole or None)
    for name, value in fields:
        table.add_row(name, value)
    _print_wide(table)


def _print_wide(table: Any) -> None:
    """Print a table at the terminal's width, or wider when its fixed columns need it (rich would
    otherwise shrink a column under its minimum and cut what it holds)."""
    from rich.measure import Measurement

    out = console()
    # measured without the terminal's limit: the least width at which no fixed column shrinks
    needed = Measurement.get(out, out.options.update_width(10_000), table).minimum
    if needed > out.width:
        out = console(width=needed)
    out.print(table)


def confirm_or_stop(question: str, yes: bool) -> None:
    """Ask before a destructive action: `question` names what will happen. `--yes` skips the
    question (scripts); with no terminal to ask in and no --yes, nothing is done and the error
    says so, instead of reading an answer from a pipe."""
    import sys

    from hub.errors import HubError

    if yes:
        return
    if not sys.stdin.isatty():
        raise HubError(f"not confirmed, nothing was done: {question}", hint="pass --yes to confirm from a script")
    if not typer.confirm(question, default=False):
        raise HubError("cancelled, nothing was done", hint="--yes skips the question")


def serve_until_interrupted(server: Any, announcement: str, json_data: Any | None) -> None:
    """Print where `server` listens (one line, or JSON), then serve until Ctrl-C and close it.

    The line is flushed at once: a script that started the command reads the address from a pipe.
    """
    import sys

    if json_data is not None:
        print_json(json_data)
    else:
        typer.echo(announcement)
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
