"""A real peer: `TrainingSession` builds the hivemind and torch parts (`trainer.training.hivemind_peer`)
and runs `trainer.training.train_loop.TrainingLoop` over them; `run_training` is the stable Python API.

It lives apart from the loop so the dependencies run one way: the loop defines the interfaces,
`hivemind_peer` implements them, and this module wires the two together.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from trainer.errors import CheckpointError, TrainerError
from trainer.training.config import TrainConfig
from trainer.training.plan import RunPlan, plan_run
from trainer.training.reporting import MetricsFile
from trainer.training.train_loop import (
    EpochReport,
    TrainingLoop,
    TrainingSummary,
    fail_at_epoch_from_env,
)

log = logging.getLogger("trainer")


class TrainingSession:
    """One peer's training run over hivemind and torch; `run_training` is the convenient way to use it."""

    def __init__(self, config: TrainConfig, plan: RunPlan | None = None) -> None:
        self.config = config
        self.plan = plan or plan_run(config)
        self.fail_at_epoch = fail_at_epoch_from_env()
        self.dht: Any = None
        self.opt: Any = None

    def start(self) -> None:
        import torch

        from trainer.training.checkpoint import BASE_DIR, find_checkpoint, restore_weights
        from trainer.training.dht_watch import DHTWatch
        from trainer.training.identity import load_or_create_identity
        from trainer.training.model import load_model
        from trainer.training.swarm import build_dht, capture_hivemind_logs

        config, plan = self.config, self.plan
        if config.num_threads:
            torch.set_num_threads(config.num_threads)
        config.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        self.metrics = MetricsFile(config.metrics_file)
        self.events = capture_hivemind_logs(str(config.checkpoint_dir / "hivemind.log"))
        self.identity = load_or_create_identity(config.identity_file)
        self.peer_id = self.identity.peer_id
        for line in plan.describe():
            log.info(line)

        self.checkpoint = find_checkpoint(config.checkpoint_dir) if config.resume else None
        if self.checkpoint is not None:
            self._check_checkpoint_matches(self.checkpoint.state)

        self.model, self.trainable = load_model(
            plan.spec,
            plan.kernel,
            plan.profile,
            plan.device,
            seed=config.seed,
            lora_rank=config.lora_rank,
            lora_alpha=config.lora_alpha,
            lora_dropout=config.lora_dropout,
            lora_targets=config.lora_targets,
            base_dir=config.checkpoint_dir / BASE_DIR,
        )
        if self.checkpoint is not None:
            restore_weights(self.model, self.checkpoint)
        self.model.train()

        self.dht = build_dht(config, self.identity)
        # a dead DHT process leaves hivemind's calls waiting forever (the Optimizer's constructor did in CI)
        with DHTWatch(self.dht, threading.Event()):
            self._join_swarm()

    def _join_swarm(self) -> None:
        """The optimizer and everything the loop needs around it, over the started DHT."""
        import hivemind
        import torch

        from trainer.training.checkpoint import load_optimizer_state
        from trainer.training.data import BatchStream
        from trainer.training.hivemind_peer import CheckpointWriter, HivemindSwarm, TorchLearner
        from trainer.training.progress import ProgressLedger
        from trainer.training.swarm import build_optimizer, check_run_settings, make_adamw

        config, plan = self.config, self.plan
        self.visible_maddrs = [str(addr) for addr in self.dht.get_visible_maddrs()]
        if config.maddrs_file is not None:
            config.maddrs_file.parent.mkdir(parents=True, exist_ok=True)
            config.maddrs_file.write_text("\n".join(self.visible_maddrs) + "\n")
        log.info("peer %s listening on %s", self.peer_id, " ".join(self.visible_maddrs) or "(client mode)")
        check_run_settings(self.dht, self.run_settings())

        # hivemind.GradScaler expects gradients accumulated in place, and offloading wants to save the
        # accumulator buffers: both use reuse_grad_buffers (so the loop must never zero gradients)
        self.reuse_grad_buffers = plan.kernel.grad_scaler or plan.profile.offload
        self.opt = build_optimizer(
            config, self.dht, self.trainable, offload=plan.profile.offload, reuse_grad_buffers=self.reuse_grad_buffers
        )
        diloco = config.averaging == "diloco"
        self.scaler = None
        if plan.kernel.grad_scaler:
            # gradient mode: hivemind's scaler (unscales once per global step); DiLoCo: the inner
            # AdamW is a plain local optimizer, so a plain torch scaler
            scaler_type = torch.amp.GradScaler if diloco else hivemind.GradScaler
            self.scaler = scaler_type(device=plan.device)
        inner = inner_schedule = None
        if diloco:
            from trainer.training.swarm import warmup_then_linear

            inner = make_adamw(config, self.trainable)
            inner_schedule = torch.optim.lr_scheduler.LambdaLR(
                inner, warmup_then_linear(config.warmup_steps, config.total_steps)
            )

        self.resumed_from: int | None = None
        totals: dict[str, Any] = {}
        position = 0
        if self.checkpoint is not None:
            saved = load_optimizer_state(self.checkpoint)
            if saved is not None:
                self.opt.load_state_dict(saved["hivemind"])
                # the scheduler is not part of the optimizer's state: replay it to the restored epoch
                self.opt.state_averager._update_scheduler()
                if diloco and "inner" in saved:
                    inner.load_state_dict(saved["inner"])
                    inner_schedule.load_state_dict(saved["inner_schedule"])
            totals = self.checkpoint.state.get("totals", {})
            position = int(self.checkpoint.state.get("data_position", 0))
            self.resumed_from = self.opt.local_epoch
            log.info("resumed from checkpoint %s at epoch %d", self.checkpoint.path, self.opt.local_epoch)
        binding = config.node_binding
        self.ledger = ProgressLedger(self.peer_id, totals, (binding.node, binding.signature) if binding else None)
        self.batches = BatchStream(config, plan.tokenizer, self.peer_id, start=position)
        log.info(
            "data: %s, %d-token sequences, batch %d", self.batches.reader.describe(), config.seq_len, config.batch_size
        )
        self.swarm = HivemindSwarm(
            self.opt,
            self.dht,
            self.events,
            config,
            trainable=self.trainable,
            grad_scaler=None if diloco else self.scaler,
            reuse_grad_buffers=self.reuse_grad_buffers,
        )
        self.learner = TorchLearner(self.model, plan, self.batches, self.scaler, inner, inner_schedule)
        self.guard = None
        if config.model_guard:
            from trainer.training.guards import ModelGuard

            opt = self.opt
            holders = opt.weight_holders
            self.guard = ModelGuard(self.trainable, lambda: holders() + ([inner] if inner is not None else []))
        self.checkpoints = CheckpointWriter(
            config, plan, self.model, self.opt, self.learner, peer_id=self.peer_id, run_settings=self.run_settings()
        )
        self.metrics.write(
            "start",
            peer_id=self.peer_id,
            maddrs=self.visible_maddrs,
            resumed_from_epoch=self.resumed_from,
            epoch=self.opt.local_epoch,
            shard=self.batches.reader.shard,
            profile=plan.profile.profile,
            averaging=config.averaging,
            delay_updates=config.delay_updates,
            client_mode=bool(self.dht.client_mode),
            kernel=plan.kernel.describe(),
        )

    def run_settings(self) -> dict[str, Any]:
        """The settings every peer of this run must share (checked through the DHT on start)."""
        plan, config = self.plan, self.config
        return {
            "run_id": config.run_id,
            "averaging": config.averaging,
            "target_batch_size": config.target_batch_size,
            "compression": config.compression,
            "average_state_every": config.state_averaging_period,
            "profile": plan.profile.profile,
            "n_params": plan.spec.shape.n_params,
            "lora_rank": config.lora_rank if plan.profile.profile == "lora" else 0,
        }

    def _check_checkpoint_matches(self, state: dict[str, Any]) -> None:
        ours = self.run_settings()
        theirs = state.get("run_settings", {})
        differing = [name for name in ("run_id", "averaging", "profile", "n_params") if theirs.get(name) != ours[name]]
        if differing:
            detail = ", ".join(f"{name}={theirs.get(name)!r} (now {ours[name]!r})" for name in differing)
            raise CheckpointError(
                f"checkpoint in {self.config.checkpoint_dir} was written with {detail}",
                "use another --checkpoint-dir, or --no-resume to start over there",
            )

    def run(
        self, on_epoch: Callable[[EpochReport], None] | None = None, stop_event: threading.Event | None = None
    ) -> TrainingSummary:
        from trainer.training.dht_watch import DHTWatch

        stop_event = stop_event or threading.Event()
        loop = TrainingLoop(
            self.config,
            peer_id=self.peer_id,
            swarm=self.swarm,
            learner=self.learner,
            checkpoints=self.checkpoints,
            metrics=self.metrics,
            ledger=self.ledger,
            resumed_from=self.resumed_from,
            fail_at_epoch=self.fail_at_epoch,
            guard=self.guard,
        )
        # a dead DHT process would leave every later DHT call waiting forever: stop with an error
        with DHTWatch(self.dht, stop_event):
            return loop.run(on_epoch=on_epoch, stop_event=stop_event)

    def close(self) -> None:
        """Leave the swarm: say goodbye to peers and stop hivemind's processes (bounded, also when
        the DHT process is gone)."""
        from trainer.training.dht_watch import leave_swarm

        opt, dht, self.opt, self.dht = self.opt, self.dht, None, None
        leave_swarm(opt, dht)


def run_training(
    config: TrainConfig,
    on_epoch: Callable[[EpochReport], None] | None = None,
    stop_event: threading.Event | None = None,
) -> TrainingSummary:
    """Train one peer of a collaborative run until ``max_epochs`` or ``stop_event``; return a summary.

    :param config: the peer's settings (`trainer.training.config.TrainConfig`).
    :param on_epoch: called in the training thread after every collaborative epoch this peer
        completes, with an `EpochReport` (run id, peer id, epoch, tokens, samples, mean loss, wall
        time, ...). By then the epoch's signed progress record has been handed to the DHT. An
        exception raised by the callback stops training and propagates.
    :param stop_event: set it (from any thread) to stop after the current step; the peer then
        saves a checkpoint and leaves the swarm cleanly.
    :raises TrainerError: for bad input (missing data, unknown model, a memory profile that does
        not fit, an unreachable swarm), before any training starts.
    """
    session = TrainingSession(config)
    try:
        session.start()
        return session.run(on_epoch=on_epoch, stop_event=stop_event)
    finally:
        session.close()


__all__ = ["EpochReport", "TrainerError", "TrainingSession", "TrainingSummary", "run_training"]
