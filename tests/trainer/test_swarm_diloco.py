"""DiLoCo mode on loopback: two trainer peers, local AdamW rounds, compressed pseudo-gradient
averaging with an outer Nesterov step. The second peer uses the seed's privacy options (loopback
only, nothing announced, client mode) and bootstraps from the first; there is no aux peer.

The run moves in phases, each started by an event:

1. both peers start at once (the first peer's address is fixed in advance);
2. the private peer kills itself right after completing epoch `FAIL_AT_EPOCH` and writing its
   checkpoint (``TRAINER_FAIL_AT_EPOCH``, see trainer.training.train_loop);
3. once the first peer recorded an epoch on its own, the private peer restarts from its checkpoint;
4. once the restarted peer recorded `EPOCHS_AFTER_RESTART` epochs, both are stopped with SIGTERM.

The tests assert only what holds on any schedule; the loop's DiLoCo decisions (round length,
catching up at a round's start) are tested in test_loop_decisions.py with a scripted swarm.
"""

from __future__ import annotations

import json
import signal
from dataclasses import dataclass
from pathlib import Path

import pytest
from hivemind.p2p import P2P, PeerID

from tests.trainer.helpers import TrainerProcess, free_port, peer_args, wait_until
from trainer.training.train_loop import FAIL_AT_EPOCH_ENV

FAIL_AT_EPOCH = 3
EPOCHS_AFTER_RESTART = 2
UNBOUNDED = 10_000  # peers run until they are told to stop
TARGET = 384  # samples per outer step across the swarm: about 48 inner steps per peer


@dataclass
class DilocoRun:
    first: TrainerProcess
    private: TrainerProcess
    """The private peer's first life, killed by fault injection."""
    restarted: TrainerProcess
    private_exit: int
    checkpoint_epoch_at_crash: int
    checkpoint_tokens_at_crash: int


@pytest.fixture(scope="module")
def diloco_run(trainer_workdir: Path, corpus: Path, tokenizer_dir: Path) -> DilocoRun:
    workdir = trainer_workdir / "diloco"
    workdir.mkdir()
    # The first peer's address is fixed in advance (identity file + port) so both start at once:
    # DiLoCo epochs are short enough that a peer starting 10 s late would find the run far ahead.
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
        max_epochs=UNBOUNDED,
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

    def private_peer(name: str, env: dict[str, str] | None = None) -> TrainerProcess:
        args = peer_args(
            checkpoint_dir=workdir / "private",
            initial_peers=[f"/ip4/127.0.0.1/tcp/{port}/p2p/{peer_id}"],
            **common,
            extra=["--private", "--compression", "uint8"],
        )
        return TrainerProcess(workdir, name, args, env)

    private = private_peer("private", {FAIL_AT_EPOCH_ENV: str(FAIL_AT_EPOCH)})
    started = [first]
    try:
        first.start()
        started.append(private.start())
        private_exit = private.wait(300)
        (fault,) = private.events("fault") or [{"time": None}]
        assert fault["time"] is not None, f"private died without the injected fault ({private_exit}):\n{private.tail()}"
        latest = json.loads((workdir / "private" / "latest.json").read_text())
        saved = json.loads((workdir / "private" / latest["dir"] / "trainer_state.json").read_text())

        wait_until(
            lambda: any(e["time"] > fault["time"] for e in first.events("epoch")),
            120,
            "the first peer to finish an epoch on its own",
        )
        restarted = private_peer("private-restarted")
        started.append(restarted.start())
        wait_until(
            lambda: len(restarted.events("epoch")) >= EPOCHS_AFTER_RESTART or restarted.exited(),
            240,
            f"the restarted peer to complete {EPOCHS_AFTER_RESTART} epochs",
        )
        for process in (restarted, first):
            process.stop()
        for process in (restarted, first):
            assert process.wait(120) == 0, f"{process.name} failed:\n{process.tail()}"
        return DilocoRun(first, private, restarted, private_exit, int(saved["epoch"]), int(saved["totals"]["tokens"]))
    finally:
        for process in started:
            process.cleanup()


def test_private_peer_runs_in_client_mode_on_loopback(diloco_run: DilocoRun) -> None:
    for life in (diloco_run.private, diloco_run.restarted):
        (start,) = life.events("start")
        assert start["averaging"] == "diloco"
        assert start["client_mode"] is True
        assert all(addr.startswith("/ip4/127.0.0.1/") for addr in start["maddrs"]), "loopback only"
    (first_start,) = diloco_run.first.events("start")
    assert first_start["client_mode"] is False


def test_every_peer_finished_without_an_error(diloco_run: DilocoRun) -> None:
    assert diloco_run.private_exit == -signal.SIGKILL, "the private peer's first life ended by the injected fault"
    for peer in (diloco_run.first, diloco_run.restarted):
        (stop,) = peer.events("stop")
        assert stop["final_epoch"] > FAIL_AT_EPOCH
    for peer in (diloco_run.first, diloco_run.private, diloco_run.restarted):
        assert not peer.errors(), f"{peer.name}: {peer.errors()[0]}"


def test_peers_complete_outer_steps_together(diloco_run: DilocoRun) -> None:
    peers = (diloco_run.first, diloco_run.private, diloco_run.restarted)
    for peer in peers:
        epochs = [e["epoch"] for e in peer.events("epoch")]
        assert epochs, f"{peer.name} completed no epoch:\n{peer.tail()}"
        assert epochs == sorted(set(epochs)), f"{peer.name} credited an epoch twice: {epochs}"
        assert all(e["samples"] > 0 and e["tokens"] == e["samples"] * 64 for e in peer.events("epoch"))
    # how many rounds found a group depends on the load; that some did is what the mode is for
    groups = [e["group_size"] for p in peers for e in p.events("epoch")]
    assert max(groups) == 2, f"pseudo-gradients were never averaged: {groups}"


def test_local_updates_make_the_loss_fall_fast(diloco_run: DilocoRun) -> None:
    # many inner AdamW steps per outer step: the loss drops far more per epoch than with gradients
    losses = [e["mean_loss"] for e in diloco_run.first.events("epoch")]
    assert losses[-1] < losses[0] - 1.0, f"loss {losses[0]:.3f} -> {losses[-1]:.3f}"


def test_restarted_peer_resumed_from_its_checkpoint(diloco_run: DilocoRun) -> None:
    restarted = diloco_run.restarted
    (start,) = restarted.events("start")
    assert start["peer_id"] == diloco_run.private.events("start")[0]["peer_id"], "identity survives a restart"
    assert start["resumed_from_epoch"] == diloco_run.checkpoint_epoch_at_crash >= FAIL_AT_EPOCH
    epochs = restarted.events("epoch")
    assert min(e["epoch"] for e in epochs) >= diloco_run.checkpoint_epoch_at_crash
    (stop,) = restarted.events("stop")
    assert stop["tokens"] == diloco_run.checkpoint_tokens_at_crash + sum(e["tokens"] for e in epochs)
