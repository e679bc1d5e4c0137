"""The errors that `hub` and `trainer` turn into one line, and the exit-code policy they share.

Library code raises `HubError` for anything a user can fix (a wrong password, a node that is not
running, a port in use). The command line prints `error: <message> (hint: <hint>)` on stderr (a
JSON object instead under `--json`) and exits non-zero; `--debug` or HUB_DEBUG=1 shows the
traceback instead.

Exit codes (both commands):

- 0 (`EXIT_OK`): done.
- 1 (`EXIT_FAILURE`): the command ran and failed: a refused value, a revert, a missing file, a
  node that does not answer.
- 2 (`EXIT_USAGE`): the command line itself is wrong: an unknown option, a missing or mistyped
  argument, options that exclude each other (`UsageError`).
- 130 (`EXIT_INTERRUPTED`): stopped by Ctrl+C (128 + SIGINT, as a shell reports it).

`exit_code(exc)` is that policy as a function; `hub.cli.exits` prints the line and exits by it for
both commands. `UserError` is the base of `HubError` and of the trainer's `TrainerError`.
"""

from __future__ import annotations

import json

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class UserError(Exception):
    """An error a user can fix, explained in one line with an optional one-line hint. The base of
    `HubError` and of the trainer's errors: both commands print it and exit with its `exit_code`."""

    exit_code = EXIT_FAILURE

    def __init__(self, message: str, hint: str | None = None, detail: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.detail = detail  # multi-line context (e.g. a compiler's message), shown with --debug

    def __reduce__(self) -> tuple[type[UserError], tuple[str, str | None, str | None]]:
        # keeps hint and detail when the error crosses a process boundary (parallel `hub build`)
        return (type(self), (self.message, self.hint, self.detail))


class HubError(UserError):
    """A user-facing error of `hub`'s library: a one-line message and an optional one-line hint."""

    def __str__(self) -> str:
        return self.message if self.hint is None else f"{self.message} (hint: {self.hint})"


class UsageError(HubError):
    """The command line is wrong (options that exclude each other, a missing choice): exit status 2."""

    exit_code = EXIT_USAGE


def exit_code(exc: BaseException) -> int:
    """The exit status of a command that ended with `exc`: the error's own for a `UserError`,
    130 for Ctrl+C, 1 for anything else (a bug or a case no check foresaw)."""
    if isinstance(exc, UserError):
        return exc.exit_code
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    return EXIT_FAILURE


def error_line(message: str, hint: str | None = None) -> str:
    """The one line printed for an error: `error: <message> (hint: <hint>)`, newlines folded."""
    text = message if hint is None else f"{message} (hint: {hint})"
    return "error: " + " ".join(text.split())


def error_json(message: str, hint: str | None = None, exit_code: int = EXIT_FAILURE) -> str:
    """The error as one JSON line, for commands run with --json."""
    return json.dumps({"error": " ".join(message.split()), "hint": hint, "exit_code": exit_code})
