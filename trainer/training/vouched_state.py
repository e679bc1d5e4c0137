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
  weights). It refreshes the copy once per swarm epoch from one admitted donor, rotating through
  them (the least recently checked first, ties broken at random), so every admitted donor that
  shares state is checked once every N downloads with N such donors. A copy is installed only if
  its weights are finite, have the model's shapes, and its epoch lies between the copy it replaces
  and one past the swarm's (quorum) epoch; a donor that fails is skipped for the next one.
- **Evidence**: every attempt of the aux peer is appended to ``state_checks.jsonl``
  (`StateCheckLog`) with its verdict; ``nonfinite`` and ``shape`` (`BAD_STATE`) are positive
  evidence against the donor (`trainer.pool.evidence`): the aux peer downloaded that state from
  the donor itself, over a channel keyed by the donor's id, so no peer can frame another. A
  trainer's own checks are never reported (a trainer's word about another peer is not evidence).

Cost: the aux peer downloads the whole training state (weights and optimizer statistics) once per
swarm epoch, and uploads it once per trainer that downloads (a trainer that joins, lags, or
missed a round). For the demo's model that is a few MB per epoch; for a 1B-parameter model in
fp32 with AdamW, about 12 GB per epoch before compression: the aux peer's bandwidth bounds the
swarm's epoch rate, as it already does as the reducer.
"""

from __future__ import annotations

import json
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("trainer")

STATE_CHECKS_FILE = "state_checks.jsonl"
# @dev Verdicts of an attempted download. Only the first two are evidence against the donor; the
#      others are a donor that did not answer, sent nothing, or is at an epoch we do not install.
BAD_STATE = ("nonfinite", "shape")
VERDICTS = ("ok", *BAD_STATE, "epoch", "no_state", "failed")


@dataclass(frozen=True)
class StateCheck:
    """One download the aux peer attempted from one donor."""

    peer_id: str
    epoch: int
    """The epoch the donor's state was labelled with (-1 when nothing arrived)."""
    verdict: str
    time: float


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
                out.append(StateCheck(str(raw["peer_id"]), int(raw["epoch"]), str(raw["verdict"]), float(raw["time"])))
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
    if len(tensors) < len(shapes) or any(tuple(t.shape) != tuple(s) for t, s in zip(tensors, shapes, strict=False)):
        return "shape"
    if not all(bool(torch.isfinite(tensor).all()) for tensor in tensors[: len(shapes)]):
        return "nonfinite"
    if bounds is not None and not bounds[0] <= epoch <= bounds[1]:
        return "epoch"
    return "ok"


def donor_order(candidates: Collection[str], checked: dict[str, int], rng: random.Random | None = None) -> list[str]:
    """``candidates`` with the least recently checked first (never checked: first of all), ties in
    random order."""
    rng = rng or random.Random()
    keyed = [(checked.get(peer, -1), rng.random(), peer) for peer in candidates]
    return [peer for *_, peer in sorted(keyed)]


class ServedEpochMixin:
    """Put first: the aux peer's copy is served labelled ``vouched_epoch`` (hivemind shares no
    state of an auxiliary peer until `SwarmOptimizer.serve_state` allows it).

    hivemind binds ``get_current_state`` once, when the averager starts (a weak method handed to
    the thread that serves downloads), so it is looked up again here through `served_state`: the
    ``badstate`` fault injection (`trainer.training.attacks`) replaces that on the instance."""

    vouched_epoch: int | None = None
    serves_vouched: bool = False

    def get_current_state(self) -> Any:
        return self.served_state()

    def served_state(self) -> Any:
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
        future: MPFuture = MPFuture()
        request = dict(
            timeout=timeout,
            future=future,
            allowed=None if allowed is None else sorted(allowed),
            checked=dict(self._checked),
            bounds=bounds,
        )
        self._outer_pipe.send(("_load_vouched_state", [], request))  # type: ignore[attr-defined]
        # each donor tried is bounded by the chunk timeout in the child; allow a few of them
        state, attempts = future.result(timeout=None if timeout is None else 4 * timeout + 30)
        checks = [StateCheck(peer, epoch, verdict, time.time()) for peer, epoch, verdict in attempts]
        for check in checks:
            self._check_counter += 1
            self._checked[check.peer_id] = self._check_counter
            if check.verdict in BAD_STATE:
                log.warning("state from %s at epoch %d refused: %s", check.peer_id, check.epoch, check.verdict)
        self.last_attempts = checks
        if self.state_checks is not None:
            self.state_checks.extend(checks)
        return state

    async def _load_vouched_state(
        self,
        future: Any,
        timeout: float | None = None,
        allowed: list[str] | None = None,
        checked: dict[str, int] | None = None,
        bounds: tuple[int, int] | None = None,
    ) -> None:
        """In the averager's child: try the allowed donors that declared for download, least
        recently checked first, until one serves state that passes `check_state`."""
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
            candidates = [peer for peer in sharing if peer != own and (allowed is None or peer in allowed)]
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


def vouched_class(base: type) -> type:
    """``base`` (hivemind's ``TrainingStateAverager`` or a subclass) with vouched downloads and a
    served epoch; keeps the base's name, which hivemind names its RPC protocols after."""
    from hivemind.averaging import DecentralizedAverager

    downloads = type("VouchedDownloads", (VouchedDownloads, DecentralizedAverager), {})
    return type(base.__name__, (ServedEpochMixin, base, downloads), {})
