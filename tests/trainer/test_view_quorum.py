"""A robust pool of two trainers on loopback DHTs: a partner one epoch ahead is in view.

The strict quorum guard ignores the record ahead (its epoch and its samples); before `in_view` the
peer left behind then read ``num_peers == 1`` and skipped its round as alone (the late peer of
tests/bridge/data/demo_liar_ci21). Here both trackers are hivemind's own, fed by signed records.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from tests.trainer.helpers import LocalSwarm, wait_until


@pytest.fixture
def swarm(tmp_path: Path) -> Iterator[LocalSwarm]:
    with LocalSwarm(tmp_path, run_id="view") as started:
        yield started


def test_a_partner_one_epoch_ahead_is_in_view_and_the_epoch_stays_guarded(swarm: LocalSwarm) -> None:
    trackers = {}
    for name, epoch in (("behind", 3), ("ahead", 4)):
        opt = swarm.peer(name, [torch.nn.Parameter(torch.zeros(4))], robust_aggregation=True).optimizer
        opt.state_averager.local_epoch = epoch
        opt.tracker.report_local_progress(local_epoch=epoch, samples_accumulated=4)
        trackers[name] = opt.tracker
    behind = trackers["behind"]
    # the tracker refreshes on its own schedule: wait until its view holds both signed records
    wait_until(lambda: behind.global_progress.num_peers == 2, 60, "the behind peer to see its partner")
    assert behind.ignored_records > 0, "the partner's record was ignored for the epoch"
    assert behind.global_progress.epoch == 3, "a lone record ahead moves nobody (strict)"
    assert behind.global_progress.samples_accumulated == 4, "only the behind peer's own samples count"
