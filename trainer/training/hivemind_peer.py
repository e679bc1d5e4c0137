"""The real parts a training peer is built from: hivemind's swarm, the torch model, checkpoints.

`trainer.training.train_loop.TrainingLoop` decides what to do and when; it talks to these parts through
the `Swarm`, `Learner` and `Checkpoints` interfaces it declares, so tests drive the same loop with
a scripted fake swarm in milliseconds. Everything here that knows about hivemind or torch:

- `HivemindSwarm`: epochs, steps, state downloads and progress records over `SwarmOptimizer`.
  In DiLoCo mode its `step` is the outer step (`SwarmOptimizer.diloco_step`).
- `TorchLearner`: one micro-batch forward/backward, and DiLoCo's inner optimizer step.
- `CheckpointWriter`: the peer's checkpoint (weights, optimizer states, totals, data cursor).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import torch

from trainer.training.progress import PeerProgress, publish_progress
from trainer.training.train_loop import MicroBatch

if TYPE_CHECKING:
    import hivemind

    from trainer.training.config import TrainConfig
    from trainer.training.data import BatchStream
    from trainer.training.plan import RunPlan
    from trainer.training.swarm import SwarmEvents, SwarmOptimizer


class HivemindSwarm:
    """The `trainer.training.train_loop.Swarm` of a real peer: a `SwarmOptimizer` and its DHT.

    :param trainable: the parameters the optimizer was built over (DiLoCo's local weights).
    :param grad_scaler: gradient mode's hivemind scaler, or None (DiLoCo scales its inner steps).
    :param reuse_grad_buffers: hivemind owns the gradient buffers, so they are never zeroed here.
    """

    def __init__(
        self,
        opt: SwarmOptimizer,
        dht: hivemind.DHT,
        events: SwarmEvents,
        config: TrainConfig,
        *,
        trainable: list[torch.nn.Parameter],
        grad_scaler: Any = None,
        reuse_grad_buffers: bool = False,
    ) -> None:
        self.opt, self.dht, self.events, self.config = opt, dht, events, config
        self.diloco = config.averaging == "diloco"
        self.trainable = trainable
        self.grad_scaler = grad_scaler
        self.reuse_grad_buffers = reuse_grad_buffers

    @property
    def local_epoch(self) -> int:
        return self.opt.local_epoch

    @property
    def global_epoch(self) -> int:
        return self.opt.tracker.global_epoch

    @property
    def num_peers(self) -> int:
        return self.opt.tracker.global_progress.num_peers

    @property
    def swarm_samples(self) -> int:
        return self.opt.tracker.global_progress.samples_accumulated

    @property
    def ready_to_update(self) -> bool:
        return self.opt.tracker.ready_to_update_epoch

    @property
    def local_samples(self) -> int:
        return self.opt.local_progress.samples_accumulated

    @property
    def state_downloads(self) -> int:
        return self.opt.state_downloads

    @property
    def last_group_size(self) -> int:
        return self.events.last_group_size

    @property
    def weights_apart(self) -> bool:
        return self.opt.weights_apart

    @property
    def withheld_rounds(self) -> int:
        return self.opt.withheld_rounds

    def wait_for_view(self, timeout: float) -> None:
        from trainer.training.swarm import wait_for_swarm_view

        wait_for_swarm_view(self.opt, timeout)

    def load_state(self) -> bool:
        return self.opt.load_state_from_peers()

    def report_progress(self, samples: int) -> None:
        self.opt.tracker.report_local_progress(self.opt.local_epoch, samples)

    def prepare_averaging(self) -> None:
        self.opt.prepare_averaging()

    def apply_landed_update(self, wait: bool = False) -> bool:
        return self.opt.apply_landed_update(wait)

    def publish_progress(self, record: PeerProgress) -> None:
        publish_progress(self.dht, self.config.run_id, record, self.config.progress_expiration)

    def step(self, samples: int) -> None:
        if self.diloco:
            # the pseudo-gradient goes straight into hivemind's host buffers (trainer.training.swarm)
            self.opt.diloco_step(self.trainable, samples)
            return
        self.opt.step(batch_size=samples, grad_scaler=self.grad_scaler)
        if self.grad_scaler is not None:
            self.grad_scaler.update()
        if not self.reuse_grad_buffers:
            self.opt.zero_grad(set_to_none=True)


class TorchLearner:
    """The `trainer.training.train_loop.Learner` of a real peer: the model, its data and local optimizer."""

    def __init__(
        self,
        model: torch.nn.Module,
        plan: RunPlan,
        batches: BatchStream,
        scaler: Any = None,
        inner: torch.optim.Optimizer | None = None,
        inner_schedule: Any = None,
    ) -> None:
        self.model, self.plan, self.batches = model, plan, batches
        self.scaler, self.inner, self.inner_schedule = scaler, inner, inner_schedule

    def forward_backward(self) -> MicroBatch:
        from trainer.training.hardware import autocast_context, sdpa_context

        plan = self.plan
        batch = next(self.batches)
        began = time.perf_counter()
        input_ids = batch.input_ids.to(plan.device, non_blocking=True)
        with autocast_context(plan.device, plan.kernel), sdpa_context(plan.kernel):
            loss = self.model(input_ids=input_ids, labels=input_ids).loss
        (self.scaler.scale(loss) if self.scaler is not None else loss).backward()
        loss_value = float(loss.detach().float().item())
        return MicroBatch(batch.samples, batch.tokens, loss_value, time.perf_counter() - began)

    def inner_step(self) -> float:
        assert self.inner is not None, "inner steps are DiLoCo's"
        began = time.perf_counter()
        if self.scaler is not None:
            self.scaler.unscale_(self.inner)
            self.scaler.step(self.inner)
            self.scaler.update()
        else:
            self.inner.step()
        self.inner.zero_grad(set_to_none=True)
        self.inner_schedule.step()
        return time.perf_counter() - began


class CheckpointWriter:
    """The `trainer.training.train_loop.Checkpoints` of a real peer: everything needed to resume."""

    def __init__(
        self,
        config: TrainConfig,
        plan: RunPlan,
        model: torch.nn.Module,
        opt: SwarmOptimizer,
        learner: TorchLearner,
        *,
        peer_id: str,
        run_settings: dict[str, Any],
    ) -> None:
        self.config, self.plan, self.model, self.opt, self.learner = config, plan, model, opt, learner
        self.peer_id, self.run_settings = peer_id, run_settings

    def save(self, epoch: int, totals: dict[str, Any]) -> str:
        from trainer.training.checkpoint import save_checkpoint

        learner = self.learner
        optimizer_state: dict[str, Any] = {"hivemind": self.opt.state_dict()}
        if learner.inner is not None:
            optimizer_state["inner"] = learner.inner.state_dict()
            optimizer_state["inner_schedule"] = learner.inner_schedule.state_dict()
        path = save_checkpoint(
            self.config.checkpoint_dir,
            epoch=epoch,
            model=self.model,
            lora=self.plan.profile.profile == "lora",
            tokenizer=self.plan.tokenizer,
            optimizer_state=optimizer_state,
            state={
                "run_id": self.config.run_id,
                "peer_id": self.peer_id,
                "model": self.config.model,
                "model_source": self.plan.spec.source,
                "run_settings": self.run_settings,
                "totals": totals,
                "data_position": learner.batches.position,
            },
            keep=self.config.keep_checkpoints,
        )
        return str(path)
