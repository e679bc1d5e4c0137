"""A real `trainer` command running in the background in a test, with its log and metrics file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.utils.waiting import patience
from trainer.training.reporting import read_metrics


def subprocess_env(workdir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        HF_HUB_OFFLINE="1",
        OMP_NUM_THREADS="1",
        PYTHONUNBUFFERED="1",
        INJECTIVE_AI_HUB_CACHE=str(workdir / "cache"),
        TOKENIZERS_PARALLELISM="false",
    )
    return env


class TrainerProcess:
    """A real `trainer` command running in the background, with its log and metrics file."""

    def __init__(self, workdir: Path, name: str, args: list[str], env: dict[str, str] | None = None) -> None:
        self.workdir, self.name, self.args, self.env = workdir, name, args, env or {}
        self.log_path = workdir / f"{name}.log"
        self.metrics_path = workdir / f"{name}.jsonl"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> TrainerProcess:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "trainer.cli", *self.args, "--metrics-file", str(self.metrics_path)],
            cwd=self.workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=subprocess_env(self.workdir) | self.env,
            start_new_session=True,
        )
        return self

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        events = read_metrics(self.metrics_path)
        return [event for event in events if kind is None or event["event"] == kind]

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def exited(self) -> bool:
        return self.proc is not None and self.proc.poll() is not None

    def stop(self) -> None:
        """SIGTERM: the peer finishes its step, checkpoints and leaves (as on Ctrl-C)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL the whole process group: the trainer and hivemind's helper processes."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def wait(self, timeout: float) -> int:
        """The exit status, waiting up to ``patience(timeout)`` seconds (then kill and fail)."""
        assert self.proc is not None
        limit = patience(timeout)
        try:
            return self.proc.wait(limit)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"{self.name} did not finish in {limit:.0f}s; log tail:\n{self.tail()}") from None

    def tail(self, lines: int = 30) -> str:
        if not self.log_path.is_file():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def errors(self) -> list[str]:
        """Tracebacks in the log, except two kinds of shutdown noise after a clean stop.

        - Python's "Exception ignored in" reports: hivemind's `MPFuture.__del__` when the
          interpreter shuts down after a clean exit ("Event loop is closed").
        - A hivemind helper process's own report ("Process DHT-1:" then a traceback) printed after
          the peer logged "stopped at epoch": the peer had finished, and the helper failed to read
          a message its exiting parent had half sent (seen in CI: EOFError in rebuild_connection).
          The same report before the stop line still counts: then the peer lost its DHT mid-run.
        """
        if not self.log_path.is_file():
            return []
        lines = self.log_path.read_text(errors="replace").splitlines()
        stopped = next((i for i, line in enumerate(lines) if " INFO stopped at epoch " in line), len(lines))

        def noise(index: int) -> bool:
            before = lines[index - 1] if index else ""
            child_report = before.startswith("Process ") and before.endswith(":")
            return before.startswith("Exception ignored in") or (child_report and index > stopped)

        return [
            "\n".join(lines[index : index + 12])
            for index, line in enumerate(lines)
            if line.startswith("Traceback") and not noise(index)
        ]

    def cleanup(self) -> None:
        """Kill the process group if anything is left (including orphaned helpers)."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
