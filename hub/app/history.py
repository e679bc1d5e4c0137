"""The chain's events that the page needs (providers registered, nodes added, work submitted and
invalidated), read in windows of blocks and kept in memory for the `hub app` server's life.

Why windows, newest first: Injective's JSON-RPC refuses an eth_getLogs range over its
`block-range-cap` (10,000 blocks by default) and its cost grows with the blocks it reads, and a
deployment that has run for months has tens of millions of blocks (about one a second). So the
first page reads only the newest window; each later poll reads older windows for at most
`budget_s` until it reaches the deployment's first block. Until then the page says from which
block on its event figures are complete (`since`): never a silently truncated total. New blocks
are read in full on each poll: the page polls every 1.5 s, so that is a few blocks.

Why in memory, not a file: one server serves one deployment, and every page and browser it serves
shares this one history, so a reload or a second browser reads no block again (Injective's blocks
are final: a block read never changes). A file would outlive a local devnet that was reset, whose
new deployment can land on the same addresses, and would show the old chain's events.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from hub.client.base import LOG_CHUNK

if TYPE_CHECKING:
    from hub.client import HubClient
    from hub.client.models import WorkInvalidated, WorkSubmitted


class History:
    """Events of blocks [since, last], all read; older blocks down to `first_block` still to read
    while `complete` is false. Every list is oldest first."""

    def __init__(self, client: HubClient, *, window: int = LOG_CHUNK, budget_s: float = 1.0) -> None:
        if not 1 <= window <= LOG_CHUNK:
            raise ValueError(f"a window of 1 to {LOG_CHUNK} blocks (the node's log-range cap), not {window}")
        self.client = client
        self.window = window
        self.budget_s = budget_s
        self.first_block = client.deployment.start_block
        self.since: int | None = None
        self.last: int | None = None
        self.registered: list[str] = []  # each ProviderRegistered's provider
        self.nodes_added: list[tuple[str, str]] = []  # each NodeAdded's (provider, node)
        self.submissions: list[WorkSubmitted] = []
        self.invalidations: list[WorkInvalidated] = []

    @property
    def complete(self) -> bool:
        return self.since is not None and self.since <= self.first_block

    def follow(self, block: int) -> None:
        """Read every block up to `block` newer than those read; the first call reads only the newest
        window (older ones are `backfill`'s)."""
        if self.last is None:
            self.since = max(self.first_block, block - self.window + 1)
            self.last = self.since - 1
        while self.last < block:
            stop = min(self.last + self.window, block)
            self._read(self.last + 1, stop, newer=True)
            self.last = stop

    def backfill(self) -> bool:
        """Read older windows, newest first, for up to `budget_s` (at least one window) until the
        deployment's first block. Whether it read anything."""
        if self.since is None:
            raise RuntimeError("follow() the head before reading older blocks")
        deadline = time.monotonic() + self.budget_s
        read = False
        while not self.complete and (not read or time.monotonic() < deadline):
            start = max(self.first_block, self.since - self.window)
            self._read(start, self.since - 1, newer=False)
            self.since = start
            read = True
        return read

    def providers(self) -> list[str]:
        """Every provider that registered in the blocks read, in the order they first registered."""
        return list(dict.fromkeys(self.registered))

    def node_keys(self, provider: str) -> list[str]:
        """Every node key `provider` added in the blocks read (some may have been removed since)."""
        return list(dict.fromkeys(node for owner, node in self.nodes_added if owner == provider))

    def _read(self, first: int, last: int, *, newer: bool) -> None:
        registered, nodes = self.client.registry.registrations(first, last)
        submitted, invalidated = self.client.rewards.work_events(first, last)
        if newer:
            self.registered += registered
            self.nodes_added += nodes
            self.submissions += submitted
            self.invalidations += invalidated
        else:
            self.registered[:0] = registered
            self.nodes_added[:0] = nodes
            self.submissions[:0] = submitted
            self.invalidations[:0] = invalidated
