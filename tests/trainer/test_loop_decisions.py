"""The training loop's decisions over time, driven by a scripted swarm on a fake clock.

Which epochs a peer joins, what it is credited after falling behind, how a restarted peer
resumes and trains on alone: these come out of the loop's rules, so they are checked here in
milliseconds and the same way under any load (tests/trainer/fake_swarm.py), instead of as the
emergent timing of real processes (the real swarm tests assert only what holds on any schedule).
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tests.trainer.fake_swarm import Crashed, FakeCheckpoints, ScriptedPeer, World, make_peer
from trainer.errors import TrainerError
from trainer.training.train_loop import FAIL_AT_EPOCH_ENV, EpochReport, fail_at_epoch_from_env

TARGET = 16  # four micro-batches of four


def test_solo_peer_credits_each_epoch_checkpoints_and_stops_at_max_epochs(tmp_path: Path) -> None:
    world = World(target=TARGET)
    peer = make_peer(world, tmp_path / "m.jsonl", max_epochs=5, checkpoint_every=2)
    summary = peer.run()

    assert peer.epochs() == [0, 1, 2, 3, 4]
    for event in peer.events("epoch"):
        assert (event["samples"], event["tokens"], event["group_size"], event["num_peers"]) == (16, 1024, 1, 1)
        assert event["wall_time"] == pytest.approx(0.4)
    # every second epoch, and once more on the way out because 5 is not a multiple of 2
    assert [epoch for epoch, _ in peer.checkpoints.saved] == [2, 4, 5]
    assert [event["epoch"] for event in peer.events("checkpoint")] == [2, 4, 5]
    assert peer.checkpoints.latest[1]["samples"] == 80
    assert (summary.final_epoch, summary.epochs_completed, summary.samples, summary.state_downloads) == (5, 5, 80, 0)
    assert summary.resumed_from_epoch is None and summary.checkpoint == "epoch-000005"
    assert summary.last_loss < summary.first_loss
    # one signed record per epoch, each with the totals so far
    assert [(r.epoch, r.samples) for r in peer.swarm.records] == [(e, 16 * (e + 1)) for e in range(5)]
    assert not peer.events("state_download")


def test_peers_in_phase_average_together(tmp_path: Path) -> None:
    world = World(target=TARGET, others=[ScriptedPeer(rate=20.0), ScriptedPeer(rate=20.0)])
    peer = make_peer(world, tmp_path / "m.jsonl", max_epochs=6)
    peer.run()

    assert peer.epochs() == list(range(6)), "a peer that keeps up contributes to every epoch"
    for event in peer.events("epoch"):
        assert event["group_size"] == 3 and event["num_peers"] == 3
        assert 0 < event["samples"] < TARGET, "the others fed part of each epoch"
    assert not peer.events("state_download")


def test_late_joiner_downloads_state_and_is_credited_only_from_there(tmp_path: Path) -> None:
    world = World(target=TARGET, others=[ScriptedPeer(rate=20.0), ScriptedPeer(rate=20.0)], global_epoch=7)
    peer = make_peer(world, tmp_path / "m.jsonl", max_epochs=12)
    summary = peer.run()

    first = peer.events("state_download")[0]
    assert (first["from_epoch"], first["to_epoch"], first["discarded_samples"]) == (0, 7, 0)
    epochs = peer.epochs()
    assert epochs and min(epochs) >= 7, f"credited for epochs before it joined: {epochs}"
    assert epochs == sorted(set(epochs)), "an epoch is credited once"
    assert epochs[-1] == 11 and summary.final_epoch == 12
    assert summary.samples == sum(event["samples"] for event in peer.events("epoch"))


def test_peer_that_falls_behind_loses_that_epochs_samples_and_rejoins_in_phase(tmp_path: Path) -> None:
    # step 6 (in epoch 1) stalls for 5 s, as a peer starved of CPU would: the others end epoch 1
    # without it after their patience runs out
    world = World(target=TARGET, others=[ScriptedPeer(rate=10.0)], patience=1.0)
    peer = make_peer(world, tmp_path / "m.jsonl", max_epochs=8, slow_steps={6: 5.0})
    summary = peer.run()

    (download,) = peer.events("state_download")
    assert download["discarded_samples"] > 0 and download["to_epoch"] > download["from_epoch"]
    epochs = peer.epochs()
    assert download["from_epoch"] not in epochs, "work thrown away by a state download is not credited"
    assert epochs[-1] == 7 and max(epochs) > download["to_epoch"], "it contributes again after catching up"
    credited = sum(event["samples"] for event in peer.events("epoch"))
    assert summary.samples == credited < 4 * peer.learner.steps, "the discarded samples are not in the totals"


def test_late_peer_waits_for_the_swarms_next_epoch_and_starts_in_phase(tmp_path: Path) -> None:
    # it joins when the swarm already has this epoch's target: joining that all-reduce with one
    # micro-batch would miss the group, so it waits for the next epoch and downloads that state
    world = World(target=TARGET, others=[ScriptedPeer(rate=1000.0)], global_epoch=3, stuck=True)
    world.advance(0.5)
    world.stuck = False  # from now on the others end the epoch once their patience runs out
    peer = make_peer(world, tmp_path / "m.jsonl", max_epochs=6)
    peer.run()

    joined, next_epoch = peer.events("state_download")
    assert (joined["from_epoch"], joined["to_epoch"]) == (0, 3)
    assert (next_epoch["from_epoch"], next_epoch["to_epoch"], next_epoch["discarded_samples"]) == (3, 4, 0)
    assert peer.epochs() == [4, 5]
    assert all(event["group_size"] == 2 for event in peer.events("epoch"))


def test_waiting_for_the_swarms_next_epoch_is_bounded(tmp_path: Path) -> None:
    # the others are ready but never end an epoch (their averaging keeps failing): a peer that
    # arrives after the swarm is ready waits at most averaging_timeout + matchmaking_time, then trains
    world = World(target=TARGET, others=[ScriptedPeer(rate=1000.0)], global_epoch=3, stuck=True)
    world.advance(0.5)
    peer = make_peer(world, tmp_path / "m.jsonl", max_epochs=5)
    peer.run()

    (download,) = peer.events("state_download")
    first_epoch = peer.events("epoch")[0]
    waited = first_epoch["time"] - download["time"]
    assert 6.0 + 1.5 <= waited < 6.0 + 1.5 + 1.0, f"waited {waited:.1f}s"
    assert peer.epochs() == [3, 4]


def test_fp16_overflow_discards_the_epochs_samples_so_far(tmp_path: Path) -> None:
    world = World(target=TARGET)
    peer = make_peer(world, tmp_path / "m.jsonl", max_epochs=2, discard_at_steps=frozenset({3}))
    summary = peer.run()

    # epoch 0 took seven micro-batches: three thrown away, four that reached the target
    assert [event["samples"] for event in peer.events("epoch")] == [16, 16]
    assert peer.learner.steps == 11 and summary.samples == 32


def test_restarted_peer_resumes_from_its_checkpoint_and_trains_on_alone(tmp_path: Path) -> None:
    others = [ScriptedPeer(rate=5.0, leaves_at=12.0), ScriptedPeer(rate=5.0, leaves_at=12.0)]
    world = World(target=TARGET, others=others)
    checkpoints = FakeCheckpoints()
    first_life = make_peer(world, tmp_path / "first.jsonl", max_epochs=12, checkpoints=checkpoints, fail_at_epoch=3)
    with pytest.raises(Crashed):
        first_life.run()
    # the fault fires after the epoch's checkpoint was written
    assert first_life.epochs() == [0, 1, 2, 3] and checkpoints.latest[0] == 4
    assert [e["epoch"] for e in first_life.events("fault")] == [3]
    checkpoint_epoch, totals = checkpoints.latest

    world.advance(4.0)  # the others go on while it is down
    swarm_epoch_at_rejoin = world.global_epoch
    assert swarm_epoch_at_rejoin > checkpoint_epoch

    second_life = make_peer(world, tmp_path / "second.jsonl", max_epochs=40, checkpoints=checkpoints, resume=True)
    summary = second_life.run()

    assert summary.resumed_from_epoch == checkpoint_epoch == summary.start_epoch
    epochs = second_life.epochs()
    assert min(epochs) >= swarm_epoch_at_rejoin, "it rejoins at the swarm's epoch, not its stale checkpoint's"
    assert summary.final_epoch == 40 and epochs[-1] == 39
    # the totals carry over: nothing credited twice, nothing lost
    assert summary.samples == totals["samples"] + sum(e["samples"] for e in second_life.events("epoch"))
    # once the others left, it trains on alone: one peer, local updates
    alone = [e for e in second_life.events("epoch") if e["num_peers"] == 1]
    assert alone and all(e["group_size"] == 1 and e["samples"] == TARGET for e in alone)
    assert alone[-1]["epoch"] == 39 and len(alone) >= 5


def test_injected_fault_always_leaves_a_checkpoint_to_resume_from(tmp_path: Path) -> None:
    # epoch 2 completes at local epoch 3, where no periodic checkpoint is due (every 2)
    peer = make_peer(World(target=TARGET), tmp_path / "m.jsonl", max_epochs=8, fail_at_epoch=2)
    with pytest.raises(Crashed):
        peer.run()
    assert [epoch for epoch, _ in peer.checkpoints.saved] == [2, 3]
    assert peer.checkpoints.latest[1]["samples"] == 3 * TARGET, "the checkpoint holds every credited epoch"


def test_diloco_round_runs_at_least_half_a_fair_share_even_when_the_swarm_says_ready(tmp_path: Path) -> None:
    # a fast peer makes the swarm "ready" right after every epoch; half a fair share of 64 samples
    # between two peers is 16 samples, four micro-batches
    world = World(target=64, others=[ScriptedPeer(rate=1000.0)], patience=100.0)
    peer = make_peer(world, tmp_path / "m.jsonl", averaging="diloco", max_epochs=4)
    peer.run()

    assert peer.epochs() == [0, 1, 2, 3]
    assert all(event["samples"] == 16 for event in peer.events("epoch"))
    assert min(peer.swarm.prepared_at_samples) >= 16, "no matchmaking before half a share"
    # progress is reported after every inner step, counting up within a round
    assert peer.swarm.reported[:4] == [4, 8, 12, 16]
    assert peer.learner.inner_steps == peer.learner.steps, "an inner optimizer step after every micro-batch"


def test_diloco_peer_behind_at_a_round_start_downloads_state_first(tmp_path: Path) -> None:
    # right after this peer's epoch 1, the others finish another epoch without it: its next round
    # would otherwise train on weights one epoch old and end in a local-only update
    world = World(target=64, others=[ScriptedPeer(rate=1000.0)], patience=100.0)
    peer = make_peer(world, tmp_path / "m.jsonl", averaging="diloco", max_epochs=5)

    def others_finish_an_epoch(report: EpochReport) -> None:
        if report.epoch == 1:
            world.end_epoch()

    peer.run(on_epoch=others_finish_an_epoch)
    (download,) = peer.events("state_download")
    assert (download["from_epoch"], download["to_epoch"]) == (2, 3)
    assert peer.epochs() == [0, 1, 3, 4]
    assert all(event["group_size"] == 2 for event in peer.events("epoch"))


def test_diloco_peer_whose_download_reaches_max_epochs_trains_no_further(tmp_path: Path) -> None:
    # a download at a round's start can land on the last epoch: a real overlapped run (max_epochs 6)
    # went from epoch 4 to 6 that way, then trained a round of epoch 6 and stopped at 7
    world = World(target=64, others=[ScriptedPeer(rate=1000.0)], patience=100.0)
    checkpoints = FakeCheckpoints()
    peer = make_peer(world, tmp_path / "m.jsonl", averaging="diloco", max_epochs=4, checkpoints=checkpoints)

    def others_run_two_epochs_ahead(report: EpochReport) -> None:
        if report.epoch == 1:
            world.end_epoch()
            world.end_epoch()

    peer.run(on_epoch=others_run_two_epochs_ahead)
    (download,) = peer.events("state_download")
    assert (download["from_epoch"], download["to_epoch"]) == (2, 4)
    assert peer.epochs() == [0, 1]
    (stop,) = peer.events("stop")
    assert stop["final_epoch"] == 4
    # and it saves the epoch it stopped at, though no epoch's end (every 2nd is saved) reached it:
    # the same clean-clone run's peer left epoch 4 as its last checkpoint after going 4 -> 6
    assert checkpoints.latest[0] == 4 and stop["checkpoint"] == "epoch-000004"


def test_diloco_peer_alone_at_the_start_holds_its_round_and_credits_it_to_the_first_shared_epoch(
    tmp_path: Path,
) -> None:
    # the other peer starts half a second after this one, which reaches the target alone first (the
    # start-up race of issue 16): its round is held, not stepped alone, and rides the shared round
    world = World(target=TARGET, others=[ScriptedPeer(rate=20.0, joins_at=0.5)], patience=100.0)
    peer = make_peer(world, tmp_path / "m.jsonl", averaging="diloco", max_epochs=3, solo_grace=100.0)
    summary = peer.run()

    assert peer.swarm.rounds_held == 1
    first = peer.events("epoch")[0]
    assert first["epoch"] == 0 and first["group_size"] == 2, "the first update was shared, not a solo step"
    assert first["samples"] > TARGET, "the held round's samples are credited with the epoch they went into"
    assert peer.epochs() == [0, 1, 2] and not peer.events("state_download")
    assert summary.samples == 4 * peer.learner.steps, "no trained sample was dropped"


def test_diloco_peer_that_is_really_alone_steps_alone_after_the_grace(tmp_path: Path) -> None:
    # a one-node pool: rounds are held only until the peer has been alone for solo_grace seconds
    peer = make_peer(World(target=TARGET), tmp_path / "m.jsonl", averaging="diloco", max_epochs=4, solo_grace=0.5)
    summary = peer.run()

    assert peer.epochs() == [0, 1, 2, 3]
    assert all(event["group_size"] == 1 for event in peer.events("epoch"))
    assert peer.swarm.rounds_held >= 1 and peer.events("epoch")[0]["samples"] > TARGET
    assert all(event["samples"] == TARGET for event in peer.events("epoch")[1:]), "no hold once alone long enough"
    assert summary.samples == 4 * peer.learner.steps, "no trained sample was dropped"


def test_stop_event_ends_the_run_after_the_current_step_with_a_checkpoint(tmp_path: Path) -> None:
    world = World(target=TARGET)
    peer = make_peer(world, tmp_path / "m.jsonl", max_epochs=None, checkpoint_every=4)
    stop = threading.Event()

    def on_epoch(report: EpochReport) -> None:
        if report.epoch == 2:
            stop.set()

    summary = peer.run(on_epoch=on_epoch, stop_event=stop)
    assert summary.final_epoch == 3 and peer.epochs() == [0, 1, 2]
    assert peer.checkpoints.latest[0] == 3, "a final checkpoint where none was due"
    (stop_event,) = peer.events("stop")
    assert stop_event["final_epoch"] == 3


def test_an_exception_from_on_epoch_stops_training_and_propagates(tmp_path: Path) -> None:
    peer = make_peer(World(target=TARGET), tmp_path / "m.jsonl", max_epochs=5)

    def refuse(report: EpochReport) -> None:
        raise RuntimeError(f"chain refused epoch {report.epoch}")

    with pytest.raises(RuntimeError, match="chain refused epoch 0"):
        peer.run(on_epoch=refuse)
    assert peer.swarm.local_epoch == 1


def test_fault_injection_epoch_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(FAIL_AT_EPOCH_ENV, raising=False)
    assert fail_at_epoch_from_env() is None
    monkeypatch.setenv(FAIL_AT_EPOCH_ENV, "4")
    assert fail_at_epoch_from_env() == 4
    monkeypatch.setenv(FAIL_AT_EPOCH_ENV, "four")
    with pytest.raises(TrainerError, match="TRAINER_FAIL_AT_EPOCH='four' is not an epoch number"):
        fail_at_epoch_from_env()


class ScriptedGuard:
    """`ModelCheck` that counts its checks and finds the weights non-finite once, at the first check
    after ``fail_after_landings`` outer updates were merged."""

    def __init__(self, landings: list, fail_after_landings: int) -> None:
        self.landings, self.fail_after = landings, fail_after_landings
        self.checks = 0
        self.failed = False

    def check(self) -> bool:
        self.checks += 1
        if not self.failed and len(self.landings) == self.fail_after:
            self.failed = True
            return False
        return True


def test_overlapped_diloco_merges_each_landed_outer_update_and_checks_the_model_after_it(tmp_path: Path) -> None:
    world = World(target=64, others=[ScriptedPeer(rate=40.0)], patience=100.0)
    peer = make_peer(world, tmp_path / "m.jsonl", averaging="diloco", max_epochs=3, checkpoint_every=0)
    # outer updates finish in the background by the 3rd and 20th poll; one more is still in flight
    # when the run ends (a poll number never reached)
    peer.swarm.landing_at_polls = [3, 20, 10**9]
    # the second merged update leaves non-finite weights: the guard restores them
    guard = peer.loop.guard = ScriptedGuard(peer.swarm.landings, fail_after_landings=2)
    summary = peer.run()

    merged = [(due, at) for due, at, waited in peer.swarm.landings if not waited]
    assert merged == [(3, 3), (20, 20)], "merged at the first micro-batch boundary after landing"
    assert [waited for _, _, waited in peer.swarm.landings] == [False, False, True], "the last one is waited for"
    assert len(peer.events("outer_update")) == 2, "a merge mid-round is recorded"
    assert guard.checks == 1 + 3 + 3, "at the start, after each epoch's step, and after every merged update"
    (restore,) = peer.events("guard")
    assert restore["after"].startswith("the overlapped outer update of epoch ")
    assert peer.loop.guard_restores == 1
    # the last update is merged (and checked) before the final checkpoint
    assert summary.final_epoch == 3 and peer.checkpoints.latest[0] == 3


def test_overlapped_diloco_checkpoints_only_after_the_outer_update_in_flight_landed(tmp_path: Path) -> None:
    world = World(target=64, others=[ScriptedPeer(rate=40.0)], patience=100.0)
    peer = make_peer(world, tmp_path / "m.jsonl", averaging="diloco", max_epochs=4, checkpoint_every=2)
    peer.swarm.landing_at_polls = [10**9]  # in flight until someone waits for it
    saved_after: list[int] = []
    save = peer.checkpoints.save

    def save_and_note(epoch: int, totals: dict) -> str:
        saved_after.append(len(peer.swarm.landings))
        return save(epoch, totals)

    peer.checkpoints.save = save_and_note  # type: ignore[method-assign]
    peer.run()
    assert [epoch for epoch, _ in peer.checkpoints.saved] == [2, 4]
    assert saved_after[0] == 1 and peer.swarm.landings[0][2], "the first checkpoint waited for the landing"


@pytest.mark.parametrize("robust", [False, True])
def test_diloco_peer_whose_round_went_on_without_it_downloads_the_swarms_state_next(
    tmp_path: Path, robust: bool
) -> None:
    # the peer's 8th micro-batch (in its second round) stalls for 2 s: the other trainer ends that
    # epoch without it once its patience has run out, and the peer's round then steps by itself with
    # the other in view (a round that failed: the aux peer's group closed first)
    world = World(target=TARGET, others=[ScriptedPeer(rate=10.0)], patience=1.0)
    peer = make_peer(world, tmp_path / "m.jsonl", averaging="diloco", max_epochs=5, robust=robust, slow_steps={8: 2.0})
    summary = peer.run()

    history = peer.swarm.history
    (missed,) = [epoch for kind, epoch in history if kind == "local"]
    after = history[history.index(("local", missed)) + 1]
    if not robust:  # as without robust aggregation: parameter averaging pulls the weights back later
        assert after == ("shared", missed + 1) and missed in peer.epochs()
        assert not peer.events("state_download")
        return
    assert after == ("download", missed + 1), f"the step after the missed round: {history}"
    (download,) = peer.events("state_download")
    assert (download["from_epoch"], download["to_epoch"]) == (missed, missed + 1)
    assert download["discarded_samples"] > 0, "the missed round's samples are dropped with its weights"
    assert missed not in peer.epochs(), "a round that went on without the peer is not credited"
    assert peer.epochs() == [e for e in range(5) if e != missed] and summary.final_epoch == 5
    assert summary.samples == sum(event["samples"] for event in peer.events("epoch"))
    assert not peer.swarm.weights_apart


def test_diloco_peer_that_held_its_round_alone_downloads_nothing(tmp_path: Path) -> None:
    # as test_diloco_peer_alone_at_the_start_holds_its_round..., with robust aggregation: a held
    # round moved no weights, and a peer really alone is the swarm
    world = World(target=TARGET, others=[ScriptedPeer(rate=20.0, joins_at=0.5)], patience=100.0)
    peer = make_peer(world, tmp_path / "m.jsonl", averaging="diloco", max_epochs=3, solo_grace=100.0, robust=True)
    peer.run()
    assert peer.swarm.history[:2] == [("held", 0), ("shared", 0)]
    assert not peer.events("state_download") and peer.epochs() == [0, 1, 2]

    alone = make_peer(
        World(target=TARGET), tmp_path / "alone.jsonl", averaging="diloco", max_epochs=3, solo_grace=0.5, robust=True
    )
    alone.run()
    assert ("local", 0) in alone.swarm.history and not alone.events("state_download")


@pytest.mark.parametrize("averaging", ["gradient", "diloco"])
def test_a_withheld_contribution_is_not_credited(tmp_path: Path, averaging: str) -> None:
    """A round this peer's own check withheld (sent with weight 0: `RobustAveragerMixin`) ends the
    epoch like any other, but the model took none of this peer's work: no epoch record, no signed
    record or claim for it, its samples counted as discarded; the next epoch is credited as usual."""
    world = World(target=TARGET, others=[ScriptedPeer(rate=20.0)])
    peer = make_peer(world, tmp_path / "m.jsonl", averaging=averaging, max_epochs=4, withhold_epochs=frozenset({1}))
    summary = peer.run()

    assert peer.swarm.withheld_rounds == 1 and summary.final_epoch == 4
    assert peer.epochs() == [0, 2, 3], "the withheld epoch is not credited"
    (withheld,) = peer.events("withheld_round")
    assert withheld["epoch"] == 1 and withheld["discarded_samples"] > 0
    numbers = [n for n, _ in withheld["recent_losses"]]
    assert numbers and numbers == list(range(numbers[0], numbers[-1] + 1)), "the micro-batches behind it, in order"
    assert 1 not in [record.epoch for record in peer.swarm.records], "nor signed for a claim"
    assert summary.samples == sum(event["samples"] for event in peer.events("epoch"))
    assert not peer.events("state_download"), "its weights took the round's result: no download"
