"""The training engine of one peer: the loop and the interfaces of what it works with.

A peer loads (or resumes) its model, joins the swarm, and trains until ``max_epochs`` or until
``stop_event`` is set. After every collaborative epoch it completes, it

1. publishes a signed progress record to the DHT (`trainer.training.progress`),
2. appends an ``epoch`` event to the metrics file and logs a metric line,
3. calls ``on_epoch`` with an `EpochReport` (the chain bridge submits work from there),
4. writes a checkpoint every ``checkpoint_every`` epochs.

Averaging modes (see `trainer.training.swarm` for the hivemind side):

- ``gradient``: forward/backward per micro-batch, then ``opt.step(batch_size)``; hivemind
  accumulates until the swarm reaches ``target_batch_size``, all-reduces, and steps AdamW.
- ``diloco``: inner AdamW steps on the local weights until the swarm reaches the target; then
  the pseudo-gradient (outer weights minus local weights) goes to hivemind as the gradient, the
  weights are reset to the outer weights, and hivemind all-reduces the pseudo-gradients
  (compressed) and applies the outer Nesterov step. A round that finds no group while the peer
  sees no other trainer is held (`trainer.training.swarm`): no new epoch, the local weights keep
  its work, and its samples stay in the epoch's counters until the epoch's update lands (or a
  state download discards them, as a late peer's); the loop needs no rule of its own for it.
  Overlapped (``delay_updates``): the step returns while the outer update is computed, the next
  round's inner steps start at once, and after every micro-batch the loop asks the swarm to merge
  an outer update that has landed (`Swarm.apply_landed_update`), then checks the model as after
  any update.

With robust aggregation a round that went on without this peer while other trainers were in view
leaves its weights apart from the swarm's (`Swarm.weights_apart`, `trainer.training.swarm`), as
does a shared round that shows a DiLoCo peer which stepped alone holds other outer weights
(`trainer.training.outer_signature`): the loop downloads the swarm's state right after that step,
before the next round, and the round is not credited (its samples are discarded with the weights
they trained, as a late peer's are).

Work accounting: the samples and tokens of an epoch are those this peer fed into that epoch's
update. Work thrown away because the peer had to re-download state from the swarm is not
credited (it is logged as a ``state_download`` event instead).

Structure: `TrainingLoop` makes every decision over time (when to download state, when a DiLoCo
round ends, what an epoch is credited, when to checkpoint and stop). It takes the swarm, the model
side, the checkpoint store and the clock as arguments (the `Swarm`, `Learner`, `Checkpoints` and
`Clock` interfaces below), so tests drive it with a scripted fake swarm in milliseconds.
`trainer.training.session.TrainingSession` builds the real parts (`trainer.training.hivemind_peer`)
and runs the loop over them; `trainer.training.session.run_training` is the stable Python API.

Fault injection (tests only): with ``TRAINER_FAIL_AT_EPOCH=N`` in the environment, a peer that
completes epoch N or later writes a checkpoint (whether or not one was due) and then kills itself
and its hivemind helper processes with SIGKILL, as a crash would. Multi-process tests use it to
lose a peer at a known epoch with a known resume point, instead of racing a kill against the
swarm's timing (a peer that re-synchronises skips epochs, so a periodic checkpoint may not exist).
"""

from __future__ import annotations

import logging
import math
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Protocol

from trainer.errors import TrainerError
from trainer.training.config import TrainConfig
from trainer.training.reporting import MetricsFile, ProgressDisplay, metric_line

if TYPE_CHECKING:
    from trainer.training.progress import PeerProgress, ProgressLedger

log = logging.getLogger("trainer")

FAIL_AT_EPOCH_ENV = "TRAINER_FAIL_AT_EPOCH"
# @dev Micro-batches whose losses a withheld round names (a DiLoCo round or a gradient epoch of a
#      few peers spans tens of them; the blow-up is usually in the last ones).
RECENT_MICRO_BATCHES = 16


# --- what the loop works with -------------------------------------------------------------------


class Clock(Protocol):
    """Time as the loop sees it: a monotonic clock for durations, wall time for records."""

    def monotonic(self) -> float: ...

    def time(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock."""

    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


@dataclass
class MicroBatch:
    """One forward/backward pass: what it fed and what it cost."""

    samples: int
    tokens: int
    loss: float
    compute: float
    """Seconds of compute (forward, backward, and in DiLoCo the inner optimizer step)."""


class Swarm(Protocol):
    """The collaborative side of training, as the loop uses it."""

    @property
    def local_epoch(self) -> int:
        """The epoch this peer's weights belong to."""

    @property
    def global_epoch(self) -> int:
        """The newest epoch any peer of the swarm reported."""

    @property
    def num_peers(self) -> int:
        """Trainer peers the swarm reports for the current epoch."""

    @property
    def swarm_samples(self) -> int:
        """Samples the swarm accumulated toward the current epoch."""

    @property
    def ready_to_update(self) -> bool:
        """The swarm (by its own estimate) has the target batch size for this epoch."""

    @property
    def local_samples(self) -> int:
        """Samples this peer accumulated toward the epoch (0 again after a discarded step)."""

    @property
    def state_downloads(self) -> int:
        """How many times this peer downloaded the swarm's state (also inside `step`)."""

    @property
    def last_group_size(self) -> int:
        """Peers in the last averaging round (1: local update only, 0: unknown)."""

    @property
    def weights_apart(self) -> bool:
        """With robust aggregation: this peer's last update went without the swarm's round while
        other trainers were in view, so its weights are apart from the swarm's until `load_state`."""

    @property
    def withheld_rounds(self) -> int:
        """Rounds this peer sent with weight 0 because its own check found its contribution non-finite
        or absurdly large (`trainer.training.reducer.RobustAveragerMixin`): their work is not credited."""

    def wait_for_view(self, timeout: float) -> None:
        """Wait (bounded) until the swarm's progress was read at least once."""

    def load_state(self) -> bool:
        """Download the newest state from peers; True when this peer caught up."""

    def step(self, samples: int) -> None:
        """Hand this peer's update for ``samples`` samples to the swarm.

        The swarm accumulates it, averages and applies it when the epoch ends (then
        ``local_epoch`` advances), or downloads state instead when this peer is behind.
        """

    def report_progress(self, samples: int) -> None:
        """Tell the swarm how many samples this peer has accumulated in the current epoch."""

    def prepare_averaging(self) -> None:
        """Start matchmaking early if the epoch is about to end."""

    def apply_landed_update(self, wait: bool = False) -> bool:
        """Overlapped DiLoCo: merge an outer update that finished in the background into the local
        weights (with ``wait``, wait for one still in flight); True when the weights changed."""

    def publish_progress(self, record: PeerProgress) -> None:
        """Store this peer's signed progress record where others read it (without waiting)."""


class Learner(Protocol):
    """The model side: micro-batches and, in DiLoCo, local optimizer steps."""

    def forward_backward(self) -> MicroBatch: ...

    def inner_step(self) -> float:
        """DiLoCo: one local optimizer step on the gradients; returns its compute seconds."""


class ModelCheck(Protocol):
    """`trainer.training.guards.ModelGuard`: True when the weights are finite (kept as the last good
    ones), otherwise restores the last good weights and returns False."""

    def check(self) -> bool: ...


class Checkpoints(Protocol):
    def save(self, epoch: int, totals: dict[str, Any]) -> str:
        """Write a checkpoint of the current state at ``epoch``; return where it is."""


# --- what the loop reports ----------------------------------------------------------------------


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
    started: float
    samples: int = 0
    tokens: int = 0
    loss_sum: float = 0.0
    loss_count: int = 0
    compute: float = 0.0
    max_peers: int = 0

    def add(self, work: MicroBatch) -> None:
        self.samples += work.samples
        self.tokens += work.tokens
        if math.isfinite(work.loss):
            self.loss_sum += work.loss
            self.loss_count += 1
        self.compute += work.compute

    @property
    def mean_loss(self) -> float:
        return self.loss_sum / self.loss_count if self.loss_count else float("nan")


def fail_at_epoch_from_env() -> int | None:
    """The fault-injection epoch from ``TRAINER_FAIL_AT_EPOCH``, or None when unset."""
    value = os.environ.get(FAIL_AT_EPOCH_ENV, "").strip()
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise TrainerError(
            f"{FAIL_AT_EPOCH_ENV}={value!r} is not an epoch number", f"unset {FAIL_AT_EPOCH_ENV} or give an integer"
        ) from None


def kill_this_peer(epoch: int) -> None:
    """Die as a crash would (SIGKILL, no goodbye to the swarm), taking hivemind's helpers along."""
    import multiprocessing

    log.warning("%s: killing this peer after epoch %d", FAIL_AT_EPOCH_ENV, epoch)
    for handler in logging.getLogger("trainer").handlers:
        handler.flush()
    if os.getpgrp() == os.getpid():  # a process-group leader (how tests start peers): the group
        os.killpg(os.getpid(), signal.SIGKILL)
    for child in multiprocessing.active_children():
        os.kill(child.pid, signal.SIGKILL)
    os.kill(os.getpid(), signal.SIGKILL)


# --- the loop -----------------------------------------------------------------------------------


class TrainingLoop:
    """Every decision one peer takes over time, over an injected swarm, model side and clock.

    :param resumed_from: the checkpoint epoch this peer resumed from (None: a fresh start); the
        swarm's ``local_epoch`` and the ledger's totals already reflect it.
    :param fail_at_epoch: fault injection: call ``crash(epoch)`` after completing this epoch or a
        later one (see the module docstring).
    """

    def __init__(
        self,
        config: TrainConfig,
        *,
        peer_id: str,
        swarm: Swarm,
        learner: Learner,
        checkpoints: Checkpoints,
        metrics: MetricsFile,
        ledger: ProgressLedger,
        clock: Clock | None = None,
        resumed_from: int | None = None,
        fail_at_epoch: int | None = None,
        crash: Callable[[int], None] = kill_this_peer,
        guard: ModelCheck | None = None,
    ) -> None:
        self.config, self.peer_id = config, peer_id
        self.swarm, self.learner, self.checkpoints = swarm, learner, checkpoints
        self.metrics, self.ledger = metrics, ledger
        self.clock = clock or SystemClock()
        self.resumed_from = resumed_from
        self.fail_at_epoch, self.crash = fail_at_epoch, crash
        self.guard = guard
        self.guard_restores = 0
        self.diloco = config.averaging == "diloco"

    def _new_counters(self) -> _EpochCounters:
        return _EpochCounters(started=self.clock.monotonic())

    def run(
        self, on_epoch: Callable[[EpochReport], None] | None = None, stop_event: threading.Event | None = None
    ) -> TrainingSummary:
        config, swarm = self.config, self.swarm
        stop_event = stop_event or threading.Event()
        self.on_epoch = on_epoch
        self.started = self.clock.monotonic()
        self.start_epoch = swarm.local_epoch
        self.compute_total = 0.0
        self.micro_batches = 0
        # (number in this run, loss) of the last micro-batches: named when a contribution is withheld
        self.recent_losses: deque[tuple[int, float]] = deque(maxlen=RECENT_MICRO_BATCHES)
        self.first_loss: float | None = None
        self.last_loss: float | None = None
        self.epochs_completed = 0
        self.last_checkpoint: str | None = None
        self.last_checkpoint_epoch: int | None = None
        self.last_log = self.clock.monotonic()
        self.display = ProgressDisplay(config.progress_bar, config.target_batch_size)

        self.counters = self._new_counters()
        self._check_model("start")
        swarm.wait_for_view(timeout=5.0)
        if swarm.global_epoch > swarm.local_epoch:
            self._sync_with_swarm("joining a swarm that is ahead")
        try:
            while not self._should_stop(stop_event):
                if self.diloco:
                    self._diloco_round(stop_event)
                else:
                    self._gradient_step()
                self._maybe_log()
        finally:
            self.display.close()
        if swarm.apply_landed_update(wait=True):  # the peer stops on its last outer update
            self._check_model("the last overlapped outer update")
        # the final epoch's weights, unless that epoch is saved already: a peer can reach its last
        # epoch by a state download, which no epoch's end saved (a clean-clone run's overlapped peer
        # went 4 -> 6 that way with max_epochs 6 and checkpoint_every 2, and left epoch 4 as its last)
        if self.last_checkpoint_epoch != swarm.local_epoch:
            self._save_checkpoint()
        summary = TrainingSummary(
            run_id=config.run_id,
            peer_id=self.peer_id,
            start_epoch=self.start_epoch,
            final_epoch=swarm.local_epoch,
            epochs_completed=self.epochs_completed,
            tokens=self.ledger.tokens,
            samples=self.ledger.samples,
            wall_time=self.clock.monotonic() - self.started,
            compute_time=self.compute_total,
            first_loss=self.first_loss,
            last_loss=self.last_loss,
            resumed_from_epoch=self.resumed_from,
            state_downloads=swarm.state_downloads,
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
        return self.config.max_epochs is not None and self.swarm.local_epoch >= self.config.max_epochs

    def _train_micro_batch(self) -> MicroBatch:
        work = self.learner.forward_backward()
        if self.diloco:
            work.compute += self.learner.inner_step()
        self.counters.add(work)
        self.compute_total += work.compute
        self.micro_batches += 1
        self.recent_losses.append((self.micro_batches, work.loss))
        return work

    def _gradient_step(self) -> None:
        swarm = self.swarm
        work = self._train_micro_batch()
        epoch_before, downloads_before, withheld_before = (
            swarm.local_epoch,
            swarm.state_downloads,
            swarm.withheld_rounds,
        )
        swarm.step(work.samples)
        self._after_step(epoch_before, downloads_before, withheld_before)

    def _diloco_round(self, stop_event: threading.Event) -> None:
        swarm = self.swarm
        if swarm.local_epoch < swarm.global_epoch:
            self._sync_with_swarm("behind the swarm at the start of a local round")
        elif swarm.weights_apart:  # an overlapped round that failed in the background
            self._sync_with_swarm("apart from the swarm's weights at the start of a local round")
        if self._should_stop(stop_event):
            return  # the download reached the last epoch: a round now would train past max_epochs
        already = swarm.local_samples
        round_samples = 0
        while True:
            round_samples += self._train_micro_batch().samples
            if swarm.apply_landed_update():
                self.metrics.write("outer_update", epoch=swarm.local_epoch, after_samples=round_samples)
                self._check_model(f"the overlapped outer update of epoch {swarm.local_epoch - 1}")
            # every step, as hivemind's own step does: reporting less often made the swarm's
            # round-end estimate end a slower peer's rounds at half its share (measured)
            swarm.report_progress(already + round_samples)
            self._maybe_log()
            if stop_event.is_set():
                break
            # A round ends when the swarm has the target, but never before this peer did half its
            # share; matchmaking for the round's all-reduce starts no earlier either. Right after
            # an epoch the tracker's view is stale and says "ready": acting on it would end rounds
            # after a step or two, or schedule an all-reduce that times out before anyone joins.
            fair_share = self.config.target_batch_size / max(1, swarm.num_peers)
            if round_samples < fair_share / 2:
                continue
            swarm.prepare_averaging()
            if swarm.ready_to_update:
                break
        epoch_before, downloads_before, withheld_before = (
            swarm.local_epoch,
            swarm.state_downloads,
            swarm.withheld_rounds,
        )
        swarm.step(round_samples)
        self._after_step(epoch_before, downloads_before, withheld_before)

    def _after_step(self, epoch_before: int, downloads_before: int, withheld_before: int) -> None:
        swarm = self.swarm
        self.counters.max_peers = max(self.counters.max_peers, swarm.num_peers, 1)
        if swarm.state_downloads != downloads_before:
            self._check_model("state download")
        elif swarm.local_epoch > epoch_before:
            self._check_model(f"update of epoch {epoch_before}")
        if swarm.state_downloads == downloads_before and swarm.weights_apart:
            # the round went on without this peer while other trainers were in view (its update was
            # its own), or the round showed this peer's outer weights apart after it stepped alone:
            # before its next round it takes the swarm's state, and the round's samples are
            # discarded with the weights they trained (as a late peer's are)
            self._sync_with_swarm(
                f"after the round of epoch {epoch_before} this peer's weights are apart", epoch_before
            )
        elif swarm.state_downloads != downloads_before:
            self.metrics.write(
                "state_download",
                from_epoch=epoch_before,
                to_epoch=swarm.local_epoch,
                discarded_samples=self.counters.samples,
            )
            log.info(
                "re-synchronised with the swarm at epoch %d; %d local samples discarded",
                swarm.local_epoch,
                self.counters.samples,
            )
            self.counters = self._new_counters()
            self._wait_for_epoch_boundary()
        elif swarm.local_epoch > epoch_before and swarm.withheld_rounds != withheld_before:
            # this peer's own check found its contribution absurd and sent it with weight 0: the
            # round took nothing of its work, so the epoch's samples are not credited (or claimed).
            # The micro-batches behind it are named by their number in this run (the data stream
            # is deterministic, so they can be replayed offline to find what blew up)
            recent = list(self.recent_losses)
            self.metrics.write(
                "withheld_round", epoch=epoch_before, discarded_samples=self.counters.samples, recent_losses=recent
            )
            log.warning(
                "the contribution of epoch %d was withheld (weight 0): its %d samples are not credited; "
                "the last micro-batches (number in this run, loss): %s",
                epoch_before,
                self.counters.samples,
                ", ".join(f"{n}: {loss:.4g}" for n, loss in recent),
            )
            self.counters = self._new_counters()
            self._wait_for_epoch_boundary()
        elif swarm.local_epoch > epoch_before:
            self._finish_epoch(epoch_before)
            # a peer whose round failed transitions late, into an epoch the others are finishing
            self._wait_for_epoch_boundary()
        elif not self.diloco and self.counters.samples and swarm.local_samples == 0:
            # hivemind reset the accumulators (fp16 overflow): those samples will not count
            self.counters = self._new_counters()

    def _finish_epoch(self, epoch: int) -> None:
        counters, config = self.counters, self.config
        self.counters = self._new_counters()
        group = self.swarm.last_group_size
        report = EpochReport(
            run_id=config.run_id,
            peer_id=self.peer_id,
            epoch=epoch,
            tokens=counters.tokens,
            samples=counters.samples,
            mean_loss=counters.mean_loss,
            wall_time=self.clock.monotonic() - counters.started,
            compute_time=counters.compute,
            num_peers=counters.max_peers,
            group_size=group,
        )
        self.epochs_completed += 1
        if math.isfinite(report.mean_loss):
            self.first_loss = report.mean_loss if self.first_loss is None else self.first_loss
            self.last_loss = report.mean_loss
        self.ledger.add_epoch(epoch, report.samples, report.tokens, report.mean_loss, report.wall_time)
        self.swarm.publish_progress(self.ledger.record(self.clock.time()))
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
        due = bool(config.checkpoint_every) and self.swarm.local_epoch % config.checkpoint_every == 0
        fault = self.fail_at_epoch is not None and epoch >= self.fail_at_epoch
        if due or fault:
            self._save_checkpoint()
        if fault:
            self.metrics.write("fault", epoch=epoch)
            self.crash(epoch)

    def _sync_with_swarm(self, why: str, from_epoch: int | None = None) -> None:
        """Download the swarm's state; ``from_epoch``: the epoch the discarded samples trained for,
        when not the current one."""
        swarm = self.swarm
        before = swarm.local_epoch if from_epoch is None else from_epoch
        log.info("%s (local epoch %d, swarm epoch %d): downloading state", why, swarm.local_epoch, swarm.global_epoch)
        caught_up = swarm.load_state()
        self._check_model("state download")
        self.metrics.write(
            "state_download",
            from_epoch=before,
            to_epoch=swarm.local_epoch,
            ok=caught_up,
            discarded_samples=self.counters.samples,
        )
        self.counters = self._new_counters()
        self._wait_for_epoch_boundary()

    def _wait_for_epoch_boundary(self) -> None:
        """In gradient mode, skip the rest of a round the swarm is already finishing.

        A peer that enters an epoch late (after a state download, or after its own averaging round
        failed) finds the swarm already "ready": it would start an all-reduce with one micro-batch,
        miss the group, wait out the averaging timeout, fall behind again, and on short epochs
        repeat that forever. Instead it waits (bounded) for the swarm's next epoch and downloads
        that state, so it starts the next round in phase with the others.
        """
        swarm, config, clock = self.swarm, self.config, self.clock
        if self.diloco or swarm.num_peers < 2 or not swarm.ready_to_update:
            return
        next_epoch = swarm.local_epoch + 1
        deadline = clock.monotonic() + config.averaging_timeout + config.matchmaking_time
        while swarm.global_epoch < next_epoch and clock.monotonic() < deadline:
            clock.sleep(0.1)
        if swarm.global_epoch >= next_epoch:
            before = swarm.local_epoch
            caught_up = swarm.load_state()
            self._check_model("state download")
            self.metrics.write(
                "state_download", from_epoch=before, to_epoch=swarm.local_epoch, ok=caught_up, discarded_samples=0
            )
        self.counters = self._new_counters()

    def _check_model(self, after: str) -> None:
        """The model guard after anything that changed the weights (see `trainer.training.guards`)."""
        if self.guard is None or self.guard.check():
            return
        self.guard_restores += 1
        self.metrics.write("guard", epoch=self.swarm.local_epoch, after=after, action="restored last good weights")
        log.warning(
            "non-finite weights after %s at epoch %d: restored the last good weights (%d restores so far)",
            after,
            self.swarm.local_epoch,
            self.guard_restores,
        )

    def _maybe_log(self) -> None:
        now = self.clock.monotonic()
        swarm = self.swarm
        elapsed = now - self.counters.started
        self.display.update(
            epoch=swarm.local_epoch,
            swarm_samples=swarm.swarm_samples,
            loss=self.counters.mean_loss if self.counters.loss_count else None,
            tokens_per_second=self.counters.tokens / elapsed if elapsed > 0 else 0.0,
            peers=swarm.num_peers,
        )
        if now - self.last_log < self.config.log_every:
            return
        self.last_log = now
        elapsed = now - self.started
        log.info(
            metric_line(
                epoch=swarm.local_epoch,
                swarm_samples=f"{swarm.swarm_samples}/{self.config.target_batch_size}",
                loss=self.counters.mean_loss if self.counters.loss_count else None,
                tok_per_s=(self.ledger.tokens + self.counters.tokens) / elapsed if elapsed > 0 else 0.0,
                peers=swarm.num_peers,
            )
        )

    def _save_checkpoint(self) -> None:
        # overlapped DiLoCo: an outer step still in flight would be saved half-applied (the weights
        # without it, its momentum mid-write); the checkpoint waits for it, as synchronous DiLoCo does
        if self.swarm.apply_landed_update(wait=True):
            self._check_model("the overlapped outer update before a checkpoint")
        epoch = self.swarm.local_epoch
        path = self.checkpoints.save(epoch, self.ledger.totals())
        self.last_checkpoint, self.last_checkpoint_epoch = path, epoch
        self.metrics.write("checkpoint", epoch=epoch, path=path)


__all__ = [
    "Checkpoints",
    "Clock",
    "EpochReport",
    "Learner",
    "MicroBatch",
    "ModelCheck",
    "Swarm",
    "SystemClock",
    "TrainingLoop",
    "TrainingSummary",
]
