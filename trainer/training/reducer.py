"""The trusted reducer inside hivemind: the pool's aux peer combines every round with `robust`.

With `TrainConfig.robust_aggregation` on, trainers average gradients in hivemind's averaging
*client* mode (they send their whole tensors and reduce nothing) and the aux peer, the only peer
with a share of the vector, reduces every part of it (see `trainer.training.robust` for why). Here:

- `RobustPartReducer` keeps each sender's part instead of adding it to hivemind's running sum, and
  combines them with `robust.aggregate_part` when the part is complete; at the end of the round it
  writes one `Observation` per sender to the `ObservationLog`.
- `ReducerSpec` says who this averager is: the reducer (aux peer: robust combination, admission,
  observations) or a sender (trainer: refuses a round in which any peer but a trusted reducer
  was given a part to reduce, so a peer posing as a reducer cannot return a poisoned slice).
- `RobustAveragerMixin` installs the matching `AllReduceRunner` in the averager's own process:
  hivemind runs each averager in a forked child and builds its runner there, so the spec travels
  with the fork and nothing in the parent process is patched.
- `Admission` carries the allow-list from the parent (where the pool's feed reads the chain) into
  that child through shared memory, refreshed by the aux peer's loop.
- Spot-check samples: when the aux peer runs spot checks (`spot_checks`, set by its loop), the
  reducer picks one admitted sender of a round at random (`secrets`: senders cannot tell when they
  are checked) and, if its contribution was screened in, leaves it with the round's aggregate in
  `SPOT_PENDING_FILE` beside the observation log, for the pool's checker. It samples no round
  while the last sample waits, so a slow checker costs skipped checks, never a queue.
- Round epochs: every sender declares, in the round's matchmaking metadata (hivemind's ``gather``),
  the epoch it is closing, and the reducer stamps the round's observations with the epoch most
  admitted senders declared (`round_epoch`): the unit a trainer's claims are made in. The aux
  peer's own epoch can lag the trainers' by one or more, and stamping with it left honest claims
  without their observations.
"""

from __future__ import annotations

import ctypes
import logging
import math
import multiprocessing as mp
import os
import secrets
import time
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

# typing's AsyncIterator: hivemind tells a streaming RPC by its _name (collections.abc's has none)
from typing import Any, AsyncIterator  # noqa: UP035

import torch
from hivemind.averaging.allreduce import AllreduceException, AllReduceRunner
from hivemind.averaging.partition import TensorPartReducer
from hivemind.p2p import P2PContext
from hivemind.proto import averaging_pb2
from hivemind.utils.serializer import MSGPackSerializer

from trainer.training.observations import (
    ATTEMPTS_FILE,
    SPOT_PENDING_FILE,
    JoinAttempt,
    JoinAttemptLog,
    Observation,
    ObservationLog,
)
from trainer.training.robust import RobustConfig, SenderTally, aggregate_part, opposition

log = logging.getLogger(__name__)

# @dev Bytes of shared memory for the allow-list: about 1,200 base58 peer ids of 52 characters.
ADMISSION_BYTES = 65536

# @dev hivemind's fp16 compression clamps every value into fp16's finite range: a value sent at this
#      magnitude was infinite, or beyond fp16, in the sender's buffer.
FP16_LARGEST = float(torch.finfo(torch.float16).max)

# @dev A sender warns when the contribution it is about to send has this many times the norm of
#      its previous one (an honest gradient's norm changes by a few times at most from round to round).
SENDER_NORM_JUMP = 100.0

# @dev Rounds in a row a sender withholds (weight 0) a contribution its own check finds non-finite or
#      `SENDER_NORM_JUMP` times its last: the next one is sent whatever it is (the reducer's screens
#      judge it), so a lasting change of scale cannot keep an honest peer unpaid for good.
MAX_WITHHELD_IN_A_ROW = 2

AllowList = Callable[[], Collection[str]]


class Admission:
    """The allow-list, written by the parent process and read by the averager's forked child.

    ``publish`` stores the current set; ``admitted`` returns it (None until the first publish:
    the reducer then admits nobody, so a pool reducer never runs open by mistake).
    """

    def __init__(self) -> None:
        self._buffer = mp.Array(ctypes.c_char, ADMISSION_BYTES)
        self._length = mp.Value(ctypes.c_int64, -1)

    def publish(self, peers: Collection[str]) -> None:
        data = "\n".join(sorted(peers)).encode()
        if len(data) > ADMISSION_BYTES:
            raise ValueError(f"allow-list of {len(peers)} peers exceeds {ADMISSION_BYTES} bytes; raise ADMISSION_BYTES")
        with self._length.get_lock():
            self._buffer[: len(data)] = data
            self._length.value = len(data)

    def admitted(self) -> frozenset[str] | None:
        with self._length.get_lock():
            length = self._length.value
            if length < 0:
                return None
            data = bytes(self._buffer[:length])
        return frozenset(data.decode().split("\n")) if data else frozenset()


@dataclass
class ReducerSpec:
    """How an averager takes part in robust rounds (created before hivemind forks it).

    :param role: "reducer" (the aux peer) or "sender" (a trainer).
    :param reducers: peer ids allowed to reduce; a sender refuses a round that gives any other
      peer a part (None: any peer, for a swarm without a designated reducer).
    :param admission: the allow-list (reducer only; None: every sender is admitted).
    :param log_path: where the reducer appends its observations (None: nowhere).
    :param mode: the averaging mode, written into every observation.
    """

    role: str
    config: RobustConfig = field(default_factory=RobustConfig)
    reducers: frozenset[str] | None = None
    admission: Admission | None = None
    log_path: str | None = None
    mode: str = "gradient"
    # reducer: the epoch the aux peer is in (its loop updates it; the tie-break of `round_epoch`);
    # sender: the trainer's own epoch, which hivemind's optimizer hands its gradient averager as the
    # state-sharing priority on every epoch and state download (declared in each round it joins).
    # -1 until known: a sender declares nothing then (a DHT client's optimizer never hands it over)
    epoch: Any = field(default_factory=lambda: mp.Value(ctypes.c_int64, -1))
    rounds: Any = field(default_factory=lambda: mp.Value(ctypes.c_int64, 0))
    # sender: rounds in which the reducer answered some of this sender's parts late or not at all
    # (past ``next_chunk_timeout`` x 2): hivemind keeps the sender's own values for those parts and
    # reports the round a success, so the sender's update was partly its own (`SwarmOptimizer`
    # reads the count after each round)
    partial_rounds: Any = field(default_factory=lambda: mp.Value(ctypes.c_int64, 0))
    # reducer: whether a spot checker consumes samples (the aux peer sets it once its checker runs)
    spot_checks: Any = field(default_factory=lambda: mp.Value(ctypes.c_bool, False))
    # part index -> reference norm; lives in the reducer's own process, from round to round
    references: dict[int, float] = field(default_factory=dict)

    @property
    def spot_path(self) -> Path | None:
        """Where a sampled contribution waits for the spot checker (None: no observation log)."""
        return Path(self.log_path).with_name(SPOT_PENDING_FILE) if self.log_path else None


def declared_epochs(peers: Sequence[str], gathered: Sequence[bytes]) -> dict[str, int]:
    """The epoch each peer declared in a round's matchmaking metadata (hivemind's
    ``[bandwidth, mode, user data]`` per peer; a sender's user data is ``{"epoch": n}``). Peers that
    declared nothing usable (the reducer itself, a peer of another version) are left out."""
    out: dict[str, int] = {}
    for peer, blob in zip(peers, gathered, strict=True):
        try:
            user = MSGPackSerializer.loads(MSGPackSerializer.loads(blob)[2])
        except Exception:  # anything a peer sends is untrusted; a malformed entry declares nothing
            continue
        epoch = declared_epoch(user)
        if epoch is not None:
            out[peer] = epoch
    return out


def declared_epoch(user: Any) -> int | None:
    """The epoch in one peer's decoded user metadata (``{"epoch": n, ...}``: a sender of the round),
    or None (the reducer, a malformed entry)."""
    epoch = user.get("epoch") if isinstance(user, dict) else None
    return epoch if isinstance(epoch, int) and not isinstance(epoch, bool) and epoch >= 0 else None


def round_epoch(declared: Mapping[str, int], admitted: Collection[str], own: int) -> int:
    """The epoch a round closes: the one most admitted senders declared, the one nearest the
    reducer's own epoch (then the lower) among equally common ones, the reducer's own if none.

    Honest senders of one round close the same epoch (a peer behind the swarm downloads state
    before it averages), so with an honest majority the most common declaration is theirs; with
    two senders that disagree the reducer's own epoch, which lags but is never forged, decides.
    """
    counts = Counter(epoch for peer, epoch in declared.items() if peer in admitted)
    if not counts:
        return own
    most = max(counts.values())
    return min((epoch for epoch, count in counts.items() if count == most), key=lambda e: (abs(e - own), e))


def contribution_check(tensors: Sequence[torch.Tensor], previous: float | None, epoch: int) -> tuple[float, str | None]:
    """The norm of a contribution a sender is about to send, and a warning when it is non-finite or
    `SENDER_NORM_JUMP` times its previous finite one (None: nothing to say). Paired with the
    reducer's line on a dropped part, it tells whether an honest peer's buffers held what the
    reducer received, or the contribution changed on the way."""
    norms = [float(torch.linalg.vector_norm(tensor.detach().float())) for tensor in tensors]
    norm = math.sqrt(sum(value * value for value in norms))
    if math.isfinite(norm) and (not previous or norm <= SENDER_NORM_JUMP * previous):
        return norm, None
    # the tensor to name: a non-finite one first, else the largest
    worst = max(range(len(norms)), key=lambda i: (not math.isfinite(norms[i]), norms[i]))
    values = tensors[worst].detach().float().reshape(-1)
    finite = values[torch.isfinite(values)]
    largest = float(finite.abs().max()) if finite.numel() else float("nan")
    return norm, (
        f"the contribution this peer sends for epoch {epoch} has norm {norm:.4g} (its previous: {previous}); "
        f"tensor {worst} of {len(tensors)} ({tuple(tensors[worst].shape)}): norm {norms[worst]:.4g}, "
        f"{values.numel() - finite.numel()} non-finite values, max |finite value| {largest:.4g}"
    )


class _PartCollector:
    """Stands where hivemind keeps its running sum of a part: keeps each sender's part instead, and
    returns the robust combination when hivemind divides by the total weight."""

    def __init__(self, reducer: RobustPartReducer) -> None:
        self.reducer = reducer
        self.parts: dict[int, tuple[torch.Tensor, float]] = {}

    def add_(self, tensor: torch.Tensor, alpha: float = 1.0) -> _PartCollector:
        self.parts[self.reducer.sender_of(tensor)] = (tensor, float(alpha))
        return self

    def div_(self, _total: float) -> torch.Tensor:
        return self.reducer.combine(self.parts)


class RobustPartReducer(TensorPartReducer):
    """hivemind's part reducer with its weighted sum replaced by `robust.aggregate_part`.

    hivemind's own control flow (waiting for every sender's part, senders that fail mid-round) is
    kept; only the arithmetic differs. A sender dropped in one part is dropped for the rest of the
    round. `on_round(tallies)` is called once, when the round ends (completed or not).
    ``spot_sender``'s parts and the aggregate of each are kept while it is screened in;
    `on_spot(contribution, aggregate)` gets them, flat, when the round completed with all of them.
    """

    def __init__(
        self,
        part_shapes: Any,
        num_senders: int,
        *,
        admitted: list[bool],
        config: RobustConfig,
        on_round: Callable[[list[SenderTally]], None],
        references: dict[int, float] | None = None,
        spot_sender: int | None = None,
        on_spot: Callable[[torch.Tensor, torch.Tensor], None] | None = None,
        names: Sequence[str] | None = None,
        epoch: int | None = None,
    ) -> None:
        self.admitted, self.robust_config, self.on_round = admitted, config, on_round
        self.names, self.epoch = names, epoch
        self.spot_sender, self.on_spot = spot_sender, on_spot
        self.spot_parts: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        # (i, j), i < j -> dot product of the two senders' screened-in parts, summed over parts
        self.dots: dict[tuple[int, int], float] = {}
        # part index -> the norm honest parts had in the last comparable round (kept across rounds)
        self.references = references if references is not None else {}
        self.tallies = [SenderTally() for _ in range(num_senders)]
        self._senders_by_tensor: dict[int, int] = {}
        self._reported = False
        super().__init__(part_shapes, num_senders)

    def reset_accumulators(self) -> None:
        super().reset_accumulators()
        if not self.finished.is_set():
            self.accumulator = _PartCollector(self)

    def sender_of(self, tensor: torch.Tensor) -> int:
        return self._senders_by_tensor.pop(id(tensor))

    async def accumulate_part(
        self, sender_index: int, part_index: int, tensor_part: torch.Tensor, weight: float = 1.0
    ) -> torch.Tensor:
        # the collector learns the sender from the tensor object hivemind hands it
        self._senders_by_tensor[id(tensor_part)] = sender_index
        try:
            return await super().accumulate_part(sender_index, part_index, tensor_part, weight)
        finally:
            self._senders_by_tensor.pop(id(tensor_part), None)

    def combine(self, received: dict[int, tuple[torch.Tensor, float]]) -> torch.Tensor:
        parts: list[torch.Tensor | None] = [None] * self.num_senders
        declared = [0.0] * self.num_senders
        for sender, (tensor, weight) in received.items():
            declared[sender] = weight
            self.tallies[sender].declared = max(self.tallies[sender].declared, weight)
            if self.tallies[sender].verdict not in ("dropped_nonfinite", "dropped_norm"):
                parts[sender] = tensor
        index = self.current_part_index
        reference = self.references.get(index)
        result = aggregate_part(parts, declared, self.robust_config, self.admitted, reference)
        for sender, part in enumerate(parts):
            if part is not None and result.verdicts[sender] in ("dropped_norm", "dropped_nonfinite"):
                log.warning("%s", self.describe_drop(sender, parts, result.verdicts[sender], reference))
        if result.reference_norm is not None:
            self.references[index] = result.reference_norm
        for sender, (tensor, _weight) in received.items():
            self.tallies[sender].add(
                tensor, result.aggregate, result.verdicts[sender], result.weights[sender], result.scales[sender]
            )
        # with a say in the aggregate: screened in and weighted (a zero-weight tag-along is neither)
        screened = [i for i in received if result.verdicts[i] in ("accepted", "clipped") and result.weights[i] > 0]
        if len(screened) >= 2:
            stacked = torch.stack([received[i][0].detach().float().reshape(-1) for i in screened])
            gram = stacked @ stacked.T
            for a, i in enumerate(screened):
                for b in range(a + 1, len(screened)):
                    key = (min(i, screened[b]), max(i, screened[b]))
                    self.dots[key] = self.dots.get(key, 0.0) + float(gram[a, b])
        spot = self.spot_sender
        # a zero-weight tag-along is not its sender's work (its buffers' leftovers): nothing to check
        if spot in received and result.verdicts[spot] in ("accepted", "clipped") and result.weights[spot] > 0:
            contribution = received[spot][0].detach().float().reshape(-1).clone()
            self.spot_parts[index] = (contribution, result.aggregate.detach().float().reshape(-1).clone())
        return result.aggregate

    def describe_drop(
        self, sender: int, parts: Sequence[torch.Tensor | None], verdict: str, reference: float | None
    ) -> str:
        """One line on a part just dropped: enough to tell, from the aux peer's log alone, which part
        it was and what it held (an honest peer's contribution dropped in a clean-clone run could
        only be seen as one summed norm, which named neither)."""
        part = parts[sender].detach().float().reshape(-1)
        finite = part[torch.isfinite(part)]
        others = [
            float(other.detach().float().norm()) for i, other in enumerate(parts) if i != sender and other is not None
        ]
        name = self.names[sender] if self.names is not None else f"sender {sender}"
        return (
            f"{verdict}: {name}'s part {self.current_part_index} of {self.num_parts} in the round of epoch "
            f"{self.epoch}: {part.numel()} values, norm {float(finite.norm()):.4g} over the finite ones, "
            f"max |value| {float(finite.abs().max()) if finite.numel() else float('nan'):.4g}, "
            f"{part.numel() - finite.numel()} non-finite, {int((finite.abs() >= FP16_LARGEST).sum())} at fp16's "
            f"largest (infinite or beyond fp16 before compression); the others' norms "
            f"{', '.join(f'{norm:.4g}' for norm in others) or 'none'}, reference {reference}"
        )

    def finalize(self) -> None:
        super().finalize()
        if not self._reported and any(tally.parts for tally in self.tallies):
            self._reported = True
            screened = [
                i
                for i, tally in enumerate(self.tallies)
                if tally.parts and tally.verdict in ("accepted", "clipped") and tally.accepted > 0
            ]
            for i, (compared, opposed) in opposition(self.dots, screened).items():
                self.tallies[i].compared, self.tallies[i].opposed = compared, opposed
            self.on_round(self.tallies)
            if self.on_spot is not None and self.spot_parts and len(self.spot_parts) == self.num_parts:
                ordered = [self.spot_parts[index] for index in range(self.num_parts)]
                try:
                    self.on_spot(torch.cat([c for c, _ in ordered]), torch.cat([a for _, a in ordered]))
                except OSError as exc:  # a full disk costs a spot check, not the round
                    log.error("could not keep a contribution for a spot check: %r", exc)
            self.spot_parts = {}


def make_runner(spec: ReducerSpec) -> type[AllReduceRunner]:
    """An `AllReduceRunner` class bound to ``spec`` (hivemind builds runners from a class)."""

    class RobustAllReduceRunner(AllReduceRunner):
        def __init__(self, *, gathered: Sequence[bytes] = (), **kwargs: Any) -> None:
            super().__init__(**kwargs)
            if spec.reducers is not None:
                for peer, fraction in zip(self.ordered_peer_ids, self.peer_fractions, strict=True):
                    if fraction > 0 and peer.to_base58() not in spec.reducers:
                        self.finalize(cancel=True)
                        raise AllreduceException(f"{peer} would reduce a part but is not a trusted reducer")
            if spec.role != "reducer":
                return
            senders = [peer.to_base58() for peer in self.sender_peer_ids]
            me = self.peer_id.to_base58()
            if spec.admission is None:
                admitted = [True] * len(senders)
            else:
                # the reducer itself may be listed as a sender (with weight 0): it is the pool's own
                allowed = (spec.admission.admitted() or frozenset()) | {me}
                admitted = [peer in allowed for peer in senders]
            ordered = [peer.to_base58() for peer in self.ordered_peer_ids]
            epochs = declared_epochs(ordered, gathered) if gathered else {}
            eligible = {peer for peer, ok in zip(senders, admitted, strict=True) if ok and peer != me}
            epoch = round_epoch(epochs, eligible, max(0, int(spec.epoch.value)))
            logbook = ObservationLog(spec.log_path) if spec.log_path else None

            def on_round(tallies: list[SenderTally]) -> None:
                with spec.rounds.get_lock():
                    spec.rounds.value += 1
                if logbook is None:
                    return
                now = time.time()
                logbook.append(
                    Observation(
                        epoch=epoch,
                        peer_id=peer,
                        declared_samples=tally.declared,
                        accepted_weight=tally.accepted,
                        norm=tally.norm,
                        distance=tally.distance,
                        cosine=tally.cosine,
                        verdict=tally.verdict,  # type: ignore[arg-type]
                        scale=tally.scale,
                        compared=tally.compared,
                        opposed=tally.opposed,
                        mode=spec.mode,
                        time=now,
                    )
                    for peer, tally in zip(senders, tallies, strict=True)
                    if tally.parts and peer != me
                )

            spot_path = spec.spot_path
            spot_sender, on_spot = None, None
            if spec.spot_checks.value and spot_path is not None and not spot_path.exists():
                candidates = [i for i, peer in enumerate(senders) if admitted[i] and peer != me]
                spot_sender = secrets.choice(candidates) if candidates else None

                def on_spot(contribution: torch.Tensor, aggregate: torch.Tensor) -> None:
                    sample = {"epoch": epoch, "peer_id": senders[spot_sender], "contribution": contribution}
                    temporary = spot_path.with_suffix(".tmp")
                    torch.save({**sample, "aggregate": aggregate}, temporary)
                    os.replace(temporary, spot_path)  # the checker never sees half a file

            previous = self.tensor_part_reducer
            previous.num_parts = 0  # it never runs: keep it from logging "received 0% of input tensors"
            previous.finalize()
            self.tensor_part_reducer = RobustPartReducer(
                tuple(part.shape for part in self.parts_for_local_averaging),
                len(self.sender_peer_ids),
                admitted=admitted,
                config=spec.config,
                on_round=on_round,
                references=spec.references,
                spot_sender=spot_sender,
                on_spot=on_spot,
                names=senders,
                epoch=epoch,
            )

    return RobustAllReduceRunner


def _log_attempt(log_path: str, request: Any, context: Any, schema_hash: bytes | None) -> None:
    if request.schema_hash != schema_hash:
        return
    peer = context.remote_id.to_base58()
    declared = declared_epochs([peer], [request.gather]).get(peer)
    if declared is not None:
        JoinAttemptLog(Path(log_path).with_name(ATTEMPTS_FILE)).append(JoinAttempt(peer, declared, time.time()))


class RobustAveragerMixin:
    """Put before a hivemind averager class: ``robust=ReducerSpec(...)`` makes its rounds robust.

    A sender's averager joins rounds in averaging client mode (its DHT stays a full node, so it
    still serves and downloads state).
    """

    def __init__(self, *args: Any, robust: ReducerSpec | None = None, **kwargs: Any) -> None:
        self.robust = robust
        self.sent_norm: float | None = None  # a sender's last finite contribution (`contribution_check`)
        self.withheld_rounds = 0  # contributions its own check withheld (weight 0), in the trainer's process
        self.withheld_in_a_row = 0
        # what a synchronous DiLoCo sender declares of its outer weights with its epoch
        # (`trainer.training.outer_signature`; set by `SwarmOptimizer`)
        self.outer_declaration: Callable[[], dict[str, Any]] | None = None
        if robust is not None and robust.role == "sender":
            kwargs["client_mode"] = True
        super().__init__(*args, **kwargs)

    def load_accumulators_into_averager_(self) -> None:
        # what a sender's next round sends is in the buffers now (hivemind loads them right before
        # it allows the round): check it where the trainer's own log can say so
        super().load_accumulators_into_averager_()  # type: ignore[misc]
        robust = self.robust
        if robust is None or robust.role != "sender":
            return
        with self.get_tensors() as tensors:  # type: ignore[attr-defined]
            norm, warning = contribution_check(tensors, self.sent_norm, int(robust.epoch.value))
            withhold = warning is not None and self.withheld_in_a_row < MAX_WITHHELD_IN_A_ROW
            if withhold:
                for tensor in tensors:
                    tensor.zero_()
        if warning is not None:
            log.warning("%s", warning)
        if withhold:
            # hivemind weighs the round by the samples accumulated, read right after this: weight 0
            # makes this sender a tag-along (the reducer gives it no say and it takes the round's
            # result; zeros, so a non-finite buffer cannot spoil what comes back), and the trainer
            # does not credit the round (`TrainingLoop`): an honest peer's blow-up (a gradient of
            # norm 6e14 in a clean-clone demo run, cause not found) cost it a soft verdict before
            self.local_samples_accumulated = 0
            self.withheld_rounds += 1
            self.withheld_in_a_row += 1
            log.warning("this contribution is withheld: sent with weight 0, the round's samples not credited")
            return
        self.withheld_in_a_row = 0
        if math.isfinite(norm):
            self.sent_norm = norm

    async def rpc_join_group(
        self, request: averaging_pb2.JoinRequest, context: P2PContext
    ) -> AsyncIterator[averaging_pb2.MessageFromLeader]:
        # the reducer leads every round (senders average in client mode), so every sender's request
        # to join one arrives here: one that matches the run's tensors is logged with the epoch it
        # declares, whether or not it makes it into the group (the audit's evidence that a missed
        # round was not silence; the annotations are what hivemind registers the handler by)
        robust = self.robust
        if robust is not None and robust.role == "reducer" and robust.log_path:
            try:
                _log_attempt(robust.log_path, request, context, getattr(self, "schema_hash", None))
            except Exception:  # evidence is best effort; a round must never fail for it
                log.exception("could not log a join request")
        async for response in super().rpc_join_group(request, context):  # type: ignore[misc]
            yield response

    @property
    def state_sharing_priority(self) -> float:
        return super().state_sharing_priority  # type: ignore[misc]

    @state_sharing_priority.setter
    def state_sharing_priority(self, value: float) -> None:
        # hivemind's Optimizer sets it on every epoch for a peer whose DHT is a full node, and the
        # averager refuses it in client mode: a sender's gradient averager has no state to share
        # (it is the trainer's local epoch: kept as the epoch this sender declares in its rounds)
        if self.robust is not None and self.robust.role == "sender":
            self.robust.epoch.value = int(value)
            return
        super(RobustAveragerMixin, type(self)).state_sharing_priority.fset(self, value)  # type: ignore[attr-defined]

    def schedule_step(self, *args: Any, **kwargs: Any) -> Any:
        # hivemind's gradient averagers begin every round here (a plain `step` too); the metadata is
        # serialized now, in the trainer's process, at the epoch whose round this is
        robust = self.robust
        sender = robust is not None and robust.role == "sender"
        if sender and kwargs.get("gather") is None and robust.epoch.value >= 0:
            kwargs["gather"] = {"epoch": int(robust.epoch.value)}
            if self.outer_declaration is not None:
                kwargs["gather"].update(self.outer_declaration())
        control = super().schedule_step(*args, **kwargs)  # type: ignore[misc]
        if sender:
            # A pre-scheduled round counts for nothing until the step that triggers it sets its
            # weight (hivemind's GradientAverager.step: the samples accumulated). hivemind's default
            # is 1.0, and a round it cancels can still run: a trainer that skipped its first round
            # as alone ("no other peers") joined the aux peer's round 5 s later with weight 1 and
            # the next round's pseudo-gradient (124 samples of steps), 40x the others' norm per
            # sample, and was dropped as dropped_norm. With weight 0 it is a tag-along
            control.weight = 0.0
        return control

    async def _run_allreduce_inplace_(self, tensors: Any, group_info: Any, *args: Any, **kwargs: Any) -> Any:
        robust = self.robust
        # the reducer's runner reads each sender's declared epoch from the group's metadata
        if robust is not None and robust.role == "reducer":
            kwargs["gathered"] = tuple(group_info.gathered)
        result = await super()._run_allreduce_inplace_(tensors, group_info, *args, **kwargs)  # type: ignore[misc]
        if robust is not None and robust.role == "sender":
            # every part is in by now (the update loop above consumed them all), so the runner's
            # count of parts no reducer answered is final
            group_id = args[0] if args else kwargs.get("group_id") or group_info.group_id
            container = self._running_groups[group_id].result().tensor_part_container  # type: ignore[attr-defined]
            if container.failed_size:
                log.warning(
                    "the reducer answered %.1f%% of this peer's contribution late or not at all: this "
                    "peer's own values stand in for it",
                    100 * container.failed_size / max(1, container.total_size),
                )
                with robust.partial_rounds.get_lock():
                    robust.partial_rounds.value += 1
        return result

    def run(self) -> None:
        if self.robust is not None:
            # this is the averager's own (forked) process: the patch reaches no other averager
            import hivemind.averaging.averager as averager_module

            averager_module.AllReduceRunner = make_runner(self.robust)
        super().run()  # type: ignore[misc]
