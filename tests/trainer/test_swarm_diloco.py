"""DiLoCo mode on loopback: two trainer peers, local AdamW rounds, compressed pseudo-gradient
averaging with an outer Nesterov step. The second peer uses the seed's privacy options (loopback
only, nothing announced, client mode) and bootstraps from the first; there is no aux peer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from hivemind.p2p import P2P, PeerID

from tests.trainer.helpers import TrainerProcess, free_port, peer_args

MAX_EPOCHS = 8
TARGET = 384  # samples per outer step across the swarm: about 48 inner steps per peer


@dataclass
class DilocoRun:
    first: TrainerProcess
    private: TrainerProcess


@pytest.fixture(scope="module")
def diloco_run(trainer_workdir: Path, corpus: Path, tokenizer_dir: Path) -> DilocoRun:
    workdir = trainer_workdir / "diloco"
    workdir.mkdir()
    # The first peer's address is fixed in advance (identity file + port) so both start at once:
    # DiLoCo epochs are short enough that a peer starting 10 s late would find the run over.
    identity = workdir / "first" / "identity.key"
    identity.parent.mkdir()
    P2P.generate_identity(str(identity))
    peer_id = PeerID.from_identity(identity.read_bytes()).to_base58()
    port = free_port()
    common = dict(
        run_id="diloco",
        corpus=corpus,
        tokenizer=tokenizer_dir,
        averaging="diloco",
        max_epochs=MAX_EPOCHS,
        target_batch_size=TARGET,
    )
    first = TrainerProcess(
        workdir,
        "first",
        peer_args(
            checkpoint_dir=workdir / "first",
            initial_peers=[],
            **common,
            extra=["--host-maddrs", f"/ip4/127.0.0.1/tcp/{port}", "--compression", "uint8"],
        ),
    )
    private = TrainerProcess(
        workdir,
        "private",
        peer_args(
            checkpoint_dir=workdir / "private",
            initial_peers=[f"/ip4/127.0.0.1/tcp/{port}/p2p/{peer_id}"],
            **common,
            extra=["--private", "--compression", "uint8"],
        ),
    )
    started = [first]
    try:
        first.start()
        started.append(private.start())
        for process in (first, private):
            assert process.wait(240) == 0, f"{process.name} failed:\n{process.tail()}"
        return DilocoRun(first, private)
    finally:
        for process in started:
            process.cleanup()


def test_private_peer_runs_in_client_mode_on_loopback(diloco_run: DilocoRun) -> None:
    (start,) = diloco_run.private.events("start")
    assert start["averaging"] == "diloco"
    assert start["client_mode"] is True
    assert all(addr.startswith("/ip4/127.0.0.1/") for addr in start["maddrs"]), "loopback only"
    (first_start,) = diloco_run.first.events("start")
    assert first_start["client_mode"] is False


def test_both_peers_complete_outer_steps_together(diloco_run: DilocoRun) -> None:
    for peer in (diloco_run.first, diloco_run.private):
        epochs = peer.events("epoch")
        assert epochs, f"{peer.name} completed no epoch:\n{peer.tail()}"
        assert all(e["samples"] > 0 and e["tokens"] == e["samples"] * 64 for e in epochs)
        (stop,) = peer.events("stop")
        assert stop["final_epoch"] >= MAX_EPOCHS
    groups = [e["group_size"] for p in (diloco_run.first, diloco_run.private) for e in p.events("epoch")]
    assert sum(size == 2 for size in groups) >= 2, f"pseudo-gradients were rarely averaged: {groups}"


def test_local_updates_make_the_loss_fall_fast(diloco_run: DilocoRun) -> None:
    # many inner AdamW steps per outer step: the loss drops far more per epoch than with gradients
    losses = [e["mean_loss"] for e in diloco_run.first.events("epoch")]
    assert losses[-1] < losses[0] - 1.5, f"loss {losses[0]:.3f} -> {losses[-1]:.3f}"
