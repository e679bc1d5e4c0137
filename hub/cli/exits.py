"""How a `hub` or `trainer` command ends on an exception: one line on stderr (a JSON object under
--json) and the exit status of `hub.errors.exit_code`. Both command groups call these, so the same
error exits the same way from either command."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from hub.errors import EXIT_USAGE, UserError, error_json, error_line, exit_code

if TYPE_CHECKING:
    from typer._click.exceptions import UsageError as ClickUsageError


def _exit(message: str, hint: str | None, code: int, as_json: bool) -> typer.Exit:
    typer.echo(error_json(message, hint, code) if as_json else error_line(message, hint), err=True)
    return typer.Exit(code)


def exit_for(exc: BaseException, program: str, as_json: bool = False) -> typer.Exit:
    """Print `exc` as one line and return the `typer.Exit` to raise (`raise exit_for(...) from None`)."""
    if isinstance(exc, UserError):
        message, hint = exc.message, exc.hint
    elif isinstance(exc, KeyboardInterrupt):
        message, hint = "interrupted", None
    else:
        # a bug or a case no check foresaw: still one line, never a traceback a user must read
        message = f"unexpected {type(exc).__name__}: {exc}"
        hint = f"rerun with `{program} --debug ...` for the traceback and report it"
    return _exit(message, hint, exit_code(exc), as_json)


def exit_for_usage(exc: ClickUsageError, program: str, as_json: bool = False) -> typer.Exit:
    """A mistyped command or option: one line too, instead of click's usage block (exit status 2)."""
    where = exc.ctx.command_path if exc.ctx is not None else program
    return _exit(exc.format_message(), f"`{where} --help` shows the usage", EXIT_USAGE, as_json)
