"""What the trainer writes on the app's machine shows in the page without a reload: each pool's loss
curve from its peers' metrics files, and the aux peer's audit decisions with their evidence. The
lines are written as `trainer join` and `trainer aux` write them (their own dataclasses)."""

from __future__ import annotations

import json
import time
from dataclasses import asdict

from tests.app.page import AppPage
from tests.hub.helpers import INJ


def _epoch_line(run_id: str, epoch: int, loss: float) -> str:
    from trainer.training.train_loop import EpochReport

    report = EpochReport(run_id, "peer", epoch, 4096, 32, loss, 1.0, 0.9, 2, 2)
    return json.dumps({"event": "epoch", "time": time.time(), **asdict(report)}) + "\n"


def test_loss_curves_and_the_aux_audit_log_show_live(world, served, browser, runs_dir, tmp_path):
    from hub.metadata import publish_metadata
    from trainer.pool.audit import Decision

    node, creator = world.actor("app-train-node", fund_wei=0), world.actor("app-train-creator")
    meta = tmp_path / "pool.json"
    meta.write_text('{"run_id": "r"}')
    pool_id = (
        world.client(creator)
        .pool.create(1, publish_metadata(meta), budget=INJ, reward_per_unit=1, challenge_window=20)
        .pool_id
    )
    page = AppPage(browser, served).open()

    metrics = runs_dir / f"pool-{pool_id}-{node.address[:10].lower()}" / "metrics.jsonl"
    metrics.parent.mkdir(parents=True)
    metrics.write_text("".join(_epoch_line("r", e, loss) for e, loss in [(0, 10.5), (1, 8.25), (2, 6.0)]))
    audit = runs_dir / f"pool-{pool_id}-aux" / "audit.jsonl"
    audit.parent.mkdir(parents=True)
    decision = Decision(
        "0x" + "ab" * 32,
        node.address,
        "hard",
        claimed=90_000,
        reported=9_000,
        reason="claimed 10x what was seen",
        epochs=[0, 2],
        evidence={"rounds_seen": 3},
        verified=8_192,
        allowed=12_288,
    )
    audit.write_text(json.dumps({**asdict(decision), "time": time.time()}) + "\n")

    # the page polls: both appear without a reload
    row = page.wait(
        lambda: [r for r in page.rows("pools") if r[0] == f"#{pool_id}" and r[8].strip() != "-"], "the loss"
    )
    assert row[0][8].strip() == "6.000"
    page.tab("validator")
    found = page.wait(lambda: page.rows("aux-audit"), "the audit decision")
    assert found[0][:7] == [f"#{pool_id}", node.address, "hard", "90000", "8192", "12288", "claimed 10x what was seen"]
    assert "rounds_seen" in page.driver.execute_script(
        "return document.querySelector('#aux-audit details pre').textContent"
    )
