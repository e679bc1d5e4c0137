"""A real swarm on loopback: an aux peer and three trainer peers, per-epoch gradient averaging.

One run serves every test in this module. It moves in phases, each started by an event:

1. the aux peer writes its addresses; the three trainers start from them;
2. peer3 kills itself (SIGKILL, hivemind helpers included) right after completing epoch
   `FAIL_AT_EPOCH` and writing its checkpoint (``TRAINER_FAIL_AT_EPOCH``, see trainer.training.train_loop);
3. once peer1 and peer2 each recorded an epoch after that (or finished), peer3 restarts from its
   checkpoint directory;
4. the trainers finish; then the aux peer is stopped with SIGTERM.

Which epochs each peer takes part in depends on the machine's load (a peer that falls behind
downloads state and skips epochs), so the tests assert only what holds on any schedule; the
loop's decisions themselves are tested in test_loop_decisions.py with a scripted swarm.
"""

from __future__ import annotations

import json
import signal
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.trainer.helpers import TrainerProcess, peer_args, wait_until
from trainer.training.train_loop import FAIL_AT_EPOCH_ENV

MAX_EPOCHS = 12
EXTRA_EPOCHS = 3  # the restarted peer trains past the others, so it always does work after resuming
TARGET = 48  # samples per collaborative epoch: 12 micro-batches of 4 across the swarm
FAIL_AT_EPOCH = 3


@dataclass
class GradientRun:
    workdir: Path
    aux: TrainerProcess
    peers: list[TrainerProcess]
    """peer1, peer2 and peer3's first life (killed by fault injection)."""
    restarted: TrainerProcess
    victim_exit: int
    checkpoint_epoch_at_crash: int
    checkpoint_tokens_at_crash: int
    peer_id_before_crash: str

    @property
    def survivors(self) -> list[TrainerProcess]:
        return self.peers[:2]

    @property
    def trainers(self) -> list[TrainerProcess]:
        """Every trainer process, both lives of peer3 included."""
        return [*self.peers, self.restarted]


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

        def make_peer(index: int, name: str, max_epochs: int, env: dict[str, str] | None = None) -> TrainerProcess:
            args = peer_args(
                run_id="grad",
                corpus=corpus,
                tokenizer=tokenizer_dir,
                checkpoint_dir=workdir / f"peer{index}",
                averaging="gradient",
                max_epochs=max_epochs,
                target_batch_size=TARGET,
                initial_peers=bootstrap,
            )
            return TrainerProcess(workdir, name, args, env)

        peers = [make_peer(1, "peer1", MAX_EPOCHS), make_peer(2, "peer2", MAX_EPOCHS)]
        # no epoch limit of its own: a peer that re-synchronises skips epochs, so the first one it
        # completes at or after FAIL_AT_EPOCH may come late, even after the others finished
        peers.append(make_peer(3, "peer3", 100 * MAX_EPOCHS, {FAIL_AT_EPOCH_ENV: str(FAIL_AT_EPOCH)}))
        for peer in peers:
            everyone.append(peer.start())

        victim = peers[2]
        victim_exit = victim.wait(240)
        (fault,) = victim.events("fault") or [{"time": None}]
        assert fault["time"] is not None, f"peer3 died without the injected fault ({victim_exit}):\n{victim.tail()}"
        latest = json.loads((workdir / "peer3" / "latest.json").read_text())
        saved = json.loads((workdir / "peer3" / latest["dir"] / "trainer_state.json").read_text())

        def survivors_moved_on() -> bool:
            return all(
                peer.exited() or any(e["time"] > fault["time"] for e in peer.events("epoch")) for peer in peers[:2]
            )

        wait_until(survivors_moved_on, 120, "peer1 and peer2 to finish an epoch while peer3 is down")
        restarted = make_peer(3, "peer3-restarted", MAX_EPOCHS + EXTRA_EPOCHS)
        everyone.append(restarted.start())

        for process in [*peers[:2], restarted]:
            assert process.wait(300) == 0, f"{process.name} failed:\n{process.tail()}"
        aux.stop()
        assert aux.wait(60) == 0, f"aux failed:\n{aux.tail()}"
        peer_id = victim.events("start")[0]["peer_id"]
        return GradientRun(
            workdir, aux, peers, restarted, victim_exit, int(saved["epoch"]), int(saved["totals"]["tokens"]), peer_id
        )
    finally:
        for process in everyone:
            process.cleanup()


def test_every_peer_finished_without_an_error(gradient_run: GradientRun) -> None:
    assert gradient_run.victim_exit == -signal.SIGKILL, "peer3's first life ended by the injected fault"
    for peer in gradient_run.survivors:
        (stop,) = peer.events("stop")
        assert stop["final_epoch"] >= MAX_EPOCHS  # a peer that re-synchronises may land past it
    (stop,) = gradient_run.restarted.events("stop")
    assert stop["final_epoch"] >= MAX_EPOCHS + EXTRA_EPOCHS
    for process in [*gradient_run.trainers, gradient_run.aux]:
        assert not process.errors(), f"{process.name}: {process.errors()[0]}"


def test_every_epoch_a_peer_reports_is_real_work(gradient_run: GradientRun) -> None:
    for peer in gradient_run.trainers:
        epochs = [e["epoch"] for e in peer.events("epoch")]
        assert epochs == sorted(set(epochs)), f"{peer.name} credited an epoch twice: {epochs}"
        assert all(e["tokens"] == e["samples"] * 64 and e["samples"] > 0 for e in peer.events("epoch"))


def test_gradients_were_averaged_across_peers(gradient_run: GradientRun) -> None:
    # how many rounds found a group depends on the load; that some did is what the mode is for
    groups = [e["group_size"] for p in gradient_run.trainers for e in p.events("epoch")]
    assert max(groups) >= 2, f"no epoch averaged with another peer: {groups}"


def test_training_loss_fell_over_the_run(gradient_run: GradientRun) -> None:
    # every peer trains the swarm's one model, so the swarm's first and last epochs are compared,
    # whoever reported them
    losses: dict[int, list[float]] = {}
    for peer in gradient_run.trainers:
        for event in peer.events("epoch"):
            losses.setdefault(event["epoch"], []).append(event["mean_loss"])
    epochs = sorted(losses)
    first = sum(losses[epochs[0]]) / len(losses[epochs[0]])
    last = sum(losses[epochs[-1]]) / len(losses[epochs[-1]])
    assert last < first - 0.3, f"loss {first:.3f} at epoch {epochs[0]} -> {last:.3f} at epoch {epochs[-1]}"


def test_restarted_peer_resumed_from_its_checkpoint(gradient_run: GradientRun) -> None:
    restarted = gradient_run.restarted
    (start,) = restarted.events("start")
    assert start["peer_id"] == gradient_run.peer_id_before_crash, "identity must survive a restart"
    assert start["resumed_from_epoch"] == gradient_run.checkpoint_epoch_at_crash >= FAIL_AT_EPOCH
    epochs = restarted.events("epoch")
    assert epochs, f"restarted peer did no work:\n{restarted.tail()}"
    assert min(e["epoch"] for e in epochs) >= gradient_run.checkpoint_epoch_at_crash
    # its totals continue from the checkpoint's: nothing it saved is lost or counted twice
    (stop,) = restarted.events("stop")
    assert stop["tokens"] == gradient_run.checkpoint_tokens_at_crash + sum(e["tokens"] for e in epochs)


def test_killed_peer_does_not_stop_the_others(gradient_run: GradientRun) -> None:
    (fault,) = gradient_run.peers[2].events("fault")
    back_at = gradient_run.restarted.events("start")[0]["time"]
    for peer in gradient_run.survivors:
        (stop,) = peer.events("stop")
        while_down = [e for e in peer.events("epoch") if fault["time"] < e["time"] < back_at]
        assert while_down or stop["time"] < back_at, f"{peer.name} made no progress while peer3 was down"


def test_progress_records_match_the_work_each_peer_logged(gradient_run: GradientRun) -> None:
    last_swarm = gradient_run.aux.events("swarm")[-1]["peers"]
    for peer in gradient_run.survivors:
        record = last_swarm[peer.events("start")[0]["peer_id"]]
        logged = sum(e["tokens"] for e in peer.events("epoch") if e["epoch"] <= record["epoch"])
        assert record["tokens"] == logged > 0
    assert gradient_run.peer_id_before_crash in last_swarm, "peer3's signed records reached the aux peer"


def test_aux_peer_keeps_the_latest_checkpoint(gradient_run: GradientRun) -> None:
    checkpoints = gradient_run.aux.events("checkpoint")
    assert checkpoints, f"the aux peer saved no checkpoint:\n{gradient_run.aux.tail()}"
    latest = json.loads((gradient_run.workdir / "aux" / "latest.json").read_text())
    assert latest["epoch"] == max(e["epoch"] for e in checkpoints)
    assert (gradient_run.workdir / "aux" / latest["dir"] / "model" / "model.safetensors").is_file()


def test_generate_from_the_trained_checkpoint(gradient_run: GradientRun, tmp_path: Path) -> None:
    from trainer.training.generate import run_generation

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
