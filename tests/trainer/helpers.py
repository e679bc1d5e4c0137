"""Helpers of the trainer tests: run real `trainer` processes on loopback and read what they record.

Waits are for events (a file appears, a process records an epoch or exits), with timeouts that
grow with the machine's load (`patience`): a busy CI runner makes a swarm slower, not wrong.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from trainer.training.reporting import read_metrics

SEQ_LEN = 64
BATCH = 4


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


def free_port() -> int:
    """A TCP port that was free a moment ago (for a peer whose address must be known in advance)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(condition: Callable[[], bool], timeout: float, what: str, poll: float = 0.25) -> None:
    """Poll ``condition`` until it holds; fail after ``patience(timeout)`` seconds."""
    limit = patience(timeout)
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(poll)
    raise AssertionError(f"timed out after {limit:.0f}s waiting for {what}")


def peer_args(
    *,
    run_id: str,
    corpus: Path,
    tokenizer: Path,
    checkpoint_dir: Path,
    averaging: str,
    max_epochs: int,
    target_batch_size: int,
    initial_peers: list[str],
    extra: list[str] | None = None,
) -> list[str]:
    """Arguments of `trainer train` for a tiny-LLaMA peer on loopback with CI-sized timings."""
    args = [
        "train",
        "--run-id",
        run_id,
        "--model",
        "tiny",
        "--tokenizer",
        str(tokenizer),
        "--data",
        str(corpus),
        "--data-shards",
        "4",
        "--seq-len",
        str(SEQ_LEN),
        "--batch-size",
        str(BATCH),
        "--target-batch-size",
        str(target_batch_size),
        "--averaging",
        averaging,
        "--lr",
        "3e-3",
        "--warmup-steps",
        "2",
        "--total-steps",
        "400",
        "--host-maddrs",
        "/ip4/127.0.0.1/tcp/0",
        "--matchmaking-time",
        "1.5",
        "--averaging-timeout",
        "6",
        "--metadata-expiration",
        "8",
        "--load-state-timeout",
        "10",
        "--checkpoint-dir",
        str(checkpoint_dir),
        "--checkpoint-every",
        "2",
        "--max-epochs",
        str(max_epochs),
        "--log-every",
        "5",
        "--num-threads",
        "1",
        "--no-progress-bar",
    ]
    for peer in initial_peers:
        args += ["--initial-peers", peer]
    return args + (extra or [])
