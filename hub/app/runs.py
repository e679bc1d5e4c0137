"""What the trainer writes on this machine, for the page: loss curves and the aux peer's audit log.

`trainer join` and `trainer aux` keep one workdir per pool under a runs folder (default `runs/`):
`pool-<id>-<node address prefix>/metrics.jsonl` (an `epoch` event per collaborative epoch, with the
peer's `mean_loss`) and `pool-<id>-aux/audit.jsonl` (one decision per judged claim, with its
evidence). Neither is on chain, so the app reads these files where it runs; `hub` never imports the
trainer, only reads its files. A line being written while it is read is skipped.
"""

from __future__ import annotations

import json
import re
from collections import deque
from pathlib import Path
from typing import Any

# @dev Lines read from the end of each file: enough for a curve and the recent audit decisions.
TAIL_LINES = 2_000
_FOLDER = re.compile(r"^pool-(\d+)-(.+)$")


def _tail(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    with path.open() as handle:
        lines = deque(handle, maxlen=TAIL_LINES)
    events = []
    for line in lines:
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if isinstance(item, dict):
            events.append(item)
    return events


def training(runs_dir: Path | None) -> dict[str, Any]:
    """`loss`: {pool id: {peer folder: [[epoch, mean loss], ...]}}; `audit`: the aux peers'
    decisions, newest first, each with its pool id."""
    loss: dict[str, dict[str, list[list[float]]]] = {}
    audit: list[dict[str, Any]] = []
    if runs_dir is None or not runs_dir.is_dir():
        return {"loss": loss, "audit": audit}
    for folder in sorted(runs_dir.iterdir()):
        match = _FOLDER.match(folder.name)
        if not match or not folder.is_dir():
            continue
        pool_id, who = match.group(1), match.group(2)
        if who == "aux":
            audit.extend({**entry, "pool_id": int(pool_id)} for entry in _tail(folder / "audit.jsonl"))
            continue
        curve = [
            [event["epoch"], event["mean_loss"]]
            for event in _tail(folder / "metrics.jsonl")
            if event.get("event") == "epoch"
            and isinstance(event.get("mean_loss"), int | float)
            and event["mean_loss"] >= 0
        ]
        if curve:
            loss.setdefault(pool_id, {})[who] = curve
    audit.sort(key=lambda entry: entry.get("time", 0), reverse=True)
    return {"loss": loss, "audit": audit}
