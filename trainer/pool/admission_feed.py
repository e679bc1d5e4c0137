"""Which swarm peers may take part in a pool's averaging: its members on chain, through their bindings.

A peer is admitted when the node key its signed binding names (`trainer.pool.binding`; the aux
peer verifies and keeps every binding it reads, `trainer.pool.evidence`) is, on chain now: in the
pool, registered and validated, with a provider that is not blacklisted, in a pool that is active.
The pool's reducer (`trainer.training.robust`) calls the feed before every round, so a node that
leaves, is ejected or invalidated loses access within one round. The chain is read at most once
per `refresh_seconds`; while it cannot be read, the last answer stands (nobody new gets in, and an
outage of the chain does not stop the swarm).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hub.client import HubClient
    from trainer.pool.evidence import EvidenceStore

log = logging.getLogger("trainer.pool.admission")

# @dev Seconds between chain reads; below any averaging round (seconds to minutes), so a node the
#      chain drops is out by the next round.
REFRESH_SECONDS = 2.0


def active_members(client: HubClient, pool_id: int) -> set[str]:
    """Lower-case addresses of the pool's nodes that may submit work now."""
    return {
        node.lower() for node in client.pool.members(pool_id) if not client.pool.membership(pool_id, node).problems()
    }


class AdmissionFeed:
    """``feed()`` -> the peer ids admitted to `pool_id`'s averaging now."""

    def __init__(
        self,
        client: HubClient,
        pool_id: int,
        evidence: EvidenceStore,
        *,
        refresh_seconds: float = REFRESH_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client, self.pool_id, self.evidence = client, pool_id, evidence
        self.refresh_seconds, self.clock = refresh_seconds, clock
        self._members: set[str] = set()
        self._read_at: float | None = None
        self._lock = threading.Lock()

    def members(self) -> set[str]:
        """The pool's admissible nodes, read from the chain at most once per `refresh_seconds`."""
        from hub.errors import HubError

        with self._lock:
            now = self.clock()
            if self._read_at is None or now - self._read_at >= self.refresh_seconds:
                try:
                    self._members = active_members(self.client, self.pool_id)
                    self._read_at = now
                except HubError as exc:
                    log.warning("admission: the chain could not be read, keeping the last members: %s", exc.message)
            return set(self._members)

    def __call__(self) -> frozenset[str]:
        members = self.members()
        return frozenset(peer for peer, node in self.evidence.bindings().items() if node.lower() in members)
