"""The training engine of one peer: `run_training` is the stable Python API.

A peer loads (or resumes) its model, joins the swarm, and trains until ``max_epochs`` or until
``stop_event`` is set. After every collaborative epoch it completes, it

1. publishes a signed progress record to the DHT (`trainer.progress`),
2. appends an ``epoch`` event to the metrics file and logs a metric line,
3. calls ``on_epoch`` with an `EpochReport` (the chain bridge submits work from there),
4. writes a checkpoint every ``checkpoint_every`` epochs.

Averaging modes (see `trainer.swarm` for the hivemind side):

- ``gradient``: forward/backward per micro-batch, then ``opt.step(batch_size)``; hivemind
  accumulates until the swarm reaches ``target_batch_size``, all-reduces, and steps AdamW.
- ``diloco``: inner AdamW steps on the local weights until the swarm reaches the target; then
  the pseudo-gradient (outer weights minus local weights) goes to hivemind as the gradient, the
  weights are reset to the outer weights, and hivemind all-reduces the pseudo-gradients
  (compressed) and applies the outer Nesterov step.

Work accounting: the samples and tokens of an epoch are those this peer fed into that epoch's
update. Work thrown away because the peer had to re-download state from the swarm is not
credited (it is logged as a ``state_download`` event instead).
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from trainer.config import TrainConfig
from trainer.errors import CheckpointError, TrainerError
from trainer.plan import RunPlan, plan_run
from trainer.reporting import MetricsFile, ProgressDisplay, metric_line

log = logging.getLogger("trainer")


@dataclass(frozen=True)
class EpochReport:
    """One collaborative epoch's work by this peer, passed to ``on_epoch``.

    ``epoch`` is the collaborative epoch the work counted toward: the swarm moves from ``epoch``
    to ``epoch + 1`` when it completes. ``wall_time`` is the seconds this peer spent on it.
    """

    run_id: str
    peer_id: str
    epoch: int
    tokens: int
    samples: int
    mean_loss: float
    wall_time: float
    compute_time: float
    num_peers: int
    """Trainer peers the swarm reported during the epoch."""
    group_size: int
    """Peers in this epoch's all-reduce as hivemind logged it (1: local update only, 0: unknown)."""


@dataclass
class TrainingSummary:
    """What `run_training` returns when the peer stops."""

    run_id: str
    peer_id: str
    start_epoch: int
    final_epoch: int
    epochs_completed: int
    tokens: int
    samples: int
    wall_time: float
    compute_time: float
    first_loss: float | None
    last_loss: float | None
    resumed_from_epoch: int | None
    state_downloads: int
    checkpoint: str | None

    @property
    def utilization(self) -> float:
        return self.compute_time / self.wall_time if self.wall_time > 0 else 0.0


@dataclass
class _EpochCounters:
    started: float = field(default_factory=time.monotonic)
    samples: int = 0
    tokens: int = 0
    loss_sum: float = 0.0
    loss_count: int = 0
    compute: float = 0.0
    max_peers: int = 0

    def add(self, samples: int, tokens: int, loss: float, compute: float) -> None:
        self.samples += samples
        self.tokens += tokens
        if math.isfinite(loss):
            self.loss_sum += loss
            self.loss_count += 1
        self.compute += compute

    @property
    def mean_loss(self) -> float:
        return self.loss_sum / self.loss_count if self.loss_count else float("nan")


class TrainingSession:
    """One peer's training run; `run_training` is the convenient way to use it."""

    def __init__(self, config: TrainConfig, plan: RunPlan | None = None) -> None:
        self.config = config
        self.plan = plan or plan_run(config)
        self.dht: Any = None
        self.opt: Any = None
        self.display: ProgressDisplay | None = None

    # --- start-up ------------------------------------------------------------------------------
    def start(self) -> None:
        import hivemind
        import torch

        from trainer.checkpoint import BASE_DIR, find_checkpoint, load_optimizer_state, restore_weights
        from trainer.data import BatchStream
        from trainer.identity import load_or_create_identity
        from trainer.model import load_model
        from trainer.progress import ProgressLedger
        from trainer.swarm import build_dht, build_optimizer, capture_hivemind_logs, check_run_settings, make_adamw

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
        self.diloco = config.averaging == "diloco"
        self.scaler = None
        if plan.kernel.grad_scaler:
            # gradient mode: hivemind's scaler (unscales once per global step); DiLoCo: the inner
            # AdamW is a plain local optimizer, so a plain torch scaler
            scaler_type = torch.amp.GradScaler if self.diloco else hivemind.GradScaler
            self.scaler = scaler_type(device=plan.device)
        if self.diloco:
            self.inner = make_adamw(config, self.trainable)
            from trainer.swarm import warmup_then_linear

            self.inner_schedule = torch.optim.lr_scheduler.LambdaLR(
                self.inner, warmup_then_linear(config.warmup_steps, config.total_steps)
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
                if self.diloco and "inner" in saved:
                    self.inner.load_state_dict(saved["inner"])
                    self.inner_schedule.load_state_dict(saved["inner_schedule"])
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
        self.metrics.write(
            "start",
            peer_id=self.peer_id,
            maddrs=self.visible_maddrs,
            resumed_from_epoch=self.resumed_from,
            epoch=self.opt.local_epoch,
            shard=self.batches.reader.shard,
            profile=plan.profile.profile,
            averaging=config.averaging,
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

    # --- the loop ------------------------------------------------------------------------------
    def run(
        self, on_epoch: Callable[[EpochReport], None] | None = None, stop_event: threading.Event | None = None
    ) -> TrainingSummary:
        from trainer.swarm import wait_for_swarm_view

        config, opt = self.config, self.opt
        stop_event = stop_event or threading.Event()
        self.on_epoch = on_epoch
        self.started = time.monotonic()
        self.start_epoch = opt.local_epoch
        self.compute_total = 0.0
        self.first_loss: float | None = None
        self.last_loss: float | None = None
        self.epochs_completed = 0
        self.last_checkpoint: str | None = None
        self.last_log = time.monotonic()
        self.display = ProgressDisplay(config.progress_bar, config.target_batch_size)

        self.counters = _EpochCounters()
        wait_for_swarm_view(opt, timeout=5.0)
        if opt.tracker.global_epoch > opt.local_epoch:
            self._sync_with_swarm("joining a swarm that is ahead")
        try:
            while not self._should_stop(stop_event):
                if self.diloco:
                    self._diloco_round(stop_event)
                else:
                    self._gradient_step()
                self._maybe_log()
        finally:
            if self.display is not None:
                self.display.close()
        if config.checkpoint_every == 0 or opt.local_epoch % max(1, config.checkpoint_every) != 0:
            self._save_checkpoint()
        summary = TrainingSummary(
            run_id=config.run_id,
            peer_id=self.peer_id,
            start_epoch=self.start_epoch,
            final_epoch=opt.local_epoch,
            epochs_completed=self.epochs_completed,
            tokens=self.ledger.tokens,
            samples=self.ledger.samples,
            wall_time=time.monotonic() - self.started,
            compute_time=self.compute_total,
            first_loss=self.first_loss,
            last_loss=self.last_loss,
            resumed_from_epoch=self.resumed_from,
            state_downloads=opt.state_downloads,
            checkpoint=self.last_checkpoint,
        )
        self.metrics.write("stop", **asdict(summary), utilization=summary.utilization)
        log.info(
            "stopped at epoch %d: %d epochs, %s tokens, compute utilization %.0f%%",
            summary.final_epoch,
            summary.epochs_completed,
            f"{summary.tokens:,}",
            100 * summary.utilization,
        )
        return summary

    def _should_stop(self, stop_event: threading.Event) -> bool:
        if stop_event.is_set():
            return True
        return self.config.max_epochs is not None and self.opt.local_epoch >= self.config.max_epochs

    def _forward_backward(self, scaler: Any) -> tuple[int, int, float, float]:
        """One micro-batch; returns (samples, tokens, loss, compute seconds)."""
        import torch

        from trainer.hardware import sdpa_context, torch_dtype

        plan = self.plan
        batch = next(self.batches)
        began = time.perf_counter()
        input_ids = batch.input_ids.to(plan.device, non_blocking=True)
        if plan.device == "cuda" and plan.kernel.compute_dtype != "fp32":
            autocast = torch.autocast("cuda", dtype=torch_dtype(plan.kernel.compute_dtype))
        else:
            autocast = contextlib.nullcontext()
        with autocast, sdpa_context(plan.kernel):
            loss = self.model(input_ids=input_ids, labels=input_ids).loss
        (scaler.scale(loss) if scaler is not None else loss).backward()
        loss_value = float(loss.detach().float().item())
        return batch.samples, batch.tokens, loss_value, time.perf_counter() - began

    def _gradient_step(self) -> None:
        opt = self.opt
        samples, tokens, loss, compute = self._forward_backward(self.scaler)
        self.counters.add(samples, tokens, loss, compute)
        self.compute_total += compute
        epoch_before, downloads_before = opt.local_epoch, opt.state_downloads
        opt.step(batch_size=samples, grad_scaler=self.scaler)
        if self.scaler is not None:
            self.scaler.update()
        if not self.reuse_grad_buffers:
            opt.zero_grad(set_to_none=True)
        self._after_step(epoch_before, downloads_before)

    def _diloco_round(self, stop_event: threading.Event) -> None:
        import torch

        opt = self.opt
        if opt.local_epoch < opt.tracker.global_epoch:
            self._sync_with_swarm("behind the swarm at the start of a local round")
        # The offloaded outer optimizer's parameters are DiLoCo's anchor: the weights every peer
        # started this round from. They live in host RAM in fp32 (see trainer.swarm).
        anchor = [param for group in opt.opt.param_groups for param in group["params"]]
        already = opt.local_progress.samples_accumulated
        round_samples = 0
        while True:
            samples, tokens, loss, compute = self._forward_backward(self.scaler)
            began = time.perf_counter()
            if self.scaler is not None:
                self.scaler.unscale_(self.inner)
                self.scaler.step(self.inner)
                self.scaler.update()
            else:
                self.inner.step()
            self.inner.zero_grad(set_to_none=True)
            self.inner_schedule.step()
            compute += time.perf_counter() - began
            self.counters.add(samples, tokens, loss, compute)
            self.compute_total += compute
            round_samples += samples
            # every step, as hivemind's own step does: reporting less often made the swarm's
            # round-end estimate end a slower peer's rounds at half its share (measured)
            opt.tracker.report_local_progress(opt.local_epoch, already + round_samples)
            self._maybe_log()
            if stop_event.is_set():
                break
            # A round ends when the swarm has the target, but never before this peer did half its
            # share; matchmaking for the round's all-reduce starts no earlier either. Right after
            # an epoch the tracker's view is stale and says "ready": acting on it would end rounds
            # after a step or two, or schedule an all-reduce that times out before anyone joins.
            fair_share = self.config.target_batch_size / max(1, opt.tracker.global_progress.num_peers)
            if round_samples < fair_share / 2:
                continue
            opt.prepare_averaging()
            if opt.tracker.ready_to_update_epoch:
                break
        with torch.no_grad():
            for param, outer in zip(self.trainable, anchor, strict=True):
                local = param.detach().float()
                param.grad = (outer.to(param.device, torch.float32) - local).to(param.dtype)
                param.copy_(outer.to(param.device, param.dtype))
        epoch_before, downloads_before = opt.local_epoch, opt.state_downloads
        opt.step(batch_size=round_samples)
        with torch.no_grad():
            for param, outer in zip(self.trainable, anchor, strict=True):
                param.copy_(outer.to(param.device, param.dtype))
                param.grad = None
        self._after_step(epoch_before, downloads_before)

    def _after_step(self, epoch_before: int, downloads_before: int) -> None:
        opt = self.opt
        self.counters.max_peers = max(self.counters.max_peers, opt.tracker.global_progress.num_peers, 1)
        if opt.state_downloads != downloads_before:
            self.metrics.write(
                "state_download",
                from_epoch=epoch_before,
                to_epoch=opt.local_epoch,
                discarded_samples=self.counters.samples,
            )
            log.info(
                "re-synchronised with the swarm at epoch %d; %d local samples discarded",
                opt.local_epoch,
                self.counters.samples,
            )
            self.counters = _EpochCounters()
            self._wait_for_epoch_boundary()
        elif opt.local_epoch > epoch_before:
            self._finish_epoch(epoch_before)
            # a peer whose round failed transitions late, into an epoch the others are finishing
            self._wait_for_epoch_boundary()
        elif not self.diloco and self.counters.samples and opt.local_progress.samples_accumulated == 0:
            # hivemind reset the accumulators (fp16 overflow): those samples will not count
            self.counters = _EpochCounters()

    def _finish_epoch(self, epoch: int) -> None:
        from trainer.progress import publish_progress

        counters, config = self.counters, self.config
        self.counters = _EpochCounters()
        group = self.events.last_group_size
        report = EpochReport(
            run_id=config.run_id,
            peer_id=self.peer_id,
            epoch=epoch,
            tokens=counters.tokens,
            samples=counters.samples,
            mean_loss=counters.mean_loss,
            wall_time=time.monotonic() - counters.started,
            compute_time=counters.compute,
            num_peers=counters.max_peers,
            group_size=group,
        )
        self.epochs_completed += 1
        if math.isfinite(report.mean_loss):
            self.first_loss = report.mean_loss if self.first_loss is None else self.first_loss
            self.last_loss = report.mean_loss
        self.ledger.add_epoch(epoch, report.samples, report.tokens, report.mean_loss, report.wall_time)
        publish_progress(self.dht, config.run_id, self.ledger.record(time.time()), config.progress_expiration)
        self.metrics.write("epoch", **asdict(report))
        log.info(
            metric_line(
                epoch=epoch,
                loss=report.mean_loss,
                tokens=report.tokens,
                tok_per_s=report.tokens / report.wall_time if report.wall_time > 0 else 0.0,
                peers=report.num_peers,
                group=group,
                util=f"{100 * report.compute_time / report.wall_time:.0f}%" if report.wall_time > 0 else None,
            )
        )
        if self.on_epoch is not None:
            self.on_epoch(report)
        if config.checkpoint_every and self.opt.local_epoch % config.checkpoint_every == 0:
            self._save_checkpoint()

    def _sync_with_swarm(self, why: str) -> None:
        opt = self.opt
        before = opt.local_epoch
        log.info("%s (local epoch %d, swarm epoch %d): downloading state", why, before, opt.tracker.global_epoch)
        caught_up = opt.load_state_from_peers()
        self.metrics.write(
            "state_download",
            from_epoch=before,
            to_epoch=opt.local_epoch,
            ok=caught_up,
            discarded_samples=self.counters.samples,
        )
        self.counters = _EpochCounters()
        self._wait_for_epoch_boundary()

    def _wait_for_epoch_boundary(self) -> None:
        """In gradient mode, skip the rest of a round the swarm is already finishing.

        A peer that enters an epoch late (after a state download, or after its own averaging round
        failed) finds the swarm already "ready": it would start an all-reduce with one micro-batch,
        miss the group, wait out the averaging timeout, fall behind again, and on short epochs
        repeat that forever. Instead it waits (bounded) for the swarm's next epoch and downloads
        that state, so it starts the next round in phase with the others.
        """
        opt, config = self.opt, self.config
        if self.diloco or opt.tracker.global_progress.num_peers < 2 or not opt.tracker.ready_to_update_epoch:
            return
        next_epoch = opt.local_epoch + 1
        deadline = time.monotonic() + config.averaging_timeout + config.matchmaking_time
        while opt.tracker.global_epoch < next_epoch and time.monotonic() < deadline:
            time.sleep(0.1)
        if opt.tracker.global_epoch >= next_epoch:
            before = opt.local_epoch
            caught_up = opt.load_state_from_peers()
            self.metrics.write(
                "state_download", from_epoch=before, to_epoch=opt.local_epoch, ok=caught_up, discarded_samples=0
            )
        self.counters = _EpochCounters()

    def _maybe_log(self) -> None:
        now = time.monotonic()
        progress = self.opt.tracker.global_progress
        if self.display is not None:
            elapsed = now - self.counters.started
            self.display.update(
                epoch=self.opt.local_epoch,
                swarm_samples=progress.samples_accumulated,
                loss=self.counters.mean_loss if self.counters.loss_count else None,
                tokens_per_second=self.counters.tokens / elapsed if elapsed > 0 else 0.0,
                peers=progress.num_peers,
            )
        if now - self.last_log < self.config.log_every:
            return
        self.last_log = now
        elapsed = now - self.started
        log.info(
            metric_line(
                epoch=self.opt.local_epoch,
                swarm_samples=f"{progress.samples_accumulated}/{self.config.target_batch_size}",
                loss=self.counters.mean_loss if self.counters.loss_count else None,
                tok_per_s=(self.ledger.tokens + self.counters.tokens) / elapsed if elapsed > 0 else 0.0,
                peers=progress.num_peers,
            )
        )

    def _save_checkpoint(self) -> None:
        from trainer.checkpoint import save_checkpoint

        opt = self.opt
        optimizer_state: dict[str, Any] = {"hivemind": opt.state_dict()}
        if self.diloco:
            optimizer_state["inner"] = self.inner.state_dict()
            optimizer_state["inner_schedule"] = self.inner_schedule.state_dict()
        path = save_checkpoint(
            self.config.checkpoint_dir,
            epoch=opt.local_epoch,
            model=self.model,
            lora=self.plan.profile.profile == "lora",
            tokenizer=self.plan.tokenizer,
            optimizer_state=optimizer_state,
            state={
                "run_id": self.config.run_id,
                "peer_id": self.peer_id,
                "model": self.config.model,
                "model_source": self.plan.spec.source,
                "run_settings": self.run_settings(),
                "totals": self.ledger.totals(),
                "data_position": self.batches.position,
            },
            keep=self.config.keep_checkpoints,
        )
        self.last_checkpoint = str(path)
        self.metrics.write("checkpoint", epoch=opt.local_epoch, path=str(path))

    # --- shutdown ------------------------------------------------------------------------------
    def close(self) -> None:
        """Leave the swarm: say goodbye to peers and stop hivemind's processes (bounded)."""
        for name in ("opt", "dht"):
            component = getattr(self, name, None)
            if component is None:
                continue
            try:
                component.shutdown()
            except Exception as exc:  # shutting down must not hide the real outcome
                log.debug("error while shutting down %s: %r", name, exc)
            setattr(self, name, None)


def run_training(
    config: TrainConfig,
    on_epoch: Callable[[EpochReport], None] | None = None,
    stop_event: threading.Event | None = None,
) -> TrainingSummary:
    """Train one peer of a collaborative run until ``max_epochs`` or ``stop_event``; return a summary.

    :param config: the peer's settings (`trainer.config.TrainConfig`).
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
