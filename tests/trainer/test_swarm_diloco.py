"""DiLoCo mode on loopback: two trainer peers, local AdamW rounds, compressed pseudo-gradient
averaging with an outer Nesterov step. The second peer uses the seed's privacy options (loopback
only, nothing announced, client mode) and bootstraps from the first; there is no aux peer.

The run moves in phases, each started by an event:

1. both peers start at once (the first peer's address is fixed in advance);
2. the private peer kills itself right after completing epoch `FAIL_AT_EPOCH` and writing its
   checkpoint (``TRAINER_FAIL_AT_EPOCH``, see trainer.training.train_loop);
3. once the first peer recorded an epoch on its own, the private peer restarts from its checkpoint;
4. once the restarted peer recorded `EPOCHS_AFTER_RESTART` epochs, both are stopped with SIGTERM.

The tests assert only what holds on any schedule: whether two processes ever meet in a round is
the machine's timing (a clean-clone CI run at load ~10 had two overlapped peers whose rounds all
failed with both in view). That a round averages the peers' pseudo-gradients is shown with real
optimizers driven by events in test_overlap_averaging.py (synchronous and overlapped) and
test_diloco_resync.py (robust aggregation); the loop's DiLoCo decisions (round length, catching up
at a round's start) are tested in test_loop_decisions.py with a scripted swarm.

Overlapped DiLoCo (``--delay-updates``): the bookkeeping that merges a late outer update into the
local weights (`StaleOuterBase`) is tested on tensors; a second run of two peers trains with it
until both reach `OVERLAP_EPOCHS` and checks that they finish cleanly, the loss falls and every
update merged mid-round kept the inner steps taken before it.
"""

from __future__ import annotations

import json
import signal
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from hivemind.p2p import P2P, PeerID

from tests.trainer.helpers import TrainerProcess, free_port, peer_args, wait_until
from trainer.training.swarm import StaleOuterBase
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


def test_peers_credit_every_outer_step_once(diloco_run: DilocoRun) -> None:
    peers = (diloco_run.first, diloco_run.private, diloco_run.restarted)
    for peer in peers:
        epochs = [e["epoch"] for e in peer.events("epoch")]
        assert epochs, f"{peer.name} completed no epoch:\n{peer.tail()}"
        assert epochs == sorted(set(epochs)), f"{peer.name} credited an epoch twice: {epochs}"
        assert all(e["samples"] > 0 and e["tokens"] == e["samples"] * 64 for e in peer.events("epoch"))
    # How many rounds found a group is the load's doing (none, at times, in CI): only that no group
    # was larger than the two peers alive at once (0: unknown). Averaging: test_overlap_averaging.py.
    groups = [e["group_size"] for p in peers for e in p.events("epoch")]
    assert all(0 <= size <= 2 for size in groups), f"group sizes {groups}"


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


# --- overlapped DiLoCo: the staleness bookkeeping -------------------------------------------------


def outer_sgd(outer: torch.Tensor, pseudo_gradients: list[torch.Tensor], lr: float = 0.7) -> torch.Tensor:
    """A stand-in outer step: plain SGD on the swarm's mean pseudo-gradient."""
    return outer - lr * torch.stack(pseudo_gradients).mean(0)


def test_a_late_outer_update_keeps_the_inner_steps_taken_meanwhile() -> None:
    generator = torch.Generator().manual_seed(0)

    def progress() -> torch.Tensor:
        return torch.randn(5, generator=generator)

    outer0 = torch.randn(5, generator=generator)
    local = outer0.clone()
    base = StaleOuterBase([outer0])
    first_round, other_peer = progress(), progress()
    local += first_round
    sent = base.base[0] - local  # what `diloco_step` writes: all progress since the last pseudo-gradient
    assert torch.allclose(sent, -first_round)
    base.round_end_([local])

    meanwhile = progress()  # the next round's inner steps, while the outer step is in flight
    local += meanwhile
    outer1 = outer_sgd(outer0, [sent, -other_peer])
    base.land_([local], [outer1])
    assert torch.allclose(local, outer1 + meanwhile), "the outer update plus the steps taken meanwhile"
    assert torch.equal(base.base[0], outer1)

    more = progress()
    local += more
    assert torch.allclose(base.base[0] - local, -(meanwhile + more)), "the next pseudo-gradient: the whole round"

    # a parameter averaging round that moves the outer weights later lands the same way
    averaged = outer1 + 0.25
    base.land_([local], [averaged])
    assert torch.allclose(local, averaged + meanwhile + more)
    assert base.landings == 2


def test_an_update_that_lands_before_any_inner_step_is_synchronous_diloco() -> None:
    outer0, first_round = torch.zeros(4), torch.full((4,), -0.5)
    local = outer0 + first_round
    base = StaleOuterBase([outer0])
    sent = base.base[0] - local
    base.round_end_([local])
    outer1 = outer_sgd(outer0, [sent])
    base.land_([local], [outer1])
    assert torch.equal(local, outer1), "local weights = outer weights, as when DiLoCo resets them"


def test_an_outer_tensor_read_mid_write_is_corrected_by_the_next_landing() -> None:
    # parameter averaging writes into the outer weights in place while they may be read: whatever
    # was read moves local and base alike, and the next landing brings the rest
    outer, local = torch.ones(3), torch.ones(3) + 0.1
    base = StaleOuterBase([torch.ones(3)])
    base.round_end_([local])
    local += 0.01
    half_written = torch.tensor([2.0, 1.0, 1.0])
    base.land_([local], [half_written])
    outer.copy_(torch.tensor([2.0, 3.0, 4.0]))
    base.land_([local], [outer])
    assert torch.allclose(local, outer + 0.01) and torch.equal(base.base[0], outer)


def test_16_bit_local_weights_and_a_state_download() -> None:
    outer = torch.randn(8)
    local = outer.to(torch.bfloat16)
    base = StaleOuterBase([outer])
    assert base.base[0].dtype == torch.float32 and base.base[0] is not outer
    local += 1
    base.round_end_([local])
    base.land_([local], [outer + 2])
    assert torch.allclose(local.float(), outer + 2, atol=0.05)
    base.reset_([local], [outer])  # a download: the swarm's weights, no local progress
    assert torch.allclose(local.float(), outer, atol=0.05) and torch.equal(base.base[0], outer)
    # ModelGuard restores what it finds in an optimizer's param_groups: the base is one of them
    assert base.param_groups[0]["params"][0] is base.base[0] and base.state == {}


# --- overlapped DiLoCo: two real peers --------------------------------------------------------------

OVERLAP_EPOCHS = 6


@dataclass
class OverlapRun:
    peers: tuple[TrainerProcess, TrainerProcess]
    exits: tuple[int, int]


@pytest.fixture(scope="module")
def overlap_run(trainer_workdir: Path, corpus: Path, tokenizer_dir: Path) -> OverlapRun:
    workdir = trainer_workdir / "diloco-overlap"
    workdir.mkdir()
    identity = workdir / "a" / "identity.key"
    identity.parent.mkdir()
    P2P.generate_identity(str(identity))
    port = free_port()
    bootstrap = f"/ip4/127.0.0.1/tcp/{port}/p2p/{PeerID.from_identity(identity.read_bytes()).to_base58()}"
    peers = []
    for name in ("a", "b"):
        args = peer_args(
            run_id="diloco-overlap",
            corpus=corpus,
            tokenizer=tokenizer_dir,
            checkpoint_dir=workdir / name,
            averaging="diloco",
            max_epochs=OVERLAP_EPOCHS,
            target_batch_size=TARGET,
            initial_peers=[] if name == "a" else [bootstrap],
            # parameters averaged after every round (in the background too, merged like an outer
            # update): a round one peer averaged alone then costs agreement for one round only
            extra=["--delay-updates", "--average-state-every", "1"]
            + (["--host-maddrs", f"/ip4/127.0.0.1/tcp/{port}"] if name == "a" else []),
        )
        peers.append(TrainerProcess(workdir, name, args))
    try:
        for peer in peers:
            peer.start()
        exits = tuple(peer.wait(400) for peer in peers)
        return OverlapRun((peers[0], peers[1]), exits)  # type: ignore[arg-type]
    finally:
        for peer in peers:
            peer.cleanup()


def final_weights(peer: TrainerProcess) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    checkpoint_dir = peer.workdir / peer.name
    latest = json.loads((checkpoint_dir / "latest.json").read_text())
    (weights,) = (checkpoint_dir / latest["dir"] / "model").glob("*.safetensors")
    return load_file(str(weights))


def test_overlapped_peers_train_to_the_final_epoch(overlap_run: OverlapRun) -> None:
    # Whether their rounds found a group is the load's doing (in a CI run at load ~10 none did):
    # that an overlapped round averages both pseudo-gradients is test_overlap_averaging.py's.
    for peer, code in zip(overlap_run.peers, overlap_run.exits, strict=True):
        assert code == 0, f"{peer.name} failed:\n{peer.tail()}"
        assert not peer.errors(), f"{peer.name}: {peer.errors()[0]}"
        (start,) = peer.events("start")
        assert start["averaging"] == "diloco" and start["delay_updates"] is True
        (stop,) = peer.events("stop")
        assert stop["final_epoch"] == OVERLAP_EPOCHS
        assert not peer.events("guard"), "every merged update was finite"
        epochs = [e["epoch"] for e in peer.events("epoch")]
        assert epochs == sorted(set(epochs)), f"{peer.name} credited an epoch twice: {epochs}"
        # an outer update that lands mid-round is merged after the round's inner steps so far (one
        # still in flight at a round's end is waited for, without an event); how many land
        # mid-round is the schedule's, so there may be none
        merged = peer.events("outer_update")
        assert all(e["after_samples"] > 0 for e in merged), f"{peer.name} merged before any inner step: {merged}"
    # the first peer's first round starts from the seeded weights whenever the other starts
    losses = [e["mean_loss"] for e in overlap_run.peers[0].events("epoch")]
    assert losses[-1] < losses[0] - 1.0, f"loss {losses[0]:.3f} -> {losses[-1]:.3f}"


def test_overlapped_peers_checkpoint_the_final_epochs_weights(overlap_run: OverlapRun, tokenizer_dir: Path) -> None:
    # How close the two peers end depends on which of their rounds and parameter averagings met (the
    # load's doing). What holds on any schedule: each saved its final epoch (after waiting for its
    # last outer update) with finite weights that moved from the seeded initial ones.
    from trainer.training.config import TrainConfig
    from trainer.training.model import load_model
    from trainer.training.plan import plan_run

    config = TrainConfig(model="tiny", tokenizer=str(tokenizer_dir), device="cpu")
    plan = plan_run(config, need_data=False)
    model, _ = load_model(plan.spec, plan.kernel, plan.profile, "cpu")
    initial = {name: tensor.detach() for name, tensor in model.state_dict().items()}
    for peer in overlap_run.peers:
        latest = json.loads((peer.workdir / peer.name / "latest.json").read_text())
        assert latest["epoch"] == OVERLAP_EPOCHS, f"{peer.name}'s last checkpoint: {latest}"
        weights = final_weights(peer)
        names = sorted(set(weights) & set(initial))
        assert names, "the checkpoint holds the model's weights"
        assert all(torch.isfinite(weights[n]).all() for n in names), f"{peer.name}: non-finite weights"
        assert any(not torch.equal(weights[n].float(), initial[n].float()) for n in names), f"{peer.name} never moved"
