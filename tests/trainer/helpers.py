"""Helpers of the trainer tests: the arguments of a tiny-LLaMA peer on loopback, plus the helpers
every test folder shares (`tests/utils`: waiting for a condition under load, free ports, a real
`trainer` process with its log and metrics), imported from here by the trainer tests.
"""

from __future__ import annotations

from pathlib import Path

from tests.utils.ports import free_port
from tests.utils.trainer_process import TrainerProcess, subprocess_env
from tests.utils.waiting import load_factor, patience, wait_until

# the shared test helpers, imported from here by the trainer tests
__all__ = [
    "BATCH",
    "SEQ_LEN",
    "TrainerProcess",
    "free_port",
    "load_factor",
    "patience",
    "peer_args",
    "subprocess_env",
    "wait_until",
]

SEQ_LEN = 64
BATCH = 4


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
