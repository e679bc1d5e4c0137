"""What a running peer shows and records: a rich progress bar, periodic metric lines, a JSONL log.

The progress bar only appears on a terminal; metric lines always go to the ``trainer`` logger
(stderr by default), so logs of background peers read the same as the screen.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger("trainer")


class MetricsFile:
    """Append-only JSON lines: ``{"event": ..., "time": ..., **fields}``; a no-op without a path.

    ``now`` gives the ``time`` field (Unix seconds); tests pass their fake clock's.
    """

    def __init__(self, path: Path | None, now: Callable[[], float] = time.time) -> None:
        self.path = path
        self.now = now
        self._lock = threading.Lock()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, event: str, **fields: Any) -> None:
        if self.path is None:
            return
        line = json.dumps({"event": event, "time": self.now(), **fields}, default=str)
        with self._lock, self.path.open("a") as handle:
            handle.write(line + "\n")


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """All events of a metrics file (tests and benchmarks read peers' files with this)."""
    if not path.is_file():
        return []
    events = []
    for line in path.read_text().splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line being written while we read
    return events


class ProgressDisplay:
    """A one-line rich progress bar of the swarm's current epoch (terminal only)."""

    def __init__(self, enabled: bool, target_batch_size: int, label: str = "epoch") -> None:
        from rich.console import Console

        console = Console(stderr=True)
        self.enabled = enabled and console.is_terminal
        self.target = target_batch_size
        self._progress = None
        if self.enabled:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self._progress = Progress(
                TextColumn("[bold]{task.fields[label]} {task.fields[epoch]}"),
                BarColumn(),
                TextColumn("{task.completed:>6.0f}/{task.total:.0f} samples"),
                TextColumn("loss {task.fields[loss]}"),
                TextColumn("{task.fields[tps]} tok/s"),
                TextColumn("peers {task.fields[peers]}"),
                TimeElapsedColumn(),
                console=console,
                transient=True,
            )
            self._task = self._progress.add_task(
                "train", total=target_batch_size, label=label, epoch=0, loss="-", tps="-", peers="-"
            )
            self._progress.start()

    def update(
        self, *, epoch: int, swarm_samples: int, loss: float | None, tokens_per_second: float, peers: int
    ) -> None:
        if self._progress is None:
            return
        self._progress.update(
            self._task,
            completed=min(swarm_samples, self.target),
            epoch=epoch,
            loss=f"{loss:.3f}" if loss is not None else "-",
            tps=f"{tokens_per_second:,.0f}",
            peers=peers,
        )

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def metric_line(**fields: Any) -> str:
    """``epoch 12 | loss 4.231 | 1,234 tok/s | peers 3 | ...`` from keyword fields, in order."""
    parts = []
    for name, value in fields.items():
        if value is None:
            continue
        if isinstance(value, float):
            text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3f}"
        elif isinstance(value, int):
            text = f"{value:,}"
        else:
            text = str(value)
        parts.append(f"{name.replace('_', ' ')} {text}")
    return " | ".join(parts)


def setup_logging(level: int = logging.INFO) -> None:
    """Plain timestamped lines on stderr for the ``trainer`` loggers (the CLI calls this once)."""
    root = logging.getLogger("trainer")
    if any(getattr(handler, "_trainer_handler", False) for handler in root.handlers):
        return
    handler = logging.StreamHandler()
    handler._trainer_handler = True  # type: ignore[attr-defined]
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
    root.addHandler(handler)
    root.setLevel(level)
    root.propagate = False
