"""A clean shutdown for hivemind averagers whose round is still forming.

hivemind 1.1.12 registers a round's group in ``_running_groups`` as a bare ``asyncio.Future`` and
puts the group's ``AllReduceRunner`` in it only once the all-reduce starts. Its
``DecentralizedAverager._shutdown`` calls ``finalize(cancel=True)`` on every value there, so a peer
that stops while one of its rounds is forming (matched, no runner yet) logs
``AttributeError: '_asyncio.Future' object has no attribute 'finalize'`` from its averager process.
`GroupShutdownMixin` finalizes the runners that exist and leaves a round that never started alone:
nothing of it runs, and the process ends with the shutdown.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any


def finalize_started_groups(groups: Iterable[asyncio.Future[Any]]) -> set[Any]:
    """Cancel the all-reduce of every group whose runner exists; the finalize tasks to wait for.

    A future still pending (the group formed, its all-reduce not started) or cancelled holds no
    runner: there is nothing to finalize."""
    remaining: set[Any] = set()
    for group in list(groups):
        if group.done() and not group.cancelled() and group.exception() is None:
            remaining.update(group.result().finalize(cancel=True))
    return remaining


class GroupShutdownMixin:
    """Put before a ``DecentralizedAverager`` subclass: its ``_shutdown`` runs in the averager's own
    process when the owner calls ``shutdown()``; this one does what hivemind's does (remove the RPC
    handlers, finalize the running all-reduces within the timeout) but only for started groups."""

    client_mode: bool
    prefix: str
    _p2p: Any
    _running_groups: dict[Any, asyncio.Future[Any]]

    async def _shutdown(self, timeout: float | None) -> None:
        if not self.client_mode:
            await self.remove_p2p_handlers(self._p2p, namespace=self.prefix)  # type: ignore[attr-defined]
        remaining = finalize_started_groups(self._running_groups.values())
        await asyncio.wait_for(asyncio.gather(*remaining), timeout)
