"""Waiting for a condition in tests: poll it, with a timeout that grows with the machine's load
(`patience`), so a busy CI runner makes a test slower, not wrong. Tests wait for events (a file
appears, a process records an epoch), never for a fixed time."""

from __future__ import annotations

import os
import time
from collections.abc import Callable


def load_factor() -> float:
    """How much slower than idle this machine runs now: runnable processes per core, at least 1.

    The one-minute load average counts processes waiting for a core; on a machine with more of
    them than cores, everything (here: hivemind's matchmaking and averaging) stretches about that
    much. Capped so a wedged machine still fails in bounded time.
    """
    per_core = os.getloadavg()[0] / (os.cpu_count() or 1)
    return min(4.0, max(1.0, per_core))


def patience(seconds: float) -> float:
    """A timeout of ``seconds`` on an idle machine, scaled by the current `load_factor`."""
    return seconds * load_factor()


def wait_until(condition: Callable[[], bool], timeout: float, what: str, poll: float = 0.25) -> None:
    """Poll ``condition`` until it holds; fail after ``patience(timeout)`` seconds."""
    limit = patience(timeout)
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(poll)
    raise AssertionError(f"timed out after {limit:.0f}s waiting for {what}")
