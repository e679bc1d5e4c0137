"""When the aux peer refreshes its checked copy of the swarm's state (`trainer.training.aux_peer.VouchedCopies`):
once when the swarm's epoch moves, then again, a bounded number of times, while the copy is behind it."""

from __future__ import annotations

import threading
from types import SimpleNamespace

from tests.trainer.helpers import wait_until
from trainer.training.aux_peer import COPY_RETRIES, VouchedCopies


class ScriptedDonors:
    """Stands in for the aux peer's optimizer: each download installs the next epoch of ``serves``
    (None: no donor passed) as its copy."""

    def __init__(self, *serves: int | None) -> None:
        self.serves = list(serves)
        self.state_averager = SimpleNamespace(vouched_epoch=None)
        self.downloads = 0
        self.lock = threading.Lock()

    def refresh_served_copy(self) -> int | None:
        with self.lock:
            self.downloads += 1
            loaded = self.serves.pop(0) if self.serves else None
        if loaded is not None:
            self.state_averager.vouched_epoch = loaded
        return loaded


def settle(copies: VouchedCopies, ticks: int, swarm_epoch: int) -> None:
    """``ticks`` aux loop ticks at ``swarm_epoch``, each after the download it asked for has ended."""
    for _ in range(ticks):
        copies.tick(swarm_epoch)
        wait_until(lambda: copies.refresher.idle, 30, "the download to end")


def test_a_copy_behind_the_swarm_is_downloaded_again_a_bounded_number_of_times() -> None:
    # epoch 1: the first donor still served epoch 0, then nobody passed, then the copy of epoch 1
    donors = ScriptedDonors(0, None, 1, 2)
    saved: list[tuple[int, int | None]] = []
    copies = VouchedCopies(donors, on_copy=lambda epoch, loaded: saved.append((epoch, loaded)))
    try:
        settle(copies, ticks=10, swarm_epoch=1)
        assert donors.downloads == 3, "no download once the copy is at the swarm's epoch"
        assert saved == [(1, 0), (1, None), (1, 1)]
        settle(copies, ticks=10, swarm_epoch=2)
        assert donors.downloads == 4, "one download when the epoch moves and the copy keeps up"
        settle(copies, ticks=10, swarm_epoch=3)  # no donor serves epoch 3
        assert donors.downloads == 4 + 1 + COPY_RETRIES, "a swarm that left keeps the aux peer busy for a while only"
    finally:
        copies.close()
