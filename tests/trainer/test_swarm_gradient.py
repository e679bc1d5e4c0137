"""A real swarm on loopback: an aux peer and three trainer peers, per-epoch gradient averaging.

One run serves every test in this module: peer 3 is SIGKILLed mid-run and restarted from its
checkpoint directory, while the others go on. The tests then read what each process recorded.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.trainer.helpers import TrainerProcess, peer_args, wait_until

MAX_EPOCHS = 30
EXTRA_EPOCHS = 3  # the restarted peer trains past the others, so it always does work after resuming
TARGET = 48  # samples per collaborative epoch: 12 micro-batches of 4 across the swarm
KILL_AFTER_EPOCH = 3


@dataclass
class GradientRun:
    workdir: Path
    aux: TrainerProcess
    peers: list[TrainerProcess]
    restarted: TrainerProcess
    killed_at: float
    restarted_at: float
    checkpoint_epoch_at_restart: int
    peer_id_before_kill: str


@pytest.fixture(scope="module")
def gradient_run(trainer_workdir: Path, corpus: Path, tokenizer_dir: Path) -> GradientRun:
    workdir = trainer_workdir / "gradient"
    workdir.mkdir()
    aux = TrainerProcess(
        workdir,
        "aux",
        [
            "aux",
            "--run-id",
            "grad",
            "--model",
            "tiny",
            "--tokenizer",
            str(tokenizer_dir),
            "--target-batch-size",
            str(TARGET),
            "--averaging",
            "gradient",
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
            str(workdir / "aux"),
            "--checkpoint-every",
            "2",
            "--max-epochs",
            str(MAX_EPOCHS),
            "--maddrs-file",
            str(workdir / "aux.maddrs"),
            "--log-every",
            "2",
            "--num-threads",
            "1",
        ],
    )
    everyone = [aux]
    try:
        aux.start()
        wait_until(lambda: (workdir / "aux.maddrs").is_file(), 90, "the aux peer to come up")
        bootstrap = (workdir / "aux.maddrs").read_text().split()

        def make_peer(index: int, name: str, max_epochs: int = MAX_EPOCHS) -> TrainerProcess:
            return TrainerProcess(
                workdir,
                name,
                peer_args(
                    run_id="grad",
                    corpus=corpus,
                    tokenizer=tokenizer_dir,
                    checkpoint_dir=workdir / f"peer{index}",
                    averaging="gradient",
                    max_epochs=max_epochs,
                    target_batch_size=TARGET,
                    initial_peers=bootstrap,
                ),
            )

        peers = [make_peer(index, f"peer{index}") for index in (1, 2, 3)]
        for peer in peers:
            everyone.append(peer.start())

        victim = peers[2]

        def victim_checkpointed() -> bool:
            return any(e["epoch"] >= KILL_AFTER_EPOCH for e in victim.events("epoch")) and bool(
                victim.events("checkpoint")
            )

        wait_until(victim_checkpointed, 150, "peer3 to finish a few epochs and checkpoint")
        peer_id = victim.events("start")[0]["peer_id"]
        victim.kill()
        killed_at = time.time()
        latest = json.loads((workdir / "peer3" / "latest.json").read_text())

        # the others must finish epochs without it before it comes back (a stalled swarm fails here)
        def survivors_progressed() -> bool:
            return all(any(e["time"] > killed_at for e in peer.events("epoch")) for peer in peers[:2])

        wait_until(survivors_progressed, 90, "peer1 and peer2 to finish an epoch while peer3 is down")
        restarted = make_peer(3, "peer3-restarted", MAX_EPOCHS + EXTRA_EPOCHS)
        everyone.append(restarted.start())
        restarted_at = time.time()

        for process in [*peers[:2], restarted, aux]:
            assert process.wait(180) == 0, f"{process.name} failed:\n{process.tail()}"
        return GradientRun(workdir, aux, peers, restarted, killed_at, restarted_at, latest["epoch"], peer_id)
    finally:
        for process in everyone:
            process.cleanup()


def test_every_peer_contributes_to_collaborative_epochs(gradient_run: GradientRun) -> None:
    peer1, peer2, _ = gradient_run.peers
    for peer in (peer1, peer2):
        epochs = peer.events("epoch")
        # A peer that falls behind downloads the swarm's state and skips epochs; how many depends
        # on the machine's load (8 to 30 of 30 seen on two cores). It must keep contributing
        # through the whole run: early, middle and late.
        thirds = {min(2, 3 * e["epoch"] // MAX_EPOCHS) for e in epochs}
        assert thirds == {0, 1, 2}, f"{peer.name} contributed only to epochs {[e['epoch'] for e in epochs]}"
        assert all(e["tokens"] == e["samples"] * 64 and e["samples"] > 0 for e in epochs)
        (stop,) = peer.events("stop")
        assert stop["final_epoch"] >= MAX_EPOCHS  # a peer that re-synchronises may land past it
    # every trainer (including peer3 in both lives) shows up in the aux peer's signed-record reads
    seen = set()
    for event in gradient_run.aux.events("swarm"):
        seen |= {peer for peer, record in event["peers"].items() if record["tokens"] > 0}
    ids = {p.events("start")[0]["peer_id"] for p in (peer1, peer2)} | {gradient_run.peer_id_before_kill}
    assert ids <= seen


def test_gradients_were_averaged_across_peers(gradient_run: GradientRun) -> None:
    groups = [e["group_size"] for p in gradient_run.peers[:2] for e in p.events("epoch")]
    assert max(groups) >= 2, f"no epoch averaged with another peer: {groups}"
    assert sum(size >= 2 for size in groups) >= len(groups) // 3


def test_training_loss_falls(gradient_run: GradientRun) -> None:
    for peer in gradient_run.peers[:2]:
        losses = [e["mean_loss"] for e in peer.events("epoch")]
        first, last = sum(losses[:2]) / 2, sum(losses[-2:]) / 2
        assert last < first - 0.4, f"{peer.name}: loss {first:.3f} -> {last:.3f}"


def test_killed_peer_does_not_stop_the_others(gradient_run: GradientRun) -> None:
    back_at = gradient_run.restarted.events("start")[0]["time"]
    for peer in gradient_run.peers[:2]:
        while_down = [e for e in peer.events("epoch") if gradient_run.killed_at < e["time"] < back_at]
        assert while_down, f"{peer.name} made no progress while peer3 was down"


def test_restarted_peer_resumes_from_its_checkpoint(gradient_run: GradientRun) -> None:
    restarted = gradient_run.restarted
    (start,) = restarted.events("start")
    assert start["peer_id"] == gradient_run.peer_id_before_kill, "identity must survive a restart"
    assert start["resumed_from_epoch"] == gradient_run.checkpoint_epoch_at_restart
    # it rejoined at the swarm's epoch (downloading state), not at its stale checkpoint epoch
    swarm_epoch_at_rejoin = max(
        (e["epoch"] for p in gradient_run.peers[:2] for e in p.events("epoch") if e["time"] < start["time"]), default=0
    )
    epochs = restarted.events("epoch")
    assert epochs, f"restarted peer did no work:\n{restarted.tail()}"
    assert min(e["epoch"] for e in epochs) >= max(swarm_epoch_at_rejoin, gradient_run.checkpoint_epoch_at_restart)
    assert all(e["tokens"] > 0 for e in epochs)
    (stop,) = restarted.events("stop")
    assert stop["final_epoch"] >= MAX_EPOCHS + EXTRA_EPOCHS


def test_progress_records_match_the_work_each_peer_logged(gradient_run: GradientRun) -> None:
    last_swarm = gradient_run.aux.events("swarm")[-1]["peers"]
    for peer in gradient_run.peers[:2]:
        record = last_swarm[peer.events("start")[0]["peer_id"]]
        logged = sum(e["tokens"] for e in peer.events("epoch") if e["epoch"] <= record["epoch"])
        assert record["tokens"] == logged > 0


def test_aux_peer_keeps_the_latest_checkpoint(gradient_run: GradientRun) -> None:
    checkpoints = gradient_run.aux.events("checkpoint")
    assert len(checkpoints) >= 2
    latest = json.loads((gradient_run.workdir / "aux" / "latest.json").read_text())
    assert latest["epoch"] == max(e["epoch"] for e in checkpoints) >= MAX_EPOCHS // 2
    assert (gradient_run.workdir / "aux" / latest["dir"] / "model" / "model.safetensors").is_file()


def test_generate_from_the_trained_checkpoint(gradient_run: GradientRun, tmp_path: Path) -> None:
    from trainer.generate import run_generation

    prompts = tmp_path / "prompts.txt"
    prompts.write_text("peer ada staked\n\nthe loss of pool\n")
    results = run_generation(
        gradient_run.workdir / "peer1",
        prompts,
        tmp_path / "out",
        max_length=24,
        temperature=0.8,
        top_p=0.9,
        num_samples=2,
        device="cpu",
    )
    assert [(r.prompt, r.sample) for r in results] == [
        ("peer ada staked", 0),
        ("peer ada staked", 1),
        ("the loss of pool", 0),
        ("the loss of pool", 1),
    ]
    assert all(r.new_tokens > 0 and r.text.strip() for r in results)
    lines = (tmp_path / "out" / "generations.jsonl").read_text().splitlines()
    assert len(lines) == 4 and json.loads(lines[0])["prompt"] == "peer ada staked"
    assert (tmp_path / "out" / "generations.txt").read_text().count("### prompt") == 4
