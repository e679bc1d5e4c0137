"""The one exception type that the `hub` command turns into a one-line error.

Library code raises `HubError` for anything a user can fix (a wrong password, a node that is not
running, a port in use). The command line prints `error: <message>` and `hint: <hint>` and exits
non-zero; `hub --debug` shows the traceback instead. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class HubError(Exception):
    """A user-facing error: a one-line message and an optional one-line hint."""

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
