"""DiLoCo peers keep the swarm's outer weights (issue 16): real hivemind optimizers on loopback.

A pseudo-gradient is a step from its sender's outer weights, so a peer that applied an outer step
by itself (its round found no group) kept outer weights apart from the swarm's for good. Here a
real optimizer alone holds its round (nothing of the swarm's state moves, nothing of its work is
lost) until it has been alone for a whole round's time; and a round hivemind leaves running past
the step that gave up on it cannot overwrite the next pseudo-gradient. How the loop builds on the
hold (credit, catching up) is tested with the scripted swarm in test_loop_decisions.py.
"""

from __future__ import annotations

from pathlib import Path

import torch
from hivemind.utils import get_dht_time

from tests.trainer.helpers import LocalSwarm, wait_until
from trainer.training.swarm import keeping_sigint

SIZE = 16
SAMPLES = 8  # one round's samples: the run's target, so a peer alone is ready by itself


def initial_weights() -> torch.nn.Parameter:
    return torch.nn.Parameter(torch.randn(SIZE, generator=torch.Generator().manual_seed(0)))


def train_locally(param: torch.nn.Parameter, seed: int) -> None:
    """Stand-in for a round of inner steps: move the local weights."""
    with torch.no_grad():
        param.add_(0.1 * torch.randn(SIZE, generator=torch.Generator().manual_seed(seed)))


def ready_round(opt, samples: int) -> None:
    """Report the round's samples and wait until the tracker sees the epoch's target reached."""
    opt.tracker.report_local_progress(opt.local_epoch, samples)
    wait_until(lambda: opt.tracker.ready_to_update_epoch, 30, "the tracker to see the target reached")


def diloco_swarm(tmp_path: Path) -> LocalSwarm:
    return LocalSwarm(
        tmp_path, averaging="diloco", target_batch_size=SAMPLES, compression="none", averaging_timeout=8.0
    )


def test_a_peer_alone_holds_its_outer_step_until_it_has_been_alone_for_a_whole_round(tmp_path: Path) -> None:
    """A round that finds no group leaves the outer weights, momentum and epoch as they were and the
    local weights with all their inner steps; once alone for ``solo_grace`` the peer steps alone,
    with every held round's work in one pseudo-gradient."""
    with diloco_swarm(tmp_path) as swarm:
        param = initial_weights()
        opt = swarm.peer("first", [param]).optimizer
        assert opt.solo_grace == opt.matchmaking_time + opt.averaging_timeout

        train_locally(param, seed=1)
        after_inner_steps = param.detach().clone()
        ready_round(opt, SAMPLES)
        opt.diloco_step([param], SAMPLES)
        assert opt.local_epoch == 0 and opt.rounds_held == 1 and opt.held_samples == SAMPLES
        assert torch.equal(param.detach(), after_inner_steps), "the held round's inner steps were lost"
        assert torch.equal(opt._outer_parameters()[0], initial_weights().detach()), "an outer step was applied alone"

        # really alone: the peer's view has shown nobody else for longer than the grace
        opt.solo_grace = 0.0
        train_locally(param, seed=2)
        work = initial_weights().detach() - param.detach()  # both rounds' progress from the outer weights
        ready_round(opt, SAMPLES)
        opt.diloco_step([param], SAMPLES)
        assert opt.local_epoch == 1 and opt.held_samples == 0 and opt.rounds_held == 1
        # one outer SGD step (Nesterov, from zero momentum) with the whole pseudo-gradient
        lr, momentum = opt.opt.param_groups[0]["lr"], opt.opt.param_groups[0]["momentum"]
        expected = initial_weights().detach() - lr * (1 + momentum) * work
        torch.testing.assert_close(opt._outer_parameters()[0], expected)
        assert torch.equal(param.detach(), opt._outer_parameters()[0]), "the local weights start from the outer ones"


def test_a_round_left_running_by_a_skipped_step_cannot_overwrite_the_next_pseudo_gradient(tmp_path: Path) -> None:
    """hivemind drops a pre-scheduled round whose trigger already fired ("already used elsewhere")
    without stopping it (the averager's process also reads a cancelled trigger as fired): the round
    runs on and writes its result into the host buffers. The step that dropped it must not return
    before that round has ended, so the next round's pseudo-gradient stays what was written."""
    with diloco_swarm(tmp_path) as swarm:
        param = initial_weights()
        node = swarm.peer("trainer", [param])
        opt = node.optimizer
        # another peer's averager of the same run, with no progress records: the trainer's tracker
        # sees nobody, so its step takes hivemind's "alone" path while this round goes on
        other_node = swarm.node("other")
        averager_class = type(opt.grad_averager)
        other_param = torch.nn.Parameter(torch.zeros(SIZE))
        with keeping_sigint():
            other = averager_class(
                [other_param],
                dht=other_node.dht,
                prefix=opt.grad_averager.prefix,
                min_matchmaking_time=opt.grad_averager.matchmaking_kwargs["min_matchmaking_time"],
                request_timeout=opt.grad_averager.matchmaking_kwargs["request_timeout"],
                start=True,
            )
        try:
            with other.get_tensors() as buffers:
                buffers[0].fill_(100.0)
            other.local_samples_accumulated = 4
            train_locally(param, seed=1)
            ready_round(opt, SAMPLES)
            # the round's all-reduce is due a few seconds after the step below begins: without the
            # fix the step returns long before it, and the round writes after the next write
            due = get_dht_time() + 4.0
            pre_scheduled = opt.grad_averager.schedule_step(scheduled_time=due, timeout=30)
            pre_scheduled.weight = 4.0
            pre_scheduled.allow_allreduce()
            opt.scheduled_grads = pre_scheduled
            other_round = other.step(scheduled_time=due, wait=False, timeout=30)
            opt.diloco_step([param], SAMPLES)

            # the next round's pseudo-gradient, written after the step returned
            train_locally(param, seed=2)
            opt.grad_averager.write_pseudo_gradients([param], opt._outer_parameters())
            expected = (opt._outer_parameters()[0] - param.detach()).clone()
            # both ends of the dropped round have ended, however it ended (its result is set after
            # its last write into the buffers)
            wait_until(lambda: pre_scheduled.done() and other_round.done(), 60, "the dropped round to end")
            with opt.grad_averager.get_tensors() as buffers:
                torch.testing.assert_close(buffers[0], expected, rtol=0, atol=0)
        finally:
            other.shutdown()
