"""What a gradient-mode peer steps with when its averaging round failed after the step triggered it."""

from __future__ import annotations

from pathlib import Path

import torch

from tests.trainer.helpers import LocalSwarm


def test_a_peer_whose_triggered_round_failed_steps_with_what_it_sent_not_with_zeros(tmp_path: Path) -> None:
    """hivemind's GradientAverager.step loads the accumulated gradients into the buffers it sends and
    resets the accumulators, then triggers the round; when the round fails, hivemind's fallback
    ("Proceeding with local gradients") reloaded the emptied accumulators: a zero gradient, so the
    peer stepped on momentum alone and its weights left the swarm's (clean-clone test_attacks runs:
    honest peers stuck at a higher loss, their later gradients dropped by the reducer's norm screen)."""
    with LocalSwarm(tmp_path, run_id="fallback") as swarm:
        param = torch.nn.Parameter(torch.zeros(4))
        opt = swarm.peer("trainer", [param]).optimizer
        averager = opt.grad_averager
        sent = torch.tensor([1.0, -2.0, 3.0, -4.0])
        for half in (0.5, 1.5):  # two micro-batches: the buffers hold their mean
            param.grad = sent * half
            averager.accumulate_grads_(batch_size=4)
        param.grad = None  # the trainer's zero_grad(set_to_none=True) after every micro-batch
        # what GradientAverager.step does before it allows the round
        averager.load_accumulators_into_averager_()
        averager.reset_accumulated_grads_()

        opt._load_local_gradients_into_optimizer()  # hivemind's fallback: the round failed

        (stepped,) = [p for group in opt.opt.param_groups for p in group["params"]]
        assert stepped.grad is not None and torch.equal(stepped.grad, sent)
