"""The one exception type that the `hub` command turns into a one-line error, and the exit-code
policy that `hub` and `trainer` share.

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
"""

from __future__ import annotations

import json

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


class HubError(Exception):
    """A user-facing error: a one-line message and an optional one-line hint."""

    exit_code = EXIT_FAILURE

    def __init__(self, message: str, hint: str | None = None, detail: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.detail = detail  # multi-line context (e.g. a compiler's message), shown with --debug

    def __reduce__(self) -> tuple[type[HubError], tuple[str, str | None, str | None]]:
        # keeps hint and detail when the error crosses a process boundary (parallel `hub build`)
        return (type(self), (self.message, self.hint, self.detail))

    def __str__(self) -> str:
        return self.message if self.hint is None else f"{self.message} (hint: {self.hint})"


class UsageError(HubError):
    """The command line is wrong (options that exclude each other, a missing choice): exit status 2."""

    exit_code = EXIT_USAGE


def error_line(message: str, hint: str | None = None) -> str:
    """The one line printed for an error: `error: <message> (hint: <hint>)`, newlines folded."""
    text = message if hint is None else f"{message} (hint: {hint})"
    return "error: " + " ".join(text.split())


def error_json(message: str, hint: str | None = None, exit_code: int = EXIT_FAILURE) -> str:
    """The error as one JSON line, for commands run with --json."""
    return json.dumps({"error": " ".join(message.split()), "hint": hint, "exit_code": exit_code})
