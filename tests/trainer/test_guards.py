"""Guards every peer keeps: a finite model after every update, and a swarm epoch that needs a quorum."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import torch

from tests.trainer.fake_swarm import ScriptedPeer, World, make_peer
from trainer.training.guards import ModelGuard, filter_progress, in_view, quorum_epoch

TARGET = 16


class ScriptedGuard:
    """The loop's `ModelCheck`: reports non-finite weights after the given checks (1-based)."""

    def __init__(self, bad_checks: set[int]) -> None:
        self.bad_checks, self.checks = bad_checks, 0

    def check(self) -> bool:
        self.checks += 1
        return self.checks not in self.bad_checks


def test_the_loop_checks_the_model_after_every_update_and_reports_each_restore(tmp_path: Path) -> None:
    world = World(target=TARGET)
    guard = ScriptedGuard(bad_checks={3})
    peer = make_peer(world, tmp_path / "m.jsonl", max_epochs=4, guard=guard)
    summary = peer.run()

    assert guard.checks == 1 + 4, "once at the start, once after each epoch's update"
    (event,) = peer.events("guard")
    assert event["after"] == "update of epoch 1" and event["epoch"] == 2
    assert summary.final_epoch == 4, "a restored peer trains on"


def test_the_loop_checks_the_model_after_a_state_download(tmp_path: Path) -> None:
    world = World(target=TARGET, others=[ScriptedPeer(rate=20.0)], global_epoch=5)
    guard = ScriptedGuard(bad_checks={2})
    peer = make_peer(world, tmp_path / "m.jsonl", max_epochs=7, guard=guard)
    peer.run()

    assert peer.events("guard")[0]["after"] == "state download"
    assert peer.events("state_download")


def test_model_guard_restores_the_last_good_weights_and_clears_non_finite_optimizer_state() -> None:
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 2)
    params = list(model.parameters())
    opt = torch.optim.AdamW(params, lr=0.1)
    guard = ModelGuard(params, lambda: [opt])
    model(torch.randn(3, 4)).sum().backward()
    opt.step()
    assert guard.check()
    good = [param.detach().clone() for param in params]

    for param in params:
        param.grad = torch.full_like(param, float("nan"))
    opt.step()
    assert not torch.isfinite(params[0]).all()
    assert not guard.check()
    assert all(torch.equal(param, saved) for param, saved in zip(params, good, strict=True))
    assert all(torch.isfinite(value).all() for state in opt.state.values() for value in state.values())
    assert guard.restores == 1

    opt.zero_grad()
    model(torch.randn(3, 4)).sum().backward()
    opt.step()
    assert guard.check() and torch.isfinite(params[0]).all(), "training goes on from the restored weights"


def test_model_guard_restores_an_offloaded_optimizers_own_copy_of_the_weights() -> None:
    params = [torch.nn.Parameter(torch.ones(3))]
    master = [torch.nn.Parameter(torch.ones(3))]  # what hivemind's offloaded optimizer steps
    opt = torch.optim.SGD(master, lr=1.0)
    guard = ModelGuard(params, [opt])
    assert guard.check()
    with torch.no_grad():
        master[0].fill_(float("nan"))
        params[0].copy_(master[0])
    assert not guard.check()
    assert torch.equal(master[0].detach(), torch.ones(3)) and torch.equal(params[0].detach(), torch.ones(3))


def test_quorum_epoch_ignores_one_inflated_report_but_follows_a_quorum() -> None:
    assert quorum_epoch([5, 5, 5, 1005], quorum=2) == 5
    assert quorum_epoch([4, 5, 5, 1005], quorum=2) == 5, "a straggler still sees the honest epoch"
    assert quorum_epoch([5, 1005], quorum=2) == 1005, "two peers cannot outvote each other"
    assert quorum_epoch([5, 6, 6], quorum=2) == 6
    assert quorum_epoch([], quorum=2) is None
    assert quorum_epoch([0, 1000], quorum=2, strict=True) == 0, "strict: a lone report ahead moves nobody"
    assert quorum_epoch([4, 5, 5], quorum=2, strict=True) == 5


def test_this_peers_own_epoch_is_a_vote_even_before_its_record_is_published() -> None:
    def entry(epoch):
        return SimpleNamespace(value={"epoch": epoch})

    only_the_liar = {b"liar": entry(1000)}
    assert filter_progress(only_the_liar, quorum=2, own=(b"me", 0), strict=True) == ({}, 0)
    # its own record, once published, is not a second vote
    metadata = {b"me": entry(7), b"other": entry(8)}
    assert filter_progress(metadata, quorum=2, own=(b"me", 7), strict=True)[1] == 7
    assert filter_progress(metadata, quorum=2, own=(b"me", 7))[1] == 8, "lenient: two peers follow the leader"


def test_filter_progress_drops_records_above_the_quorum_epoch() -> None:
    def entry(epoch):
        return SimpleNamespace(value={"epoch": epoch, "samples_accumulated": 8})

    metadata = {b"a": entry(3), b"b": entry(3), b"c": entry(2), b"liar": entry(1003)}
    metadata[b"odd"] = SimpleNamespace(value=None)
    kept, bound = filter_progress(metadata, quorum=2)
    assert bound == 3
    assert set(kept) == {b"a", b"b", b"c", b"odd"}


def test_a_partner_one_epoch_ahead_is_in_view_but_does_not_move_the_epoch() -> None:
    def entry(epoch):
        return SimpleNamespace(value={"epoch": epoch, "samples_accumulated": 8})

    # a robust pool of two: the peer left behind at 4, its partner already at 5
    pair = {b"me": entry(4), b"partner": entry(5)}
    kept, bound = filter_progress(pair, quorum=2, own=(b"me", 4), strict=True)
    assert bound == 4 and set(kept) == {b"me"}, "the record ahead is still ignored (its samples too)"
    assert in_view(pair) == 2, "but the partner is seen: the peer is not alone"
    # an inflated report: counted as a trainer there, never as the swarm's epoch
    liar = {b"me": entry(4), b"partner": entry(4), b"liar": entry(1004)}
    kept, bound = filter_progress(liar, quorum=2, own=(b"me", 4), strict=True)
    assert bound == 4 and b"liar" not in kept
    assert in_view(liar) == 3
    assert in_view({b"me": entry(4), b"odd": SimpleNamespace(value=None)}) == 1, "a record without a value is not"


def test_robust_aggregation_turns_parameter_averaging_off() -> None:
    from trainer.training.config import NEVER, TrainConfig

    assert TrainConfig(averaging="gradient").state_averaging_period == 1
    assert TrainConfig(averaging="gradient", robust_aggregation=True).state_averaging_period == NEVER
    assert TrainConfig(average_state_every=3, robust_aggregation=True).state_averaging_period == NEVER
