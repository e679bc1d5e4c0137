"""Errors a user can fix. The CLI prints them as one line with a hint; the Python API raises them.

Like `hub.errors.HubError` they are `hub.errors.UserError`s, so `trainer` and `hub` print them
and exit by one policy (`hub.errors.exit_code`: status 1). They are not `HubError`s: code that
catches the chain's errors does not catch these.
"""

from __future__ import annotations

from hub.errors import UserError


class TrainerError(UserError):
    """A problem with the user's input or machine, explained in one line.

    ``hint`` says what to do about it; the CLI prints ``error: <message> (hint: <hint>)``.
    """

    def one_line(self) -> str:
        text = " ".join(self.message.split())
        if self.hint:
            text += f" (hint: {' '.join(self.hint.split())})"
        return text


class DataError(TrainerError):
    """The data source is missing, unreadable or yields nothing."""


class ModelError(TrainerError):
    """The model name, path or preset cannot be resolved to a LLaMA model."""


class MemoryProfileError(TrainerError):
    """The requested memory profile does not fit the detected (or declared) hardware."""


class SwarmError(TrainerError):
    """The hivemind swarm could not be started or joined."""


class CheckpointError(TrainerError):
    """A checkpoint is missing or inconsistent."""
