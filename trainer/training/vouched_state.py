"""State downloads only from a donor the aux peer vouches for, and the aux peer's checks of donors.

hivemind downloads state from whichever peer declares the highest priority, and a peer may serve
anything: the `badstate` attacker declares the highest priority and serves NaN weights. With
robust aggregation (`TrainConfig.robust_aggregation`) downloads go through `VouchedDownloads`:

- **Trainers download state only from the aux peers** (``trusted_reducers``): the pool already
  trusts its aux peer to reduce every round and to audit, and its libp2p identity authenticates
  every byte it serves (the channel is keyed by the peer id the pool lists), so what a trainer
  installs is what the aux peer vouches for. The received weights are also checked (finite, the
  model's shapes) before they are installed; a donor that fails is skipped and the next tried.
- **The aux peer keeps a validated copy** and serves it (`ServedEpochMixin`: labelled with the
  epoch of the copy, not the aux peer's epoch counter, which runs ahead of its never-averaged
  weights). It refreshes the copy once per swarm epoch from one admitted donor (and again, up to
  `trainer.training.aux_peer.COPY_RETRIES` times, while the copy is behind the swarm's epoch),
  rotating through them (the least recently checked first, ties broken at random), so every admitted donor that
  shares state is checked once every N downloads with N such donors. A copy is installed only if
  its weights are finite, have the model's shapes, and its epoch lies between the copy it replaces
  and one past the swarm's (quorum) epoch, and its held-out loss is not worse than the best copy's
  (`judge_loss`); a donor that fails is skipped for the next one. The copy's epoch is also the
  priority the aux peer declares in the DHT (`served_epoch` reads it): a trainer whose round went
  on without it waits for a copy at its own epoch before it downloads one
  (`trainer.training.swarm`, "A robust sender whose round went on without it"), and shares no
  state of its own meanwhile, so that copy is a donor's that was in step.
- **Held-out loss** (`HeldOutScorer`): finite weights of the right shapes can still be junk (random
  weights, weights scaled up, an old epoch relabelled). Before installing a copy the aux peer scores
  it on `STATE_SCORE_SEQUENCES` held-out sequences of the run's data (the spot checks' batch,
  `held_out_batch`), on its own copy of the model, and compares with the lowest loss of a copy it
  installed so far (at first: the model as initialised, which every peer builds the same from the
  run's seed; a pretrained model loads the same weights everywhere). The best, not the last: a donor
  that serves a copy just under the margin worse each epoch could otherwise walk the copy uphill.
- **Evidence**: every attempt of the aux peer is appended to ``state_checks.jsonl``
  (`StateCheckLog`) with its verdict and held-out loss; ``nonfinite``, ``shape`` and ``junk``
  (`BAD_STATE`) are positive evidence against the donor (`trainer.pool.evidence`): the aux peer
  downloaded that state from the donor itself, over a channel keyed by the donor's id, so no peer can frame another. A
  trainer's own checks are never reported (a trainer's word about another peer is not evidence).
  ``worse`` (a copy worse than the best but not junk: what an honest donor that lags, or a swarm
  whose loss rose, serves) is refused and is never evidence.

Cost: the aux peer downloads the whole training state (weights and optimizer statistics) once per
swarm epoch, and uploads it once per trainer that downloads (a trainer that joins, lags, or
missed a round). For the demo's model that is a few MB per epoch; for a 1B-parameter model in
fp32 with AdamW, about 12 GB per epoch before compression: the aux peer's bandwidth bounds the
swarm's epoch rate, as it already does as the reducer. Scoring a copy is forward passes over
`STATE_SCORE_SEQUENCES` sequences on a second copy of the model, once per download tried.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import os
import random
import threading
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from trainer.training.config import TrainConfig

log = logging.getLogger("trainer")

STATE_CHECKS_FILE = "state_checks.jsonl"
# @dev Verdicts of an attempted download. Only BAD_STATE is evidence against the donor; the others
#      are a copy worse than the best (an honest donor may lag), a donor that did not answer, sent
#      nothing, or is at an epoch we do not install.
BAD_STATE = ("nonfinite", "shape", "junk")
VERDICTS = ("ok", *BAD_STATE, "worse", "epoch", "no_state", "failed")
# @dev Held-out sequences a copy is scored on. Two copies are compared on the same sequences, so
#      what differs between them is the weights, not the sample: on the demo's model an epoch of
#      honest training moved the loss by 0.15-0.96 nats, fp16 transfer rounding by 1e-4, and the
#      loss of 64 sequences was within 0.002 of 256's. 64 sequences of the demo's model score in
#      0.1-1.6 s on one loaded core.
STATE_SCORE_SEQUENCES = 64
# @dev A copy whose held-out loss is more than this above the best installed copy's is refused.
#      Measured (the demo's tiny model and data, 12 epochs): at the demo's lr every honest epoch
#      lowered the loss (by 0.15-0.23); at 10 times that lr (8 epochs) the loss rose at most 0.11
#      above the best so far. At the demo's lr an old epoch's weights relabelled, two epochs back,
#      were 0.3-0.9 worse.
WORSE_MARGIN = 0.25
# @dev A copy whose loss is this far above max(uniform guessing ln(vocab), the initial model's)
#      is junk, positive evidence. Measured: the initialised model is ln(vocab) + 0.012 and honest
#      training only went below it (both lrs above); random N(0,1) weights scored ln(vocab) + 15-23,
#      the weights times 10 ln(vocab) + 38-345.
JUNK_NATS = 1.0


@dataclass(frozen=True)
class StateCheck:
    """One download the aux peer attempted from one donor."""

    peer_id: str
    epoch: int
    """The epoch the donor's state was labelled with (-1 when nothing arrived)."""
    verdict: str
    time: float
    loss: float | None = None
    """The copy's held-out loss, when it was scored."""


class StateCheckLog:
    """An append-only JSONL file of `StateCheck`s (a last line cut short by a crash is ignored)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def extend(self, checks: Sequence[StateCheck]) -> None:
        if not checks:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, open(self.path, "a", encoding="utf-8") as handle:
            handle.write("".join(json.dumps(asdict(check)) + "\n" for check in checks))
            handle.flush()
            os.fsync(handle.fileno())

    def read(self) -> list[StateCheck]:
        if not self.path.exists():
            return []
        lines = self.path.read_text(encoding="utf-8").splitlines(keepends=True)
        out = []
        for number, line in enumerate(lines, start=1):
            try:
                raw = json.loads(line)
                loss = None if raw.get("loss") is None else float(raw["loss"])
                out.append(
                    StateCheck(str(raw["peer_id"]), int(raw["epoch"]), str(raw["verdict"]), float(raw["time"]), loss)
                )
            except (ValueError, TypeError, KeyError) as exc:
                if number == len(lines) and not line.endswith("\n"):
                    break
                raise ValueError(f"{self.path}:{number}: malformed state check ({exc})") from None
        return out


def check_state(
    metadata: Any, tensors: Sequence[Any], shapes: Sequence[tuple[int, ...]], bounds: tuple[int, int] | None
) -> str:
    """The verdict on downloaded state: its first ``len(shapes)`` tensors (the weights a receiver
    installs) must have those shapes and be finite, and its epoch lie within ``bounds`` (inclusive)."""
    import torch

    epoch = metadata.get("epoch") if isinstance(metadata, dict) else None
    if not isinstance(epoch, int):
        return "no_state"
    if len(tensors) < len(shapes):
        # a stream that ended early, as a donor's that stops mid-download does (a test_attacks run:
        # an honest peer that had just finished): no evidence, as no answer is none
        return "failed"
    if any(tuple(t.shape) != tuple(s) for t, s in zip(tensors, shapes, strict=False)):
        return "shape"
    if not all(bool(torch.isfinite(tensor).all()) for tensor in tensors[: len(shapes)]):
        return "nonfinite"
    if bounds is not None and not bounds[0] <= epoch <= bounds[1]:
        return "epoch"
    return "ok"


def judge_loss(loss: float, best: float, ceiling: float) -> str:
    """The verdict on a copy of held-out ``loss``: ``junk`` above ``ceiling`` (or not finite),
    ``worse`` more than `WORSE_MARGIN` above the ``best`` installed copy's, else ``ok``."""
    if not math.isfinite(loss) or loss > ceiling:
        return "junk"
    return "worse" if loss > best + WORSE_MARGIN else "ok"


class HeldOutScorer:
    """The held-out loss of a copy's weights, on the aux peer's own copy of the model (the weights
    it serves stay untouched until a copy passes).

    ``best`` starts as the loss of the model as built (every peer builds it the same from the run's
    seed) and `accept` lowers it as copies are installed; ``ceiling`` is where junk starts."""

    def __init__(self, model: Any, trainable: Sequence[Any], held_out: torch.Tensor) -> None:
        import torch

        names = {id(param): name for name, param in model.named_parameters()}
        self.model = copy.deepcopy(model).eval()
        own = dict(self.model.named_parameters())
        self.params = [own[names[id(param)]] for param in trainable]
        self.held_out = held_out
        self._lock = threading.Lock()
        with torch.no_grad():
            self.best = self.loss(None)
        self.ceiling = max(math.log(self.model.config.vocab_size), self.best) + JUNK_NATS

    def loss(self, weights: Sequence[Any] | None) -> float:
        """The mean held-out loss with ``weights`` (the trainable tensors, in order; None: as is)."""
        import torch

        with self._lock, torch.no_grad():
            if weights is not None:
                for mine, theirs in zip(self.params, weights, strict=False):
                    mine.copy_(theirs.to(mine.dtype))
            return held_out_loss(self.model, self.held_out)

    def accept(self, loss: float) -> None:
        self.best = min(self.best, loss)


def held_out_loss(model: Any, held_out: torch.Tensor, chunk: int = 16) -> float:
    """The model's mean loss on the rows of ``held_out``, ``chunk`` rows per forward pass (bounds
    the activation memory)."""
    import torch

    total, rows = 0.0, int(held_out.shape[0])
    with torch.no_grad():
        for start in range(0, rows, chunk):
            part = held_out[start : start + chunk]
            total += float(model(input_ids=part, labels=part).loss) * int(part.shape[0])
    return total / rows


def held_out_batch(config: TrainConfig, tokenizer: Any, sequences: int) -> torch.Tensor:
    """`sequences` packed sequences of the run's data, from the shard of ``held-out:<run>`` (a name
    no trainer has; shards are hashes, so some trainer may read the same shard)."""
    import torch

    from trainer.training.data import BatchStream

    stream = BatchStream(config.model_copy(update={"batch_size": 1}), tokenizer, f"held-out:{config.run_id}")
    return torch.cat([next(stream).input_ids for _ in range(sequences)])


def state_scorer(model: Any, trainable: Sequence[Any], tokenizer: Any, config: TrainConfig) -> HeldOutScorer | None:
    """The aux peer's scorer of downloaded copies (None, with a warning, when the run's data cannot
    be read here: copies are then checked for finiteness, shapes and epoch only)."""
    try:
        held_out = held_out_batch(config, tokenizer, STATE_SCORE_SEQUENCES)
    except Exception as exc:
        log.warning("state copies are not scored: could not read held-out data from %s (%r)", config.data, exc)
        return None
    scorer = HeldOutScorer(model, trainable, held_out)
    log.info("state copies scored on %d held-out sequences (initial loss %.3f)", STATE_SCORE_SEQUENCES, scorer.best)
    return scorer


def donor_order(candidates: Collection[str], checked: dict[str, int], rng: random.Random | None = None) -> list[str]:
    """``candidates`` with the least recently checked first (never checked: first of all), ties in
    random order."""
    rng = rng or random.Random()
    keyed = [(checked.get(peer, -1), rng.random(), peer) for peer in candidates]
    return [peer for *_, peer in sorted(keyed)]


class ServedEpochMixin:
    """Put first: the aux peer's copy is served labelled ``vouched_epoch`` (hivemind shares no
    state of an auxiliary peer until `SwarmOptimizer.serve_state` allows it), and that epoch is
    the state-sharing priority it declares in the DHT (hivemind's optimizer sets the priority to
    the aux peer's own epoch counter on every epoch): a trainer reads it (`served_epoch`) to wait
    for a copy at its own epoch before it downloads one. On every peer a copy is taken only
    between epoch updates, never after hivemind counted a new epoch and before its weights are made
    (a synchronous update; a delayed one, ``delay_updates``, is not covered).

    hivemind binds ``get_current_state`` once, when the averager starts (a weak method handed to
    the thread that serves downloads), so it is looked up again here through `served_state`: the
    ``badstate`` fault injection (`trainer.training.attacks`) replaces that on the instance."""

    vouched_epoch: int | None = None
    serves_vouched: bool = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._serving = threading.RLock()
        super().__init__(*args, **kwargs)

    def step(self, *args: Any, **kwargs: Any) -> Any:
        if not kwargs.get("increment_epoch") or kwargs.get("delay_optimizer_step"):
            return super().step(*args, **kwargs)  # type: ignore[misc]
        # hivemind counts the new epoch before it runs the optimizer step that makes the epoch's
        # weights (TrainingStateAverager.step): a copy served in between would carry the old weights
        # under the new label, and the aux peer would serve that to a trainer as the swarm's state
        with self._serving:
            return super().step(*args, **kwargs)  # type: ignore[misc]

    @property
    def state_sharing_priority(self) -> float:
        return super().state_sharing_priority  # type: ignore[misc]

    @state_sharing_priority.setter
    def state_sharing_priority(self, value: float) -> None:
        if self.serves_vouched and self.vouched_epoch is not None:
            value = self.vouched_epoch
        super(ServedEpochMixin, type(self)).state_sharing_priority.fset(self, value)  # type: ignore[attr-defined]

    def get_current_state(self) -> Any:
        return self.served_state()

    def served_state(self) -> Any:
        with self._serving:
            metadata, tensors, infos = super().get_current_state()  # type: ignore[misc]
        if self.serves_vouched and self.vouched_epoch is not None:
            metadata = {**metadata, "epoch": self.vouched_epoch}
        return metadata, tensors, infos


class VouchedDownloads:
    """Put after hivemind's ``TrainingStateAverager`` (the class is a ``DecentralizedAverager``
    subclass placed between them): `load_state_from_peers` asks only the donors
    ``state_donors()`` allows (None: hivemind's own choice by declared priority), in rotation,
    and returns the first state that passes `check_state`. Attributes are read in the parent
    process and sent to the averager's child with each request.
    """

    state_donors: Callable[[], Collection[str] | None] | None = None
    """The peer ids state may come from; None (or a None result) for any declared donor."""
    state_bounds: Callable[[], tuple[int, int] | None] | None = None
    state_checks: StateCheckLog | None = None
    """Where the aux peer records its attempts (None on a trainer: its checks are not evidence)."""
    state_scorer: HeldOutScorer | None = None
    """The aux peer's judge of a copy's held-out loss (None: not scored)."""
    offered_loss: float | None = None
    """The held-out loss of the state the last download returned; the caller `HeldOutScorer.accept`s
    it once the state is installed."""

    def _vouched_setup(self) -> None:
        if not hasattr(self, "_checked"):
            self._checked: dict[str, int] = {}
            self._check_counter = 0
            self.last_attempts: list[StateCheck] = []

    def load_state_from_peers(self, wait: bool = True, timeout: float | None = None) -> Any:
        if self.state_donors is None:
            return super().load_state_from_peers(wait=wait, timeout=timeout)  # type: ignore[misc]
        from hivemind.utils import MPFuture

        self._vouched_setup()
        allowed = self.state_donors()
        bounds = self.state_bounds() if self.state_bounds is not None else None
        self.offered_loss = None
        self.last_attempts = []
        refused: list[str] = []
        while True:  # the child returns the first donor's state that passes; scored here, it may not
            future: MPFuture = MPFuture()
            request = dict(
                timeout=timeout,
                future=future,
                allowed=None if allowed is None else sorted(allowed),
                checked=dict(self._checked),
                bounds=bounds,
                exclude=refused,
            )
            self._outer_pipe.send(("_load_vouched_state", [], request))  # type: ignore[attr-defined]
            # each donor tried is bounded by the chunk timeout in the child; allow a few of them
            state, attempts = future.result(timeout=None if timeout is None else 4 * timeout + 30)
            checks = [StateCheck(peer, epoch, verdict, time.time()) for peer, epoch, verdict in attempts]
            if state is not None and self.state_scorer is not None:
                scorer, passed = self.state_scorer, checks[-1]
                loss = scorer.loss(state[1])
                verdict = judge_loss(loss, scorer.best, scorer.ceiling)
                checks[-1] = StateCheck(passed.peer_id, passed.epoch, verdict, passed.time, loss)
                self._record(checks)
                if verdict == "ok":
                    self.offered_loss = loss
                    return state
                # the next donor is tried, without the one just refused
                refused.append(passed.peer_id)
                log.info("state from %s: held-out loss %.3f, best %.3f", passed.peer_id, loss, scorer.best)
                continue
            self._record(checks)
            return state

    def _record(self, checks: list[StateCheck]) -> None:
        for check in checks:
            self._check_counter += 1
            self._checked[check.peer_id] = self._check_counter
            if check.verdict in BAD_STATE:
                log.warning("state from %s at epoch %d refused: %s", check.peer_id, check.epoch, check.verdict)
        self.last_attempts += checks
        if self.state_checks is not None:
            self.state_checks.extend(checks)

    async def _load_vouched_state(
        self,
        future: Any,
        timeout: float | None = None,
        allowed: list[str] | None = None,
        checked: dict[str, int] | None = None,
        bounds: tuple[int, int] | None = None,
        exclude: list[str] | None = None,
    ) -> None:
        """In the averager's child: try the allowed donors that declared for download, but not the
        ``exclude``d, least recently checked first, until one serves state that passes `check_state`."""
        from hivemind.p2p import PeerID
        from hivemind.utils import ValueWithExpiration

        state, attempts = None, []
        try:
            if timeout is not None:  # hivemind's rule: the timeout bounds each chunk
                timeout = self.next_chunk_timeout or self.request_timeout  # type: ignore[attr-defined]
            prefix = self._matchmaking.group_key_manager.prefix  # type: ignore[attr-defined]
            declared, _ = self.dht.get(f"{prefix}.all_averagers", latest=True) or ({}, None)  # type: ignore[attr-defined]
            sharing = {
                PeerID(raw).to_base58()
                for raw, info in (declared.items() if isinstance(declared, dict) else ())
                if isinstance(info, ValueWithExpiration) and isinstance(info.value, (float, int))
            }
            own = self.peer_id.to_base58()  # type: ignore[attr-defined]
            skip = {own, *(exclude or ())}
            candidates = [peer for peer in sharing if peer not in skip and (allowed is None or peer in allowed)]
            shapes = [tuple(t.shape) for t in (*self.main_parameters, *self.extra_tensors)]  # type: ignore[attr-defined]
            for peer in donor_order(candidates, checked or {}):
                metadata, tensors, verdict = await self._download_state_from(PeerID.from_base58(peer), timeout)
                if verdict == "ok":
                    verdict = check_state(metadata, tensors, shapes, bounds)
                epoch = metadata.get("epoch") if isinstance(metadata, dict) else None
                attempts.append((peer, epoch if isinstance(epoch, int) else -1, verdict))
                if verdict == "ok":
                    state = (metadata, tensors)
                    break
        except Exception as exc:
            log.warning("vouched state download failed: %r", exc)
        finally:
            if not future.done():
                future.set_result((state, attempts))

    async def _download_state_from(self, peer: Any, timeout: float | None) -> tuple[Any, list[Any], str]:
        """(metadata, tensors, "ok") from one donor, or a verdict on why nothing usable came."""
        from hivemind.compression import deserialize_torch_tensor
        from hivemind.proto import averaging_pb2
        from hivemind.utils.asyncio import aiter_with_timeout
        from hivemind.utils.streaming import combine_from_streaming

        metadata, tensors, parts = None, [], []
        try:
            stub = self.get_stub(self._p2p, peer, namespace=self.prefix)  # type: ignore[attr-defined]
            stream = await stub.rpc_download_state(averaging_pb2.DownloadRequest())
            async for message in aiter_with_timeout(stream, timeout=timeout):
                if message.metadata:
                    metadata = self.serializer.loads(message.metadata)  # type: ignore[attr-defined]
                if message.tensor_part.dtype and parts:  # a dtype starts the next tensor
                    tensors.append(deserialize_torch_tensor(combine_from_streaming(parts)))
                    parts = []
                parts.append(message.tensor_part)
            if parts:
                tensors.append(deserialize_torch_tensor(combine_from_streaming(parts)))
        except Exception as exc:
            log.info("state download from %s failed: %r", peer, exc)
            return metadata, tensors, "failed"
        return metadata, tensors, "ok" if metadata else "no_state"


def served_epoch(dht: Any, prefix: str, donors: Collection[str] | None) -> int | None:
    """The highest epoch ``donors`` (None: any peer) declare for the state they share under the
    averager ``prefix`` (the aux peer declares its copy's, `ServedEpochMixin`), or None."""
    from hivemind.p2p import PeerID
    from hivemind.utils import ValueWithExpiration

    found = dht.get(f"{prefix}.all_averagers", latest=True)
    declared = found.value if found is not None and isinstance(found.value, dict) else {}
    epochs = [
        int(item.value)
        for raw, item in declared.items()
        if isinstance(item, ValueWithExpiration)
        and isinstance(item.value, (int, float))
        and (donors is None or PeerID(raw).to_base58() in donors)
    ]
    return max(epochs, default=None)


def vouched_class(base: type) -> type:
    """``base`` (hivemind's ``TrainingStateAverager`` or a subclass) with vouched downloads and a
    served epoch; keeps the base's name, which hivemind names its RPC protocols after."""
    from hivemind.averaging import DecentralizedAverager

    downloads = type("VouchedDownloads", (VouchedDownloads, DecentralizedAverager), {})
    return type(base.__name__, (ServedEpochMixin, base, downloads), {})
