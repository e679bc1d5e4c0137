"""What a trusted reducer saw of each contribution: the evidence the pool's audit judges claims by.

The aux peer reduces every averaging round whole (see `trainer.training.robust`), so it can record,
for each sender and round, how many samples the sender declared, what weight it was given, how far
its tensor was from the aggregate, and what was done with it. One JSON line per contribution per
round, appended to a file that is never rewritten: a claim can be checked against it however long
ago the round was, and a crash loses at most the line being written.

This module has no torch or hivemind import: the audit (`trainer.pool`) reads the log without them.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Literal

Verdict = Literal["accepted", "clipped", "dropped_nonfinite", "dropped_norm", "not_admitted"]
VERDICTS: tuple[str, ...] = ("accepted", "clipped", "dropped_nonfinite", "dropped_norm", "not_admitted")
# verdicts under which a sender's contribution did not reach the model at all
DROPPED: frozenset[str] = frozenset({"dropped_nonfinite", "dropped_norm", "not_admitted"})
# @dev Where the reducer leaves the one contribution it sampled for a spot check (beside its
#      observation log), and the pool's spot checker picks it up (`trainer.pool.spot_check`).
SPOT_PENDING_FILE = "spot_pending.pt"


@dataclass(frozen=True)
class Observation:
    """One sender's contribution to one averaging round, as the reducer saw it.

    :param epoch: the swarm epoch the round closed (the unit claims are made in).
    :param peer_id: the sender's hivemind peer id (base58).
    :param declared_samples: the samples the sender said it accumulated (its all-reduce weight).
    :param accepted_weight: the weight the reducer gave it: 0 when dropped, at most the cap the
      reducer can justify (see `robust.RobustConfig.max_samples_per_peer`) otherwise.
    :param norm: L2 norm of the sender's whole contribution (all parts); NaN/inf kept as such.
    :param distance: L2 distance between the contribution and the round's aggregate (None when the
      contribution was not finite or not admitted, so there is nothing meaningful to compare).
    :param cosine: cosine similarity with the aggregate (None as for ``distance``, or when either
      is zero).
    :param verdict: what the reducer did with it (one of `VERDICTS`).
    :param scale: the smallest factor CenteredClip kept of any of its parts (1: untouched, 0:
      dropped).
    :param mode: the averaging mode, "gradient" or "diloco".
    :param compared: the other senders of the round whose contributions were screened in, as its was.
    :param opposed: how many of those its contribution points against (negative dot product): a
      sign flip points against every honest sender, whatever weight it holds.
    :param time: wall-clock time (unix seconds) the round was reduced: the audit counts a round as
      a peer's silence only if the peer's signed records place it in the round's epoch then.
    """

    epoch: int
    peer_id: str
    declared_samples: float
    accepted_weight: float
    norm: float
    distance: float | None
    cosine: float | None
    verdict: Verdict
    scale: float = 1.0
    mode: str = "gradient"
    time: float = 0.0
    compared: int = 0
    opposed: int = 0

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"unknown verdict {self.verdict!r}; expected one of {', '.join(VERDICTS)}")

    @property
    def dropped(self) -> bool:
        return self.verdict in DROPPED

    def to_json(self) -> str:
        # NaN and inf norms are evidence too; JSON has no literal for them, so they are strings
        record = {k: _encode_float(v) if isinstance(v, float) else v for k, v in asdict(self).items()}
        return json.dumps(record, sort_keys=True, allow_nan=False)

    @classmethod
    def from_json(cls, line: str) -> Observation:
        raw = json.loads(line)
        names = {f.name for f in fields(cls)}
        values = {key: _decode_float(raw[key]) if key in _FLOAT_FIELDS else raw[key] for key in names & raw.keys()}
        return cls(**values)


_FLOAT_FIELDS = frozenset({"declared_samples", "accepted_weight", "norm", "distance", "cosine", "scale", "time"})


def _encode_float(value: float) -> float | str:
    if value != value:
        return "nan"
    if value in (float("inf"), float("-inf")):
        return "inf" if value > 0 else "-inf"
    return value


def _decode_float(value: float | str | None) -> float | None:
    if value is None:
        return None
    return float(value)


class ObservationLog:
    """An append-only JSONL file of `Observation`s, safe to append from several threads.

    Reading skips a last line cut short by a crash (the only line a crash can damage) and fails on
    any other malformed line, naming the file and line: evidence is not silently dropped.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def append(self, observations: Iterable[Observation]) -> None:
        lines = "".join(obs.to_json() + "\n" for obs in observations)
        if not lines:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, open(self.path, "a", encoding="utf-8") as handle:
            handle.write(lines)
            handle.flush()
            os.fsync(handle.fileno())

    def __iter__(self) -> Iterator[Observation]:
        if not self.path.exists():
            return
        with open(self.path, encoding="utf-8") as handle:
            lines = handle.readlines()
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                yield Observation.from_json(line)
            except (ValueError, TypeError) as exc:
                if number == len(lines) and not line.endswith("\n"):
                    return  # a write cut short by a crash
                raise ValueError(f"{self.path}:{number}: malformed observation ({exc})") from None

    def read(self) -> list[Observation]:
        return list(self)

    def query(
        self, peer_id: str | None = None, first_epoch: int | None = None, last_epoch: int | None = None
    ) -> list[Observation]:
        """Observations of ``peer_id`` (every peer if None) in epochs ``first_epoch..last_epoch``
        (inclusive; open-ended where None), in the order they were written."""
        return [
            obs
            for obs in self
            if (peer_id is None or obs.peer_id == peer_id)
            and (first_epoch is None or obs.epoch >= first_epoch)
            and (last_epoch is None or obs.epoch <= last_epoch)
        ]

    def peers(self) -> set[str]:
        return {obs.peer_id for obs in self}


# @dev Beside the observation log: every request to join one of the reducer's rounds that matched
#      the run's tensors (schema hash), with the epoch the sender declared. A round a peer tried to
#      join but missed (the group closed first, a timeout on a loaded machine) is not silence: the
#      audit never counts it against the peer (`trainer.pool.evidence`).
ATTEMPTS_FILE = "join_attempts.jsonl"


@dataclass(frozen=True)
class JoinAttempt:
    """One request to join a round of the reducer: who asked, for which epoch, when (unix time)."""

    peer_id: str
    epoch: int
    time: float


class JoinAttemptLog:
    """An append-only JSONL file of `JoinAttempt`s (same crash rule as `ObservationLog`)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def append(self, attempt: JoinAttempt) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(asdict(attempt)) + "\n")
            handle.flush()

    def read(self) -> list[JoinAttempt]:
        if not self.path.exists():
            return []
        lines = self.path.read_text(encoding="utf-8").splitlines(keepends=True)
        out = []
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
                out.append(JoinAttempt(str(raw["peer_id"]), int(raw["epoch"]), float(raw["time"])))
            except (ValueError, TypeError, KeyError) as exc:
                if number == len(lines) and not line.endswith("\n"):
                    break  # a write cut short by a crash
                raise ValueError(f"{self.path}:{number}: malformed join attempt ({exc})") from None
        return out
