"""The hivemind side: DHT, `hivemind.Optimizer` for both averaging modes, and swarm telemetry.

Facts about hivemind 1.1.12 this module relies on (measured, see the project's training notes):

- ``client_mode`` must be set on the DHT: ``Optimizer(client_mode=...)`` is ignored. The
  optimizer then inherits the DHT's mode, which `build_optimizer` asserts.
- ``Optimizer.load_state_from_peers`` retries forever on errors. `SwarmOptimizer` replaces it
  with a bounded number of attempts with back-off; when every attempt fails the peer jumps to the
  swarm's epoch with its own weights (state averaging pulls them back in) instead of hanging.
- An averager shut down while one of its rounds is forming raises ``AttributeError`` in its
  process (it finalizes a group's placeholder future as if it were the runner): every averager
  class here has `trainer.training.averager_shutdown.GroupShutdownMixin`.

Averaging modes:

- ``gradient``: every peer accumulates gradients until the swarm has ``target_batch_size``
  samples; the group all-reduces them (compressed) and every peer applies the same AdamW step.
- ``diloco``: the hivemind optimizer is the *outer* optimizer, SGD with Nesterov momentum over an
  fp32 host copy of the weights. Peers train locally with an inner AdamW until the swarm has
  ``target_batch_size`` samples, then hand hivemind the pseudo-gradient (outer weights minus local
  weights) as the gradient; it is all-reduced with compression and the outer step is applied.
  See `trainer.training.train_loop` for the inner loop.
- ``diloco`` with ``delay_updates`` (overlapped): the round's pseudo-gradient is all-reduced and the
  outer step applied in the background while the next round's inner steps run from the local
  weights; when the outer update lands it is merged into the local weights without losing the
  inner steps taken meanwhile (`StaleOuterBase`). The update is at most one round stale: a round
  that ends while the previous outer step is still in flight waits for it first. This is the
  one-round-delayed outer update of the overlapping DiLoCo variants (Streaming DiLoCo, "eager
  updates"); it costs one more fp32 host copy of the trainable weights.

DiLoCo's outer weights stay the swarm's (synchronous DiLoCo, `SwarmOptimizer.diloco_step`):

- A pseudo-gradient is a step measured from its sender's outer weights, so every peer's outer
  weights must be the same for the swarm's average to mean anything. hivemind's fallback when a
  round finds no group (it is alone, "Skipping pre-scheduled averaging round: there are no other
  peers", or the round failed) is to apply the outer step with the peer's own pseudo-gradient. A
  peer that did so once kept outer weights apart from the swarm's for good: in a clean-clone run
  an honest peer that stepped alone before it saw the others then pointed against both other
  honest senders in every round (taken for a sign flipper) and made an honest contribution look
  over 10x per sample (dropped by the norm screen). With robust aggregation nothing pulls the
  weights back together (parameter averaging never runs there).
- So a round that found no group because the peer saw no other trainer is *held*: no outer step,
  no new epoch, the local weights keep all their inner steps, and the next round's pseudo-gradient
  carries this round's work too, declared with its true samples. The peer then either joins the
  swarm's round for the same epoch (its outer weights are the swarm's: nobody stepped) or finds
  the swarm an epoch ahead at its next round's start and downloads the swarm's state (the loop's
  rule; the held work is dropped, as a late peer's is). A round that failed with other trainers
  in view (a timeout) still takes hivemind's local step: holding there kept peers an epoch behind
  the aux peer's rounds, where every later round found no group (tried in a test_attacks run).
  With robust aggregation that peer then downloads the swarm's state (below).
  We chose holding over "step alone, download the swarm's state later" for a peer that sees
  nobody because it keeps every peer's outer weights equal without a download in the common case
  (a peer that reached the target first at start-up, before the others' progress records were
  visible) and loses no honest work; a download would lose the solo work every time, and with
  nobody in view the peer cannot tell whether the swarm moved without it (both sides end up at
  the same epoch).
- A peer that is really alone still makes progress: once the swarm's records have shown no other
  trainer for ``solo_grace`` seconds (a whole round's matchmaking and averaging time), it steps
  alone as before, and a peer that joins later is behind and downloads its state. At most
  `MAX_HELD_ROUNDS` rounds in a row are held, so no peer stalls on a view that stays empty.
- But the others may have been there unseen (starting up): they then close their first round
  together, the epoch counters agree, and the lone peer's outer weights stayed its own for good (a
  test_attacks run). So a peer that stepped alone (``stepped_alone``: nobody in view, or the only
  sender of its round) compares, after its next shared round, the outer-weight signature it
  declared with the swarm's as the round's declarations show it (`trainer.training.outer_signature`);
  if they differ, its weights are apart (the path below: it downloads the aux peer's copy before
  its next round).
- A round hivemind gives up on (cancelled as alone, or timed out) can still be running in the
  averager's process and write its result into the host buffers later, over the next round's
  pseudo-gradient (a lost round, seen in a clean-clone run). `SwarmOptimizer._settle` waits until
  such a round has ended before anything else touches the buffers, so no round outlives its step.

Gradient mode: a round that failed after its step triggered it.

- hivemind's ``GradientAverager.step`` loads the accumulated gradients into the host buffers and
  resets the accumulators when it triggers a round. If the round then fails (the wait for it timed
  out, or it found no group: the peer came to matchmaking after the aux peer's group for that epoch
  had formed), hivemind's fallback "Proceeding with local gradients" reloads the accumulators, now
  empty, and divides by zero accumulations as zero: the buffers become zeros and AdamW steps on
  momentum alone (measured on loopback: every such fallback loaded a zero gradient). The peer's
  work was thrown away and its weights left the swarm's. `SwarmOptimizer` steps with the buffers
  instead: what the peer sent, or the round's result if it ended after the wait gave up.
- Either way the peer's weights are then apart from the swarm's, and it stays at the swarm's
  epoch, so no epoch rule makes it download state; parameter averaging never runs with robust
  aggregation (`TrainConfig.state_averaging_period`), so its later, honest gradients were measured
  at other weights for good. In a clean-clone run (test_attacks, weight-gradient) two honest peers
  whose rounds of epochs 1-4 failed (momentum-only steps: loss stuck at 6.70 against 6.39) sent
  norms 3.1 and 2.9 at epoch 5 against 0.69 and 1.02 from the peers in step, and one was dropped by
  the norm screen (`trainer.training.robust`); a DiLoCo peer ended 2 nats worse on held-out data.

A robust sender whose round went on without it rejoins the swarm's state (both modes):

- The peer knows when it happened, where the epoch counters cannot tell: hivemind is about to
  apply an update of the peer's own (its round failed or timed out, found its pre-scheduled round
  already used, or found no group because the aux peer's group had closed) while the swarm's
  records show other trainers (`_note_local_step`). It then sets ``weights_apart`` and stops
  sharing its state, so the aux peer's next copy cannot be these weights, and the training loop
  downloads state right after that step, before its next round (`trainer.training.train_loop`: the
  loop and not `_should_load_state_from_peers`, which hivemind asks only inside the next `step`, in
  DiLoCo at the end of a whole round trained on the apart weights; the loop also knows the round's
  samples, which it drops uncredited with the weights they trained, as a late peer's).
- The download waits (bounded by ``load_state_timeout``) until the aux peer declares a copy at the
  peer's epoch or later (`trainer.training.vouched_state.served_epoch`): the peer already counted
  the missed epoch, hivemind refuses a state behind it, and the aux peer's copy of that epoch is the
  state of a donor that was in step after the round the peer missed (the aux peer refreshes its
  copy when the swarm's epoch moves, and again while the copy is behind it:
  `trainer.training.aux_peer.VouchedCopies`). So the peer's epoch never goes down, and it installs
  the swarm's weights and optimizer statistics (DiLoCo: outer weights and outer momentum, equal bit
  for bit without compression: tests/trainer/test_diloco_resync.py). If no such copy comes in time
  it goes on with its own weights, as before, and logs it; either way it shares its state again.
- A round held (DiLoCo, nobody in view) or stepped by a peer really alone moved no one else's
  weights: no download. "In view" counts every live record whatever its epoch
  (`QuorumProgressTracker`). The strict quorum guard ignores a partner an epoch ahead in a pool of
  two for the epoch; when the view was counted after the guard too, the peer left behind saw
  itself alone, skipped its round and was not flagged (the late peer of the `hub demo --attacker
  liar` run in tests/bridge/data/demo_liar_ci21; on loopback DHTs it read one peer in view:
  tests/trainer/test_view_quorum.py). Nor without robust aggregation, where parameter averaging
  pulls peers together. A gradient-mode round whose failure shows only in the
  background (``delay_updates``) is caught after the step that sees it; its epoch was already
  credited.

Gradients in fp32, whatever the weights' dtype (`Fp32GradientAverager`, `PseudoGradientAverager`):

- gradient mode: a 16-bit parameter gets an fp32 ``.grad`` (torch's ``grad_dtype``), so autograd
  adds every micro-batch's gradient into fp32 (hundreds of micro-batches would lose most of their
  bits in a 16-bit sum), and hivemind's host buffers are fp32: the offloaded optimizer's fp32
  master weights can take them as their ``.grad`` (torch refuses a 16-bit gradient there, which
  crashed ``full`` + offload with 16-bit weights at the first step).
- DiLoCo: the pseudo-gradient is written straight into the fp32 host buffer that hivemind
  all-reduces (`SwarmOptimizer.diloco_step`); the device holds no gradient accumulator and no
  full-size temporary for it.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
import signal
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import hivemind
import torch
from hivemind.compression import (
    CompressionBase,
    Float16Compression,
    NoCompression,
    SizeAdaptiveCompression,
    Uniform8BitQuantization,
)
from hivemind.optim.grad_averager import GradientAverager
from hivemind.optim.progress_tracker import GlobalTrainingProgress, ProgressTracker
from hivemind.optim.state_averager import TrainingStateAverager

from trainer.errors import SwarmError
from trainer.training.averager_shutdown import GroupShutdownMixin
from trainer.training.config import TrainConfig
from trainer.training.identity import PeerIdentity
from trainer.training.progress import make_validators
from trainer.training.reducer import declared_epoch

if TYPE_CHECKING:
    from trainer.training.reducer import Admission, ReducerSpec

log = logging.getLogger(__name__)

# hivemind replays LR schedulers to a downloaded epoch before any optimizer step; that is intended.
warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler.step\(\)` before")

# Tensors smaller than this are sent in fp16 even under 8-bit quantization (norms, biases).
SMALL_TENSOR = 2**16

# DiLoCo: rounds in a row whose outer step a peer holds because they found no group (see above).
MAX_HELD_ROUNDS = 3


class _HeldRound(Exception):
    """Raised inside hivemind's epoch update when a DiLoCo round found no group and is held."""


def make_compression(name: str) -> CompressionBase:
    """'none', 'fp16', or 'uint8' (8-bit uniform quantization for large tensors, fp16 for small)."""
    if name == "none":
        return NoCompression()
    if name == "fp16":
        return Float16Compression()
    if name == "uint8":
        return SizeAdaptiveCompression(
            threshold=SMALL_TENSOR, less=Float16Compression(), greater_equal=Uniform8BitQuantization()
        )
    raise ValueError(f"unknown compression {name!r}")


@contextlib.contextmanager
def keeping_sigint() -> Iterator[None]:
    """Start hivemind averagers inside this: each one sets SIGINT to "ignore" in the calling process
    before forking its own (hivemind 1.1.12, `DecentralizedAverager.run_in_background`) and never
    puts it back, so Ctrl+C would do nothing, here and in every process started afterwards (they
    inherit it). Puts back the handler that was there (only the main thread can)."""
    saved = signal.getsignal(signal.SIGINT) if threading.current_thread() is threading.main_thread() else None
    try:
        yield
    finally:
        if saved is not None:
            signal.signal(signal.SIGINT, saved)


def build_dht(config: TrainConfig, identity: PeerIdentity, *, client_mode: bool | None = None) -> hivemind.DHT:
    """Start this peer's DHT node with its persistent identity and the progress-record validators."""
    mode = config.client_mode if client_mode is None else client_mode
    kwargs: dict[str, Any] = dict(
        initial_peers=config.initial_peers or None,
        host_maddrs=config.host_maddrs,
        client_mode=mode,
        identity_path=str(identity.path),
        record_validators=make_validators(config.run_id),
        start=True,
    )
    if config.announce_maddrs:
        kwargs["announce_maddrs"] = config.announce_maddrs
    deadline = time.monotonic() + config.bootstrap_timeout
    delay = 1.0
    while True:
        try:
            dht = hivemind.DHT(**kwargs)
            break
        except Exception as exc:
            first = next((line for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
            unreachable = "failed to connect to bootstrap peers" in str(exc)
            if unreachable and time.monotonic() + delay < deadline:
                log.warning("bootstrap peers unreachable, retrying in %.0fs", delay)
                time.sleep(delay)
                delay = min(2 * delay, 8.0)
                continue
            hint = "check --initial-peers (copy them from the first peer's output)" if config.initial_peers else None
            raise SwarmError(f"could not start the hivemind DHT: {first.strip()[:200]}", hint) from None
    if dht.peer_id.to_base58() != identity.peer_id:
        raise SwarmError(f"DHT peer id {dht.peer_id} does not match identity {identity.peer_id}")
    return dht


def visible_maddrs(dht: hivemind.DHT) -> list[str]:
    return [str(addr) for addr in dht.get_visible_maddrs()]


HALF_DTYPES = (torch.float16, torch.bfloat16)


def use_fp32_gradients(params: Iterable[torch.nn.Parameter]) -> None:
    """Give every 16-bit parameter an fp32 gradient that autograd accumulates into (``grad_dtype``)."""
    for param in params:
        if param.dtype in HALF_DTYPES:
            param.grad_dtype = torch.float32
            grad = param.grad
            param.grad = torch.zeros(param.shape, dtype=torch.float32, device=param.device)
            if grad is not None:
                param.grad.copy_(grad)


class Fp32GradientAverager(GroupShutdownMixin, GradientAverager):
    """hivemind's gradient averager with fp32 host buffers and, when it keeps its own accumulators
    (``reuse_grad_buffers`` off), fp32 accumulators: 16-bit parameters never mean 16-bit sums."""

    def __init__(self, parameters: Iterable[torch.nn.Parameter], **kwargs: Any) -> None:
        parameters = tuple(parameters)
        use_fp32_gradients(parameters)
        host = tuple(torch.zeros(p.shape, dtype=torch.float32).share_memory_() for p in parameters)
        super().__init__(parameters, averaged_grads=host, **kwargs)
        if self._local_accumulators is not None:
            self._local_accumulators = tuple(acc.float() for acc in self._local_accumulators)


class PseudoGradientAverager(GroupShutdownMixin, GradientAverager):
    """DiLoCo's averager: fp32 host buffers that `write_pseudo_gradients` fills straight from the
    local and outer weights; it keeps nothing on the device (hivemind's own averager would keep a
    full-size accumulator there, 4 bytes per parameter, and the caller two more temporaries).

    A caller that sets ``param.grad`` to the pseudo-gradient and calls ``step`` (the older loop)
    still works: while any parameter has a gradient, the buffers are loaded from the gradients.
    """

    def __init__(self, parameters: Iterable[torch.nn.Parameter], **kwargs: Any) -> None:
        parameters = tuple(parameters)
        self._host = tuple(torch.zeros(p.shape, dtype=torch.float32).share_memory_() for p in parameters)
        self._written = False
        kwargs.update(reuse_grad_buffers=True, averaged_grads=self._host)
        kwargs.pop("accumulate_grads_on", None)
        super().__init__(parameters, **kwargs)

    def _grads_from_parameters(self) -> Iterator[torch.Tensor]:
        # the base class sizes its buffers from these; never allocate device gradients for it
        yield from self._host

    @torch.no_grad()
    def write_pseudo_gradients(self, local: Iterable[torch.Tensor], outer: Iterable[torch.Tensor]) -> None:
        """buffer = outer - local, computed in host memory, one tensor at a time."""
        self._written = True
        with self.get_tensors() as buffers:
            for buffer, weight, anchor in zip(buffers, local, outer, strict=True):
                buffer.copy_(weight.detach())
                torch.sub(anchor, buffer, out=buffer)

    @torch.no_grad()
    def load_accumulators_into_averager_(self) -> None:
        # hivemind calls this once or twice per round; the buffers already hold what
        # `write_pseudo_gradients` put there. Overlapped DiLoCo calls it from a background thread
        # (a round that failed falls back to "local gradients") while the next round's backward
        # passes fill .grad: those inner gradients must never replace the pseudo-gradient.
        if self._written or all(param.grad is None for param in self.parameters):
            return
        with self.get_tensors() as buffers:
            for param, buffer in zip(self.parameters, buffers, strict=True):
                if param.grad is None:
                    buffer.zero_()
                else:
                    buffer.copy_(param.grad)

    @torch.no_grad()
    def reset_accumulated_grads_(self) -> None:
        # the buffers are what is about to be all-reduced: only the counters start over
        self._accumulators_used_in_step = False
        self.local_samples_accumulated = self.local_times_accumulated = 0
        self._anchor_batch_size = None


class StaleOuterBase:
    """Overlapped DiLoCo's bookkeeping: what the local weights' unsent inner progress is measured from.

    ``base`` (fp32, host) is the point the local weights left with the inner steps not yet in any
    pseudo-gradient: local = base + progress. At a round's end the pseudo-gradient is
    ``base - local`` (all the round's progress) and ``base`` becomes the local weights
    (`round_end_`): the next round continues from them, nothing is reset. When the outer weights
    change in the background (an outer step landed, or a parameter averaging round), `land_` moves
    the local weights by as much as the outer weights moved past ``base``, keeping the progress:
    local = outer + progress, and ``base`` = outer again. Synchronous DiLoCo is the special case
    in which an update lands before the next inner step (local = outer, progress 0).

    It offers ``param_groups`` and ``state`` so that `trainer.training.guards.ModelGuard` restores
    it with the weights, as it restores an optimizer's copies (a restored model measured against a
    non-finite base would send a non-finite pseudo-gradient next round).
    """

    def __init__(self, outer: Iterable[torch.Tensor]) -> None:
        self.base = [tensor.detach().to("cpu", torch.float32, copy=True) for tensor in outer]
        self.landings = 0
        self.state: dict[Any, Any] = {}

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        return [{"params": self.base}]

    @torch.no_grad()
    def round_end_(self, local: Iterable[torch.Tensor]) -> None:
        """The pseudo-gradient ``base - local`` was just sent: measure progress from here on."""
        for saved, weight in zip(self.base, local, strict=True):
            saved.copy_(weight.detach())

    @torch.no_grad()
    def land_(self, local: Iterable[torch.Tensor], outer: Iterable[torch.Tensor]) -> None:
        """local += outer - base; base = outer. Reads each outer tensor once, so an averaging round
        still writing into it moves local and base alike (the rest lands with the next call)."""
        for saved, weight, anchor in zip(self.base, local, outer, strict=True):
            delta = anchor.detach().to("cpu", torch.float32) - saved
            weight.add_(delta.to(weight.device, weight.dtype))
            saved.add_(delta)
        self.landings += 1

    @torch.no_grad()
    def reset_(self, local: Iterable[torch.Tensor], outer: Iterable[torch.Tensor]) -> None:
        """local = base = outer (after a state download: local progress is discarded)."""
        for saved, weight, anchor in zip(self.base, local, outer, strict=True):
            saved.copy_(anchor.detach())
            weight.copy_(anchor.detach())


# hivemind names RPC handlers after the class: these keep its name, so every peer speaks the same
# protocol (`GroupShutdownMixin`: no traceback from a peer that stops while a round is forming)
StateAverager = type("TrainingStateAverager", (GroupShutdownMixin, TrainingStateAverager), {})


class _MergingStateAverager(StateAverager):  # type: ignore[misc,valid-type]
    """hivemind's state averager, but in overlapped DiLoCo a finished background update is merged
    into the model (`StaleOuterBase.land_`) instead of overwriting the inner steps taken meanwhile."""

    outer_base: StaleOuterBase | None = None

    @torch.no_grad()
    def _apply_optimizer_parameters_(self) -> None:
        if self.outer_base is None:
            super()._apply_optimizer_parameters_()
            return
        outer = [param for group in self.optimizer.param_groups for param in group["params"]]
        self.outer_base.land_(self.main_parameters, outer)


MergingStateAverager = type("TrainingStateAverager", (_MergingStateAverager,), {})


class QuorumProgressTracker(ProgressTracker):
    """hivemind's progress tracker, but the swarm's epoch needs a quorum (`guards.quorum_epoch`):
    records above the highest epoch ``epoch_quorum`` peers reach are ignored, so one peer reporting
    an inflated epoch makes nobody download state or jump epochs.

    ``num_peers`` alone is taken from every record (`guards.in_view`), not only the kept ones:
    hivemind reads it as "are other trainers there?" (skip the pre-scheduled round as alone, no
    state averaging), and so does `SwarmOptimizer` (the DiLoCo hold, ``weights_apart``). Computing
    it here rather than in `guards.filter_progress` leaves hivemind's epoch, samples and round-end
    estimate to the kept records only, exactly as guarded as before."""

    def __init__(self, *args: Any, epoch_quorum: int = 2, strict: bool = False, **kwargs: Any) -> None:
        self.epoch_quorum, self.strict = epoch_quorum, strict  # before hivemind starts the thread that reads them
        self.ignored_records = 0
        super().__init__(*args, **kwargs)

    def _parse_swarm_progress_data(self, metadata: Any) -> GlobalTrainingProgress:
        from trainer.training.guards import filter_progress, in_view

        if not isinstance(metadata, dict) or not metadata:
            return super()._parse_swarm_progress_data(metadata)
        own = (self._local_public_key, self.local_progress.epoch)
        kept, _bound = filter_progress(metadata, self.epoch_quorum, own, self.strict)
        self.ignored_records += len(metadata) - len(kept)
        progress = super()._parse_swarm_progress_data(kept)
        progress.num_peers = in_view(metadata)
        return progress


class SwarmOptimizer(hivemind.Optimizer):
    """`hivemind.Optimizer` with bounded state downloads and a counter of them.

    :param load_state_attempts: how many times to try downloading state before giving up.
    :param lenient_sync: if True (DiLoCo mode) the optimizer itself only re-synchronises peers
      that are two or more epochs behind; the inner loop checks exact synchronisation at the start
      of every local round instead, so a round that ends just after another peer's transition is
      not thrown away.
    :param overlap: overlapped DiLoCo (needs hivemind's delayed optimizer step and gradient
      averaging): `diloco_step` returns while the outer step runs, `apply_landed_update` merges it.
    :param solo_grace: synchronous DiLoCo: hold the outer step of a round that found no group
      unless the swarm's records showed no other trainer for this many seconds (see the module
      docstring); None: never hold (hivemind's local step).
    """

    def __init__(
        self,
        *,
        load_state_attempts: int = 3,
        lenient_sync: bool = False,
        epoch_quorum: int = 2,
        robust: ReducerSpec | None = None,
        overlap: bool = False,
        solo_grace: float | None = None,
        **kwargs: Any,
    ) -> None:
        self.solo_grace = solo_grace
        self.held_rounds = 0
        """Rounds in a row whose outer step was held (their work is in the local weights)."""
        self.held_samples = 0
        self.rounds_held = 0
        """Every held round so far."""
        # since when the swarm's records have shown no trainer but this one; unset until the peer
        # first looks at the end of its first round, so a slow start (loading the model, waiting
        # for the swarm's view) is no time alone: a test_attacks run had a peer step its first
        # round alone, 8 s after its optimizer started, just before the others' first records
        self._alone_since: float | None = None
        self._in_diloco_step = False
        self._diloco_local: list[torch.nn.Parameter] | None = None
        self.weights_apart = False
        """A robust sender's last update went without the swarm's round while other trainers were in
        view: its weights are apart from the swarm's until its next state download (module docstring)."""
        self._withdrew_sharing = False
        self.stepped_alone = False
        """A robust synchronous DiLoCo sender applied an outer step alone (nobody in view, or the only
        sender of its round) and no shared round has shown its outer weights are the swarm's since
        (`_compare_outer_weights`)."""
        self._signature: tuple[tuple[int, int], list[float]] | None = None
        self._partial_rounds_seen = 0
        self._round_epoch: int | None = None
        self.miss_round_at_epoch: int | None = None
        """Fault injection (tests only): the round of this epoch goes on without this peer (`_miss_round`)."""
        self.load_state_attempts = load_state_attempts
        self.lenient_sync = lenient_sync
        self.epoch_quorum = epoch_quorum
        self.robust = robust
        self.overlap = overlap
        self.outer_base: StaleOuterBase | None = None
        self.state_downloads = 0
        self.failed_state_downloads = 0
        super().__init__(**kwargs)
        if robust is not None and robust.role == "sender" and lenient_sync and not overlap:
            self.grad_averager.outer_declaration = self._outer_declaration
        if overlap:
            assert self.delay_optimizer_step and self.delay_grad_averaging, "the outer step runs in the background"
            self.outer_base = StaleOuterBase(self._outer_parameters())
            self.state_averager.outer_base = self.outer_base

    def _update_global_epoch(self, grad_scaler: Any) -> None:
        self._round_epoch = None
        super()._update_global_epoch(grad_scaler)
        if self.auxiliary:
            self._end_at_round_epoch()

    def _end_at_round_epoch(self) -> None:
        """An aux peer ends a round it reduced at the epoch after the round's, not one past its own
        counter. hivemind's counter counts the rounds a peer joins, so the round an aux peer reduced
        for one sender and the others' round of the same epoch put it an epoch ahead of every
        trainer; hivemind then counted the trainers' samples toward an epoch none of them was in,
        and the aux peer entered its part of the next all-reduce only when its own estimate of the
        round's end ran out: seconds after the trainers' group formed, past their wait for the
        reducer (twice ``next_chunk_timeout``). Every trainer got none of its result back, hivemind
        called the round a success ("Averaged gradients"), and each stepped with its own
        pseudo-gradient (tests/trainer/test_diloco_resync.py, "only sender"). The round's epoch is
        the one most of its senders declared (`trainer.training.reducer.round_epoch`'s input),
        read from the round's own metadata, so it needs no progress record to be fresh."""
        epoch = self._round_epoch
        if epoch is None or self.local_epoch <= epoch + 1:
            return
        log.info(
            "the aux peer's epoch counter reached %d after a round of epoch %d (it reduced two rounds of one "
            "epoch): it goes on at epoch %d",
            self.local_epoch,
            epoch,
            epoch + 1,
        )
        tracker = self.tracker
        with tracker.pause_updates():
            self.state_averager.local_epoch = epoch + 1
            tracker.global_progress.epoch = epoch + 1
            tracker.report_local_progress(epoch + 1, 0)

    def _outer_parameters(self) -> list[torch.Tensor]:
        return [param for group in self.opt.param_groups for param in group["params"]]

    def _make_state_averager(self, **kwargs: Any) -> TrainingStateAverager:
        cls: Any = MergingStateAverager if self.overlap else StateAverager
        if self.robust is not None:
            # state only from donors the aux peer vouches for (trainer.training.vouched_state)
            from trainer.training.vouched_state import vouched_class

            cls = vouched_class(cls)
        # the arguments hivemind 1.1.12's Optimizer gives its state averager, with our class
        return cls(
            dht=self.dht,
            prefix=f"{self.run_id}_state_averager",
            min_matchmaking_time=self.matchmaking_time,
            allreduce_timeout=self.allreduce_timeout,
            shutdown_timeout=self.shutdown_timeout,
            offload_optimizer=self.offload_optimizer,
            custom_gradients=self.offload_optimizer,
            status_loglevel=self.status_loglevel,
            next_chunk_timeout=self.next_chunk_timeout,
            client_mode=self.client_mode,
            auxiliary=self.auxiliary,
            start=True,
            **kwargs,
        )

    @property
    def withheld_rounds(self) -> int:
        """Rounds this sender's averager sent with weight 0 (`RobustAveragerMixin`; 0 without one)."""
        return int(getattr(self.grad_averager, "withheld_rounds", 0))

    def weight_holders(self) -> list[Any]:
        """What keeps its own copy of the trainable weights (for `ModelGuard` to restore with them)."""
        return [self.opt] + ([self.outer_base] if self.outer_base is not None else [])

    def _make_progress_tracker(self, target_batch_size: int, **kwargs: Any) -> ProgressTracker:
        return QuorumProgressTracker(
            dht=self.dht,
            prefix=self.run_id,
            target_batch_size=target_batch_size,
            client_mode=self.client_mode,
            status_loglevel=self.status_loglevel,
            start=True,
            epoch_quorum=self.epoch_quorum,
            strict=self.robust is not None,
            **kwargs,
        )

    def _declare_epoch(self) -> None:
        # a robust round carries the epoch its senders declare (trainer.training.reducer); hivemind
        # hands a sender's averager its epoch only when the DHT is a full node (as the state-sharing
        # priority), so a trainer behind NAT (--client-mode) would declare none: declare it here
        if self.robust is not None and self.robust.role == "sender":
            self.robust.epoch.value = self.local_epoch

    def _maybe_schedule_gradient_averaging(self) -> None:
        if self.miss_round_at_epoch == self.local_epoch:
            return  # the injected fault: this peer comes to no matchmaking of this epoch's round
        self._declare_epoch()
        previous = self.scheduled_grads
        super()._maybe_schedule_gradient_averaging()
        # hivemind replaces a fired round without stopping it. With delayed averaging the fired
        # round is the one the background step still waits for: it is that step's to end
        if previous is not None and previous is not self.scheduled_grads and not self.delay_grad_averaging:
            self._settle(previous)

    def _note_swarm_view(self) -> None:
        """Track since when the swarm's records have shown no trainer but this one."""
        if self.tracker.global_progress.num_peers > 1:
            self._alone_since = None
        elif self._alone_since is None:
            self._alone_since = time.monotonic()

    def _may_hold(self) -> bool:
        """Whether a DiLoCo round that found no group holds its outer step (module docstring)."""
        if self.solo_grace is None or not self._in_diloco_step or self.held_rounds >= MAX_HELD_ROUNDS:
            return False
        self._note_swarm_view()
        # with other trainers in view the round failed or was missed: holding there left peers out
        # of phase with the aux peer's rounds (a test_attacks run: every round after one timeout
        # found no group), so that keeps hivemind's local step
        return self._alone_since is not None and time.monotonic() - self._alone_since < self.solo_grace

    def _settle(self, control: Any) -> None:
        """Wait until a round hivemind gave up on has ended in the averager's process.

        hivemind cancels a pre-scheduled round it skips ("no other peers") and leaves a timed-out
        or already-triggered one running; either can still run its all-reduce and write the result
        into the host buffers, over whatever was written there next. The averager marks a round
        FINISHED when its step ends (successful or not), after its last write.
        """
        from hivemind.averaging.control import AveragingStage

        if control is None:
            return
        if not control.done():
            control.cancel()
        deadline = time.monotonic() + self.matchmaking_time + self.averaging_timeout
        while control.stage != AveragingStage.FINISHED:
            if time.monotonic() >= deadline:
                log.warning("an abandoned averaging round has not ended; its result may overwrite the buffers")
                return
            time.sleep(0.01)

    def _begin_averaging_gradients(self, grad_scaler: Any) -> bool:
        self._declare_epoch()
        control = self.scheduled_grads
        try:
            if self.miss_round_at_epoch == self.local_epoch:
                began = self._miss_round()
            else:
                began = super()._begin_averaging_gradients(grad_scaler)
            if not began and self._may_hold():
                raise _HeldRound
        except _HeldRound:
            # hivemind's skip, without its local step
            self.scheduled_grads = None
            self._settle(control)
            raise
        if control is not None and control is not self.scheduled_grads:
            self._settle(control)  # skipped, or found already used: no round may outlive this step
        if not began:
            # hivemind steps with the local buffers now ("already used elsewhere", an error, alone)
            self._note_local_step()
        return began

    def _miss_round(self) -> bool:
        """Fault injection (``miss_round_at_epoch``, tests only): the round of this epoch goes on
        without this peer, as when it comes to matchmaking after the aux peer's group formed; it
        steps with its own update, as hivemind does when its round fails."""
        log.warning("fault injection: the averaging round of epoch %d goes on without this peer", self.local_epoch)
        self.scheduled_grads = None  # `_begin_averaging_gradients` settles one that was pre-scheduled
        return False

    def _note_local_step(self) -> None:
        """A robust sender is about to apply an update of its own (its round failed, was missed, or
        found none) while the swarm's records show other trainers: its weights are about to leave
        the swarm's, so it stops sharing its state (the aux peer must not copy them for the swarm)
        until the download that brings it back (`load_state_from_peers`)."""
        sender = self.robust is not None and self.robust.role == "sender"
        if not sender:
            return
        if self.tracker.global_progress.num_peers <= 1:
            # nobody in view: nobody's weights to be apart from, unless others were there unseen
            # (`_compare_outer_weights` asks at the next shared round)
            self.stepped_alone = self.stepped_alone or self._in_diloco_step
            return
        if not self.weights_apart:
            log.warning(
                "the averaging round of epoch %d went on without this peer while %d trainers are in view: "
                "its update is its own, so it downloads the aux peer's copy of the swarm's state next",
                self.local_epoch,
                self.tracker.global_progress.num_peers,
            )
        self._mark_apart()

    def _mark_apart(self) -> None:
        """Weights apart from the swarm's until the next state download; meanwhile no state shared."""
        self.weights_apart = True
        averager = self.state_averager
        if averager.allow_state_sharing:
            averager.allow_state_sharing = False
            self._withdrew_sharing = True

    def _average_gradients_and_load_into_optimizer(self, maybe_step_control: Any) -> None:
        try:
            super()._average_gradients_and_load_into_optimizer(maybe_step_control)
        finally:
            if maybe_step_control is not None and not (
                maybe_step_control.done() and not maybe_step_control.cancelled()
            ):
                self._settle(maybe_step_control)
        self._compare_outer_weights(maybe_step_control)
        self._note_partial_round()
        self._note_round_epoch(maybe_step_control)

    def _note_partial_round(self) -> None:
        """A robust sender's round in which the reducer answered some of its parts late or not at
        all (`ReducerSpec.partial_rounds`): hivemind kept this peer's own values for those parts and
        called the round a success, so its update was partly its own. A synchronous DiLoCo sender
        counts it as a step alone, so its next shared round shows whether its outer weights are
        the swarm's (`_compare_outer_weights`; if every sender's round was partial, exactly one
        keeps its weights, where marking all apart would leave nobody to serve a copy); any other
        sender's weights are apart until its next state download."""
        robust = self.robust
        if robust is None or robust.role != "sender":
            return
        count = int(robust.partial_rounds.value)
        if count == self._partial_rounds_seen:
            return
        self._partial_rounds_seen = count
        if self.grad_averager.outer_declaration is not None:
            log.warning(
                "the round of epoch %d returned part of this peer's update unaveraged: its next shared round "
                "checks its outer weights against the swarm's",
                self.local_epoch,
            )
            self.stepped_alone = True
            return
        log.warning(
            "the round of epoch %d returned part of this peer's update unaveraged: its weights are apart, "
            "so it downloads the aux peer's copy of the swarm's state next",
            self.local_epoch,
        )
        self._mark_apart()

    def _note_round_epoch(self, control: Any) -> None:
        """The epoch most senders of a round that ended declared (an aux peer ends the round there)."""
        if control is None or not control.done() or control.cancelled() or control.exception() is not None:
            return
        declared = Counter(epoch for epoch in map(declared_epoch, control.result().values()) if epoch is not None)
        if declared:
            # most common, ties to the lower epoch: a lagging sender must not move the aux peer ahead
            self._round_epoch = min(declared, key=lambda epoch: (-declared[epoch], epoch))

    def _outer_declaration(self) -> dict[str, Any]:
        """What this peer declares of its outer weights with each round: their signature
        (`outer_signature`, computed once per epoch and download: the outer weights change only at
        an outer step or a state download) and whether it stepped alone since it last matched."""
        from trainer.training.outer_signature import outer_signature

        key = (self.local_epoch, self.state_downloads)
        if self._signature is None or self._signature[0] != key:
            self._signature = (key, outer_signature(self._outer_parameters()))
        return {"outer": self._signature[1], "alone": self.stepped_alone}

    def _compare_outer_weights(self, control: Any) -> None:
        """After a round: one with no other sender was a step alone; after a shared one, a peer that
        stepped alone learns whether its outer weights are the swarm's
        (`trainer.training.outer_signature`; apart: it downloads the aux peer's copy next)."""
        if control is None or not control.done() or control.cancelled() or control.exception() is not None:
            return
        from trainer.training.outer_signature import declarations, judge_round

        own, others = declarations(control.result(), self.dht.peer_id)
        self.stepped_alone, apart = judge_round(self.stepped_alone, own, others)
        if apart:
            log.warning(
                "this peer stepped alone before the round of epoch %d and its outer weights differ from the "
                "swarm's (%d other senders declared theirs): it downloads the aux peer's copy next",
                self.local_epoch,
                len(others),
            )
            self._mark_apart()

    def _load_local_gradients_into_optimizer(self) -> None:
        # hivemind's fallback when a round found no group: a held DiLoCo round skips it
        if self._may_hold():
            raise _HeldRound
        self._note_local_step()
        if self.use_gradient_averaging and self.grad_averager.local_times_accumulated == 0:
            # the round was triggered and then failed (hivemind's wait for it timed out, or it found
            # no group): hivemind loaded the accumulators into the host buffers and reset them when
            # it triggered the round, so its own fallback would load zeros and step with momentum
            # alone (module docstring). The buffers hold what this peer sent, or the round's result
            # if it ended meanwhile (reading them waits for a round still running): step with that
            log.info("averaging round of epoch %d failed: stepping with what this peer sent", self.local_epoch)
            self._load_averaged_gradients_into_optimizer_()
            return
        super()._load_local_gradients_into_optimizer()

    def _load_averaged_gradients_into_optimizer_(self) -> None:
        # synchronous DiLoCo: the outer step is about to be applied, so the local weights go back to
        # the outer weights now (a parameter averaging round of this step reads the model's weights)
        # and not before the round: a held round keeps them as they are
        if self._diloco_local is not None:
            with torch.no_grad():
                for param, outer in zip(self._diloco_local, self._outer_parameters(), strict=True):
                    param.copy_(outer)
        super()._load_averaged_gradients_into_optimizer_()

    def prepare_averaging(self) -> None:
        """Pre-schedule the next gradient all-reduce if the swarm's epoch is about to end.

        `step` does this itself; DiLoCo's inner loop calls `step` only once per round, so it calls
        this after every inner step to overlap matchmaking with local compute.
        """
        if self.use_gradient_averaging and not self.auxiliary:
            self._note_swarm_view()
            self._maybe_schedule_gradient_averaging()

    def diloco_step(self, trainable: list[torch.nn.Parameter], samples: int) -> None:
        """DiLoCo's outer step: the pseudo-gradient (outer minus local weights) goes straight into the
        host buffers hivemind all-reduces, the local weights return to the outer weights, and
        hivemind averages and applies the outer Nesterov step (which moves the outer weights and
        copies them back into the model). Needs the `PseudoGradientAverager` of `build_optimizer`.

        A round that found no group may be held (module docstring): the local weights are left as
        they are, the epoch does not change, and ``samples`` count again in the next round's step.

        Overlapped: the previous round's outer step lands first (waiting for it if it is still in
        flight: at most one round of staleness), the pseudo-gradient is all the inner progress
        since then, and hivemind starts averaging it in the background; the local weights are
        left as they are."""
        if self.overlap:
            self._overlapped_diloco_step(trainable, samples)
            return
        anchor = self._outer_parameters()
        self.grad_averager.write_pseudo_gradients(trainable, anchor)
        self._in_diloco_step, self._diloco_local = True, trainable
        try:
            self.step(batch_size=samples + self.held_samples)
        except _HeldRound:
            self.held_rounds += 1
            self.rounds_held += 1
            self.held_samples += samples
            # the next round's step declares every held sample again
            self.grad_averager.reset_accumulated_grads_()
            self.grad_averager.notify_used_averaged_gradients()
            log.info(
                "averaging round of epoch %d found no group: outer step held, %d samples kept in the local weights",
                self.local_epoch,
                self.held_samples,
            )
            return
        finally:
            self._in_diloco_step, self._diloco_local = False, None
        self.held_rounds = self.held_samples = 0
        with torch.no_grad():
            for param, outer in zip(trainable, anchor, strict=True):
                param.copy_(outer)
                param.grad = None

    def _overlapped_diloco_step(self, trainable: list[torch.nn.Parameter], samples: int) -> None:
        base = self.outer_base
        assert base is not None
        self.state_averager.step(wait_for_delayed_updates=True)  # merges via StaleOuterBase.land_
        self.grad_averager.write_pseudo_gradients(trainable, base.base)
        epoch, downloads = self.local_epoch, self.state_downloads
        self.step(batch_size=samples)
        if self.local_epoch > epoch and self.state_downloads == downloads:
            # the pseudo-gradient is on its way: progress from now on is the next round's
            base.round_end_(trainable)

    def apply_landed_update(self, wait: bool = False) -> bool:
        """Overlapped DiLoCo: merge a background outer step (or parameter averaging) that has
        finished into the local weights; with ``wait``, wait for one in flight first. True when the
        weights moved. Otherwise a no-op returning False."""
        if self.outer_base is None:
            return False
        before = self.outer_base.landings
        self.state_averager.step(wait_for_delayed_updates=wait)
        return self.outer_base.landings != before

    def download_state_once(self) -> int | None:
        """One bounded state download regardless of epochs (the aux peer's checkpoint path).

        hivemind refuses state from a peer whose epoch is below ours; an auxiliary peer's epoch
        counter runs ahead of its (never averaged) weights, so it is lowered to 0 for the call and
        set to the donor's epoch on success. Returns that epoch, or None if nothing was loaded.
        """
        previous = self.state_averager.local_epoch
        self.state_averager.local_epoch = 0
        try:
            self.state_averager.load_state_from_peers(timeout=self.load_state_timeout)
        except Exception as exc:
            log.warning("state download failed: %r", exc)
        loaded = self.state_averager.local_epoch
        if loaded == 0:
            self.state_averager.local_epoch = previous
            return None
        self.state_averager.local_epoch = max(previous, loaded)
        return loaded

    def fetch_checked_state(self) -> int | None:
        """The aux peer with robust aggregation: download a checked state from an admitted donor
        (`trainer.training.vouched_state`) and install it into its weights and optimizer
        statistics; returns the state's epoch, or None if no donor served one that passed.

        Unlike `download_state_once` it leaves the aux peer's epoch counter alone (hivemind's
        install refuses a state behind it, and lowering it meanwhile would race the aux loop's own
        steps), so it may run in a thread beside the loop that reduces the swarm's rounds."""
        from hivemind.optim.state_averager import load_optimizer_state

        from trainer.training.vouched_state import VouchedDownloads

        averager: Any = self.state_averager
        state = VouchedDownloads.load_state_from_peers(averager, timeout=self.load_state_timeout)
        if state is None:
            return None
        metadata, tensors = state
        params = [param for group in averager.optimizer.param_groups for param in group["params"]]
        held = [*params, *averager.extra_tensors]
        with torch.no_grad(), averager.lock_averaged_tensors:
            try:
                load_optimizer_state(averager.optimizer, metadata["optimizer_metadata"], tensors[len(held) :])
            except (KeyError, StopIteration, ValueError, RuntimeError) as exc:
                log.warning("the downloaded state's optimizer statistics do not fit: %r", exc)
                return None
            for mine, loaded in zip(held, tensors[: len(held)], strict=True):
                mine.copy_(loaded)
        if averager.offload_optimizer:
            averager._apply_optimizer_parameters_()
        if not averager.reuse_tensors:
            averager._load_local_tensors_into_averager_()
        return int(metadata["epoch"])

    def serve_state(self, epoch: int) -> None:
        """The aux peer: serve the state just downloaded (and checked) to the swarm, labelled
        ``epoch`` (`trainer.training.vouched_state.ServedEpochMixin`)."""
        averager: Any = self.state_averager
        averager.vouched_epoch = epoch
        averager.serves_vouched = True
        # the declared epoch (what a resyncing trainer waits for) first: allowing sharing declares it
        averager.state_sharing_priority = epoch
        averager.allow_state_sharing = True

    def _should_load_state_from_peers(self) -> bool:
        if self.lenient_sync:
            return self.local_epoch < self.tracker.global_epoch - 1
        return super()._should_load_state_from_peers()

    def load_state_from_peers(self, **kwargs: Any) -> bool:
        """Download the newest state from peers; True when this peer caught up with the swarm.

        A robust sender whose weights are apart (``weights_apart``) first waits (bounded by the
        state timeout) until the aux peer serves a copy at its own epoch or later: hivemind refuses
        a state behind the peer's epoch, and the aux peer refreshes its copy as the swarm's epoch
        moves (`trainer.training.aux_peer.VouchedCopies`)."""
        apart_at = self.local_epoch if self.weights_apart else None
        if apart_at is not None:
            self._wait_for_vouched_copy(apart_at)
        self.state_downloads += 1
        self.held_rounds = self.held_samples = 0  # the download replaces the local weights, held work too
        if self.scheduled_grads is not None and not self.scheduled_grads.done():
            self._tag_along_with_zero_weight(self.scheduled_grads)
            self.scheduled_grads = None
        self.state_averager.step(wait_for_delayed_updates=True)

        caught_up = False
        with self.tracker.pause_updates():
            start_epoch = self.local_epoch
            for attempt in range(1, self.load_state_attempts + 1):
                try:
                    self.state_averager.load_state_from_peers(timeout=self.load_state_timeout, **kwargs)
                    if self.grad_averager is not None:
                        self.grad_averager.load_state_from_peers(timeout=self.load_state_timeout, **kwargs)
                except KeyboardInterrupt:
                    raise
                except BaseException as exc:
                    log.warning("state download attempt %d/%d failed: %r", attempt, self.load_state_attempts, exc)
                target = self.tracker.global_epoch
                if self.local_epoch >= target - 1:
                    caught_up = True
                    break
                if attempt < self.load_state_attempts:
                    time.sleep(min(2.0**attempt, 30.0))

            global_epoch = self.tracker.global_epoch
            if not caught_up:
                self.failed_state_downloads += 1
                log.warning(
                    "could not download state from peers after %d attempts; continuing with local weights "
                    "and moving from epoch %d to the swarm's epoch %d",
                    self.load_state_attempts,
                    start_epoch,
                    global_epoch,
                )
            if self.local_epoch < global_epoch:
                self.state_averager.local_epoch = global_epoch
            self.tracker.report_local_progress(local_epoch=self.local_epoch, samples_accumulated=0)
            if not self.client_mode:
                self.state_averager.state_sharing_priority = self.local_epoch
            if self.use_gradient_averaging:
                self.grad_averager.reset_accumulated_grads_()
                if not self.client_mode:
                    self.grad_averager.state_sharing_priority = self.local_epoch
        if self.outer_base is not None:
            # as synchronous DiLoCo after a download: the swarm's weights, no local progress
            self.outer_base.reset_(self.state_averager.main_parameters, self._outer_parameters())
        if apart_at is not None:
            self._rejoin_swarm(apart_at)
        elif caught_up:
            self.stepped_alone = False  # the swarm's state replaced the weights it stepped alone
        return caught_up

    def _wait_for_vouched_copy(self, epoch: int) -> None:
        """Wait until the trusted reducers declare a copy at ``epoch`` or later (bounded)."""
        from trainer.training.vouched_state import served_epoch

        assert self.robust is not None
        prefix, donors = self.state_averager.prefix, self.robust.reducers
        deadline = time.monotonic() + self.load_state_timeout
        while (served_epoch(self.dht, prefix, donors) or -1) < epoch:
            if time.monotonic() >= deadline:
                log.warning("the aux peer serves no copy at epoch %d after %.0fs", epoch, self.load_state_timeout)
                return
            time.sleep(0.25)

    def _rejoin_swarm(self, epoch: int) -> None:
        """After the download of a peer whose weights were apart: it shares its state again; without
        a copy at ``epoch`` it goes on with its own weights, as before this rule (and says so)."""
        attempts = getattr(self.state_averager, "last_attempts", ())
        if any(check.verdict == "ok" and check.epoch >= epoch for check in attempts):
            log.info("installed the aux peer's copy of the swarm's state at epoch %d", self.local_epoch)
            self.stepped_alone = False
        else:
            log.warning(
                "no copy of the swarm's state at epoch %d arrived: going on with this peer's own weights", epoch
            )
        self.weights_apart = False
        if self._withdrew_sharing:
            self.state_averager.allow_state_sharing = True
            self._withdrew_sharing = False

    def refresh_served_copy(self) -> int | None:
        """The aux peer with robust aggregation: download a checked copy (`fetch_checked_state`),
        serve it, and make its held-out loss the best so far; returns its epoch, or None."""
        loaded = self.fetch_checked_state()
        if loaded is None:
            return None
        self.serve_state(loaded)
        averager: Any = self.state_averager
        if averager.state_scorer is not None and averager.offered_loss is not None:
            averager.state_scorer.accept(averager.offered_loss)
        return loaded


class ClippedAdamW(torch.optim.AdamW):
    """AdamW that clips the gradient norm of its own parameters first.

    Inside hivemind the optimizer sees the *averaged* gradient, so this clips the collaborative
    update rather than each peer's micro-batch.
    """

    def __init__(self, params: Iterable[Any], *, max_grad_norm: float, **kwargs: Any) -> None:
        super().__init__(params, **kwargs)
        self.max_grad_norm = max_grad_norm

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:  # type: ignore[override]
        if self.max_grad_norm > 0:
            params = [p for group in self.param_groups for p in group["params"] if p.grad is not None]
            if params:
                torch.nn.utils.clip_grad_norm_(params, self.max_grad_norm)
        return super().step(closure)


def warmup_then_linear(warmup_steps: int, total_steps: int) -> Callable[[int], float]:
    """LR multiplier: linear warm-up to 1, then linear decay to 10% at ``total_steps``."""

    def schedule(step: int) -> float:
        if warmup_steps and step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        return 1.0 - 0.9 * progress

    return schedule


def make_adamw(config: TrainConfig, params: Iterable[Any]) -> ClippedAdamW:
    return ClippedAdamW(
        params,
        lr=config.lr,
        betas=(config.adam_beta1, config.adam_beta2),
        weight_decay=config.weight_decay,
        max_grad_norm=config.max_grad_norm,
    )


def build_optimizer(
    config: TrainConfig,
    dht: hivemind.DHT,
    params: list[torch.nn.Parameter],
    *,
    auxiliary: bool = False,
    offload: bool = False,
    reuse_grad_buffers: bool = False,
    admission: Admission | None = None,
) -> SwarmOptimizer:
    """The collaborative optimizer for ``params`` (the trainable parameters only).

    With ``config.robust_aggregation`` a trainer's gradient averager only sends and the aux peer's
    reduces robustly (`trainer.training.reducer`); ``admission`` is the aux peer's allow-list.
    ``TRAINER_ATTACK`` (tests only) makes a trainer attack (`trainer.training.attacks`).

    gradient mode: AdamW (with clipping and warm-up/decay per collaborative epoch) over averaged
    gradients; ``offload`` keeps its fp32 state in host RAM, and with ``config.delay_updates`` the
    all-reduce and the step run in the background during the next epoch. diloco mode: outer SGD with Nesterov
    momentum at ``outer_lr``, always offloaded (the host copy is the DiLoCo anchor); with
    ``config.delay_updates`` the outer step overlaps the next round (`SwarmOptimizer.diloco_step`).
    """
    diloco = config.averaging == "diloco"
    overlap = diloco and config.delay_updates and not auxiliary
    config.resolve_timeouts(sum(param.numel() for param in params))  # a no-op after plan_run
    compression = make_compression(config.compression)
    # hivemind warns (deadlock risk) unless a request times out before matchmaking ends
    averager_opts: dict[str, Any] = {"request_timeout": min(3.0, config.matchmaking_time / 2)}
    if config.bandwidth_mbps:
        averager_opts["bandwidth"] = config.bandwidth_mbps
    if diloco:

        def optimizer_factory(opt_params: Any) -> torch.optim.Optimizer:
            return torch.optim.SGD(opt_params, lr=config.outer_lr, momentum=config.outer_momentum, nesterov=True)

        scheduler_factory = None
        offload = True
    else:

        def optimizer_factory(opt_params: Any) -> torch.optim.Optimizer:
            return make_adamw(config, opt_params)

        def scheduler_factory(opt: torch.optim.Optimizer) -> torch.optim.lr_scheduler.LRScheduler:
            return torch.optim.lr_scheduler.LambdaLR(opt, warmup_then_linear(config.warmup_steps, config.total_steps))

    from trainer.training.attacks import attack_from_env, attack_optimizer, attacking_averager

    attack = None if auxiliary else attack_from_env()
    grad_averager: Any = PseudoGradientAverager if diloco else Fp32GradientAverager
    robust = None
    if config.robust_aggregation:
        from trainer.training.reducer import ReducerSpec, RobustAveragerMixin
        from trainer.training.robust import RobustConfig

        robust = ReducerSpec(
            role="reducer" if auxiliary else "sender",
            # a round closes once the swarm's samples reach the target, so no honest peer brings more
            # than the target plus its last micro-batches: twice the target holds a sender alone in a
            # round (the median cap has nobody to compare it with) to what it could have done
            config=RobustConfig(max_samples_per_peer=2.0 * config.target_batch_size, norm_per_sample=diloco),
            reducers=frozenset(config.trusted_reducers) or None,
            admission=admission,
            log_path=str(config.observations_file) if auxiliary and config.observations_file else None,
            mode=config.averaging,
        )
        # hivemind names its RPC protocols after the averager's class: keep the base's name, so
        # every peer of the run speaks the same protocol whatever mixins it has
        robust_class = type(grad_averager.__name__, (RobustAveragerMixin, grad_averager), {})
        # an attacker corrupts what the honest code would send, after the sender's own check (which
        # would otherwise withhold the corrupted contribution: a real attacker skips it)
        grad_averager = functools.partial(attacking_averager(robust_class, attack), robust=robust)
    else:
        grad_averager = attacking_averager(grad_averager, attack)

    with keeping_sigint():
        opt = SwarmOptimizer(
            grad_averager_factory=grad_averager,
            load_state_attempts=config.load_state_attempts,
            lenient_sync=diloco,
            epoch_quorum=config.epoch_quorum,
            robust=robust,
            overlap=overlap,
            # synchronous DiLoCo holds a round that found no group unless alone for a whole round's time
            solo_grace=config.matchmaking_time + config.averaging_timeout
            if diloco and not overlap and not auxiliary
            else None,
            dht=dht,
            run_id=config.run_id,
            target_batch_size=config.target_batch_size,
            batch_size_per_step=None if auxiliary else config.batch_size,
            optimizer=optimizer_factory,
            params=params,
            scheduler=scheduler_factory,
            matchmaking_time=config.matchmaking_time,
            averaging_timeout=config.averaging_timeout,
            load_state_timeout=config.load_state_timeout,
            offload_optimizer=offload,
            delay_optimizer_step=config.delay_updates and offload and (overlap or not diloco),
            delay_grad_averaging=config.delay_updates and offload and (overlap or not diloco),
            reuse_grad_buffers=reuse_grad_buffers and not diloco,
            # hivemind delays parameter averaging whenever it delays the step; synchronous DiLoCo
            # averages parameters in place, since a late copy would overwrite the next round's steps
            delay_state_averaging=not diloco or overlap,
            average_state_every=config.state_averaging_period,
            auxiliary=auxiliary,
            client_mode=dht.client_mode,  # hivemind 1.1.12 ignores this and copies the DHT's mode (if not None)
            grad_compression=compression,
            state_averaging_compression=compression,
            averager_opts=averager_opts,
            tracker_opts=dict(metadata_expiration=config.metadata_expiration, min_refresh_period=0.25),
            verbose=True,
        )
    if opt.client_mode != dht.client_mode:  # the 1.1.12 pitfall this module exists to avoid
        opt.shutdown()
        raise SwarmError(f"optimizer client_mode={opt.client_mode} differs from the DHT's {dht.client_mode}")
    if robust is not None:
        _vouch_state_downloads(opt, config, robust)
    attack_optimizer(opt, attack)
    return opt


def _vouch_state_downloads(opt: SwarmOptimizer, config: TrainConfig, robust: ReducerSpec) -> None:
    """Who a robust peer downloads state from (`trainer.training.vouched_state`): a trainer only
    from the aux peers (the trusted reducers); the aux peer from the admitted donors, in rotation,
    recording every attempt as evidence, and only state whose epoch lies between its last copy and
    two past the swarm's."""
    from trainer.training.vouched_state import STATE_CHECKS_FILE, StateCheckLog

    averager: Any = opt.state_averager
    if robust.role == "sender":
        if robust.reducers is not None:
            reducers = frozenset(robust.reducers)
            averager.state_donors = lambda: reducers
        return
    admission = robust.admission
    averager.state_donors = lambda: admission.admitted() if admission is not None else None

    def bounds() -> tuple[int, int]:
        swarm = max(opt.tracker.global_epoch, opt.local_epoch)
        return (averager.vouched_epoch or 0, swarm + 2)

    averager.state_bounds = bounds
    if config.observations_file is not None:
        averager.state_checks = StateCheckLog(config.observations_file.with_name(STATE_CHECKS_FILE))


@dataclass
class SwarmEvents:
    """What hivemind's status messages say about averaging rounds (it exposes no API for it)."""

    last_group_size: int = 0
    rounds_averaged: int = 0
    rounds_local_only: int = 0
    group_sizes: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _HivemindStatusHandler(logging.Handler):
    _averaged = re.compile(r"Averaged gradients with (\d+) peers")
    _local = re.compile(r"Proceeding with local gradients|Averaging gradients failed|Skipped averaging")

    def __init__(self, events: SwarmEvents) -> None:
        super().__init__(level=logging.DEBUG)
        self.events = events

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:
            return
        match = self._averaged.search(message)
        with self.events.lock:
            if match:
                size = int(match.group(1))
                self.events.last_group_size = size
                self.events.rounds_averaged += 1
                self.events.group_sizes.append(size)
            elif self._local.search(message):
                self.events.last_group_size = 1
                self.events.rounds_local_only += 1


class LocalOnlyWatch:
    """Warn, then stop, when most averaging rounds of a swarm with company end local-only.

    hivemind proceeds with local gradients when a round fails (timeouts too short for the model and
    the bandwidth, unreachable peers): the peer keeps training, and claiming work, while the swarm
    does not learn together. Over the last `window` epochs in which the swarm had two or more
    trainers, if more than half were averaged by this peer alone (group size 1), it warns once with
    the fix; if that is still so `window` epochs later, it sets `stop`. Epochs with an unknown group
    size, or alone in the swarm, do not count. Feed it every `EpochReport` (``on_epoch``).
    """

    def __init__(self, stop: threading.Event, window: int = 10) -> None:
        self.stop, self.window = stop, window
        self.outcomes: list[bool] = []  # True: averaged with others
        self.warned_at: int | None = None

    def record(self, report: Any) -> None:
        if report.num_peers < 2 or report.group_size == 0:
            return
        self.outcomes.append(report.group_size >= 2)
        recent = self.outcomes[-self.window :]
        if len(recent) < self.window or sum(recent) * 2 >= len(recent):
            self.warned_at = None
            return
        local = len(recent) - sum(recent)
        if self.warned_at is None:
            self.warned_at = len(self.outcomes)
            log.warning(
                "%d of the last %d averaging rounds ended with local gradients only although %d peers train: "
                "the swarm is not learning together. Fix: raise --averaging-timeout and --matchmaking-time "
                "(`trainer doctor` shows what the model needs), check that peers reach each other's ports",
                local,
                len(recent),
                report.num_peers,
            )
        elif len(self.outcomes) - self.warned_at >= self.window and not self.stop.is_set():
            log.error("stopping: averaging still fails (%d of the last %d rounds local-only)", local, len(recent))
            self.stop.set()


def capture_hivemind_logs(log_file: str | None, terminal_level: int | None = None) -> SwarmEvents:
    """Route hivemind's logs: everything to ``log_file`` (if given), averaging outcomes into the
    returned `SwarmEvents`, and to the terminal only at ``terminal_level`` or above.

    hivemind logs routine events as errors with tracebacks (a round that found no group, a peer that
    left), which would bury the trainer's own lines; by default the terminal gets only CRITICAL,
    or the level named by ``$TRAINER_HIVEMIND_LOGLEVEL`` (e.g. WARNING).
    """
    import os

    if terminal_level is None:
        terminal_level = logging.getLevelName(os.environ.get("TRAINER_HIVEMIND_LOGLEVEL", "CRITICAL").upper())
        if not isinstance(terminal_level, int):
            terminal_level = logging.CRITICAL
    from hivemind.utils.logging import use_hivemind_log_handler

    use_hivemind_log_handler("nowhere")
    events = SwarmEvents()
    root = logging.getLogger("hivemind")
    root.setLevel(logging.INFO)
    root.propagate = False
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(_HivemindStatusHandler(events))
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    terminal = logging.StreamHandler()
    terminal.setLevel(terminal_level)
    terminal.setFormatter(formatter)
    root.addHandler(terminal)
    to_file = None
    if log_file:
        to_file = logging.FileHandler(log_file)
        to_file.setLevel(logging.INFO)
        to_file.setFormatter(formatter)
        root.addHandler(to_file)
    # asyncio reports hivemind's cancelled rounds and closed loops on its own logger
    aio = logging.getLogger("asyncio")
    aio.propagate = False
    for handler in list(aio.handlers):
        aio.removeHandler(handler)
    aio.addHandler(terminal)
    if to_file is not None:
        aio.addHandler(to_file)
    return events


def run_settings_key(run_id: str) -> str:
    return f"{run_id}_run_settings"


def read_run_settings(dht: hivemind.DHT, run_id: str, timeout: float = 15.0) -> dict[str, Any] | None:
    """The shared settings a run's first peer published, or None (bounded wait)."""
    try:
        found = dht.get(run_settings_key(run_id), latest=True, return_future=True).result(timeout=timeout)
    except Exception:
        return None
    return dict(found.value) if found is not None and isinstance(found.value, dict) else None


def check_run_settings(dht: hivemind.DHT, settings: dict[str, Any], expiration: float = 3600.0) -> dict[str, Any]:
    """Agree on the settings every peer of a run must share, or refuse to join in one line.

    The first peer stores its settings in the DHT; later peers compare theirs against them
    (a peer with a different profile or averaging mode would otherwise split the swarm or fail
    inside an all-reduce). Returns the swarm's settings; refreshes them while they are valid.
    """
    from hivemind.utils import get_dht_time

    key = run_settings_key(str(settings["run_id"]))
    swarm = read_run_settings(dht, str(settings["run_id"]))
    if swarm is not None:
        differing = {name: (swarm.get(name), value) for name, value in settings.items() if swarm.get(name) != value}
        if differing:
            detail = ", ".join(f"{name}={theirs!r} (yours {ours!r})" for name, (theirs, ours) in differing.items())
            raise SwarmError(
                f"run {settings['run_id']!r} already trains with {detail}",
                "use the run's settings, or another --run-id",
            )
    dht.store(key, dict(settings), expiration_time=get_dht_time() + expiration, return_future=True)
    return dict(swarm or settings)


def wait_for_swarm_view(opt: SwarmOptimizer, timeout: float) -> None:
    """Wait (bounded) until the progress tracker has fetched the swarm's state at least once."""
    opt.tracker.fetched_global_progress_this_epoch.wait(timeout)
