"""Overlapped DiLoCo (``delay_updates``) averages pseudo-gradients while the next round computes
(issue 12): two real hivemind optimizers on loopback, in this process, one round driven by events.

Each peer moves its local weights (a stand-in for a round's inner steps, seeded differently, so
the two pseudo-gradients differ), reports the round's samples, and once both trackers see the
target reached both step at once. The step returns while the all-reduce and the outer step run in
the background (the local weights untouched); each peer then takes more inner steps and waits for
its outer update to land (`SwarmOptimizer.apply_landed_update`, polled as the loop polls it, for
a time scaled by the load). Both peers' outer weights are then the outer Nesterov step of the MEAN pseudo-gradient
(equal across peers up to float rounding, no compression), and each peer's local weights are those
outer weights plus the inner steps it took while the round was in flight (`StaleOuterBase`).
The same round in synchronous DiLoCo gives the same outer weights, and the local weights start the
next round from them. Measured on 2 cores at load 7-14: each test takes 8-28 s, and the
overlapped one fails (local weights off by up to 0.26) when a landing overwrites the local weights
as hivemind's own does.

Whether two `trainer train` processes meet in a round is the machine's schedule: the two-process
runs in test_swarm_diloco.py assert only what holds on any schedule and point here.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from tests.trainer.helpers import DilocoPeer as Peer
from tests.trainer.helpers import LocalSwarm, in_threads, patience, wait_until

if TYPE_CHECKING:
    from trainer.training.swarm import SwarmOptimizer

SIZE = 16
SAMPLES = 8  # each peer's samples per round: half the target, so a round needs both peers


def initial_weights() -> torch.nn.Parameter:
    """Every peer builds the same initial weights from the run's seed."""
    return torch.nn.Parameter(torch.randn(SIZE, generator=torch.Generator().manual_seed(0)))


def inner_steps(param: torch.nn.Parameter, seed: int) -> torch.Tensor:
    """Stand-in for inner steps: move the local weights; returns the move."""
    move = 0.1 * torch.randn(SIZE, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        param.add_(move)
    return move


def step_together(peers: list[Peer]) -> None:
    """The round's end for every peer at once (each in its own thread): wait until both are in view
    and the tracker sees the target reached, then `diloco_step`."""
    all_ready = threading.Barrier(len(peers))

    def one(peer: Peer) -> None:
        tracker = peer.opt.tracker
        wait_until(lambda: tracker.global_progress.num_peers >= len(peers), 60, "the other peer in view")
        wait_until(lambda: tracker.ready_to_update_epoch, 60, "the tracker to see the target reached")
        all_ready.wait(patience(120))
        peer.opt.diloco_step([peer.param], SAMPLES)

    in_threads(one, [(peer,) for peer in peers])


def diloco_swarm(tmp_path: Path, **overrides: object) -> LocalSwarm:
    return LocalSwarm(
        tmp_path,
        run_id="overlap",
        averaging="diloco",
        target_batch_size=2 * SAMPLES,
        compression="none",
        matchmaking_time=2.0,
        averaging_timeout=15.0,  # a round waits this long for its other sender on a loaded machine
        **overrides,
    )


def start_peers(swarm: LocalSwarm) -> list[Peer]:
    peers = []
    for name in ("a", "b"):
        param = initial_weights()
        peers.append(Peer(swarm.peer(name, [param]), param))
    return peers


def first_round(peers: list[Peer]) -> list[torch.Tensor]:
    """Each peer's inner steps (seeded differently) and its samples reported; returns the
    pseudo-gradients (outer minus local weights)."""
    pseudo_gradients = []
    for seed, peer in enumerate(peers, start=1):
        inner_steps(peer.param, seed)
        pseudo_gradients.append(initial_weights().detach() - peer.param.detach())
        peer.opt.tracker.report_local_progress(peer.opt.local_epoch, SAMPLES)
    assert (pseudo_gradients[0] - pseudo_gradients[1]).abs().max() > 1e-2, "the peers' work differs"
    return pseudo_gradients


def mean_outer_step(opt: SwarmOptimizer, pseudo_gradients: list[torch.Tensor]) -> torch.Tensor:
    """The outer weights after one outer SGD step (Nesterov, from zero momentum) with the mean of
    the pseudo-gradients: what a round both peers averaged gives each of them."""
    group = opt.opt.param_groups[0]
    mean = torch.stack(pseudo_gradients).mean(0)
    return initial_weights().detach() - group["lr"] * (1 + group["momentum"]) * mean


def test_an_overlapped_round_averages_both_pseudo_gradients_and_keeps_the_steps_taken_meanwhile(
    tmp_path: Path,
) -> None:
    with diloco_swarm(tmp_path, delay_updates=True) as swarm:
        peers = start_peers(swarm)
        assert all(peer.opt.outer_base is not None for peer in peers), "overlapped DiLoCo"
        pseudo_gradients = first_round(peers)
        sent = [peer.param.detach().clone() for peer in peers]

        step_together(peers)
        meanwhile = []
        for seed, (peer, local) in enumerate(zip(peers, sent, strict=True), start=10):
            assert peer.opt.local_epoch == 1
            assert torch.equal(peer.param.detach(), local), "the step returned with the local weights as they were"
            # the next round's inner steps, before the update lands (it lands only in the caller's thread)
            meanwhile.append(inner_steps(peer.param, seed))

        # each peer's background outer update lands: polled as the loop does after every inner step
        # (not `wait=True`, whose bound is hivemind's averaging timeout, unscaled by the load)
        for peer in peers:
            wait_until(peer.opt.apply_landed_update, 60, f"{peer.node.config.checkpoint_dir.name}'s outer update")

        expected = mean_outer_step(peers[0].opt, pseudo_gradients)
        for peer, moved in zip(peers, meanwhile, strict=True):
            torch.testing.assert_close(peer.outer(), expected, rtol=0, atol=1e-5)
            # the inner steps taken while the round was in flight are kept on top of it
            torch.testing.assert_close(peer.param.detach(), expected + moved, rtol=0, atol=1e-5)
            assert torch.equal(peer.opt.outer_base.base[0], peer.outer()), "the next round is measured from them"


def test_a_synchronous_round_averages_both_pseudo_gradients(tmp_path: Path) -> None:
    with diloco_swarm(tmp_path) as swarm:
        peers = start_peers(swarm)
        assert all(peer.opt.outer_base is None for peer in peers), "synchronous DiLoCo"
        pseudo_gradients = first_round(peers)
        step_together(peers)
        expected = mean_outer_step(peers[0].opt, pseudo_gradients)
        for peer in peers:
            assert peer.opt.local_epoch == 1 and peer.opt.rounds_held == 0
            torch.testing.assert_close(peer.outer(), expected, rtol=0, atol=1e-5)
            assert torch.equal(peer.param.detach(), peer.outer()), "the next round starts from the outer weights"
