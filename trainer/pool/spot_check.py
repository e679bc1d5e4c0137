"""Spot checks: does a contribution lower the loss on data the aux peer holds back?

The reducer sees each contribution whole; a spot check takes one (a sampled sender's, in a
sampled round) and scores it by what it does to the model: the loss on a held-out batch after a
small step along the contribution, against the same step along the round's aggregate, both scaled
to the aggregate's norm (the norm is the reducer's business; this checks the direction):

    score = (loss_before - loss_after_contribution) / (loss_before - loss_after_aggregate)

An honest gradient of the run's data scores near 1 (it points where the swarm's does), random
noise near 0, a flipped sign below 0. The held-out batch must be large enough that its own
gradient is accurate (thousands of sequences), or the score of every contribution is noisy. A
contribution that scores below `MIN_SPOT_SCORE` is not credited by the audit
(`trainer.pool.evidence`).

Why this rather than recomputing a micro-batch from the claimant's data shard: recomputation
needs the exact weights, data position, dropout state and precision the claimant used, and GPU
kernels are not bitwise reproducible, so an exact comparison fails honest peers and a tolerant one
is easy to game; the loss change needs only the aux peer's copy of the model and a batch the
claimants never see, costs two forward passes, and measures what matters to the pool (does this
work improve the model).

Results are appended to ``spot_checks.jsonl`` in the aux peer's workdir (one line per check).

In the running aux peer (`start_spot_checks`, wired by `trainer.pool.aux_service`): the reducer
samples one admitted sender of each round at random and leaves its contribution with the round's
aggregate beside the observation log (`trainer.training.reducer`); a `SpotChecker` thread scores
it on the aux peer's own copy of the model and appends the result. What it costs, bounded: three
forward passes over `HELD_OUT_SEQUENCES` sequences per check, one check at a time, and the reducer
samples no round while a sample waits (a slow checker checks fewer rounds; nothing queues). Why
one per round at random: an attacker cannot tell which rounds are checked, so one that poisons a
share of its rounds is caught in about that share of its checks, and honest peers pay nothing.

The held-out batch is read from the run's own data source, from the shard of a name no trainer
has (``held-out:<run>``); shards are hashes, so some trainer may read the same shard. That only
helps an honest contribution's score (it fits the batch better), never a noisy or flipped one.
The model copy starts as the aux peer's weights and follows its checkpoint downloads
(`SpotChecker.load_weights`): between downloads its weights are older than the swarm's, which
blurs the score of honest contributions a little and of sign flips not at all.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainer.training.observations import SPOT_PENDING_FILE
from trainer.training.vouched_state import held_out_batch, held_out_loss

if TYPE_CHECKING:
    import torch

    from trainer.training.config import TrainConfig

log = logging.getLogger("trainer.pool.spot_check")

SPOT_CHECKS_FILE = "spot_checks.jsonl"
# @dev Below this score a contribution did not help the model: an honest minibatch gradient scores
#      about 0.5-1 (it agrees with the held-out gradient only in part), noise about 0 (a random
#      direction is nearly orthogonal in millions of dimensions), a flipped sign about -0.5 to -1.
MIN_SPOT_SCORE = 0.2
# @dev The step taken along each direction, as a fraction of the parameters' norm (at least 1): small enough
#      that the loss change is first-order (linear in the direction), large enough to beat float noise.
STEP_FRACTION = 1e-3
# @dev Sequences in the aux peer's held-out batch: enough that its loss change is not dominated by
#      which sequences it holds (the honest scores of the bench's tiny model, bench/RESULTS.md), few
#      enough that a check is three forward passes of a small batch.
HELD_OUT_SEQUENCES = 256
# @dev Rows per forward pass of the held-out loss (bounds the checker's activation memory).
HELD_OUT_CHUNK = 16
# @dev Seconds between looks for a sampled contribution.
POLL_SECONDS = 1.0


@dataclass(frozen=True)
class SpotCheck:
    epoch: int
    peer_id: str
    score: float
    loss_before: float
    loss_contribution: float
    loss_aggregate: float

    @property
    def passed(self) -> bool:
        # NaN: inconclusive (the aggregate did not lower the held-out loss either), so no failure
        return not self.score < MIN_SPOT_SCORE


def loss_change_score(
    params: Sequence[torch.Tensor],
    loss: Callable[[], torch.Tensor],
    contribution: Sequence[torch.Tensor],
    aggregate: Sequence[torch.Tensor],
) -> tuple[float, float, float, float]:
    """(score, loss before, loss after a step along `contribution`, after one along `aggregate`);
    the score is NaN when the step along the aggregate does not lower the loss (inconclusive).

    `params` are the trainable tensors the contributions are gradients of, `loss()` the model's loss
    on the held-out batch. Both steps have the same length; the parameters are restored after.
    """
    import torch

    def norm(tensors: Sequence[torch.Tensor]) -> float:
        return math.sqrt(sum(float(t.detach().double().pow(2).sum()) for t in tensors))

    with torch.no_grad():
        saved = [p.detach().clone() for p in params]
        # at least a unit-norm scale: parameters can start at zero (LoRA's B matrices)
        step = STEP_FRACTION * max(norm(params), 1.0) / max(norm(aggregate), 1e-12)

        def after(direction: Sequence[torch.Tensor], scale: float) -> float:
            for p, d, s in zip(params, direction, saved, strict=True):
                p.copy_(s - step * scale * d.to(p.dtype))
            value = float(loss())
            for p, s in zip(params, saved, strict=True):
                p.copy_(s)
            return value

        before = float(loss())
        with_aggregate = after(aggregate, 1.0)
        finite = all(bool(torch.isfinite(c).all()) for c in contribution)
        size = norm(contribution) if finite else 0.0
        # a non-finite or empty contribution moves nothing: it scores 0 (the reducer drops it anyway)
        with_contribution = after(contribution, norm(aggregate) / size) if size > 0 else before
    gain = before - with_aggregate
    # when the round's own aggregate does not lower the loss on the checker's (older) weights, the
    # batch says nothing about any contribution of the round: NaN, inconclusive (the bench's honest
    # run had such a round, and a score of 0 there failed an honest peer)
    score = (before - with_contribution) / gain if gain > 0 else float("nan")
    return score, before, with_contribution, with_aggregate


class SpotCheckLog:
    """Append-only JSONL of `SpotCheck`s."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def append(self, check: SpotCheck) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a") as fh:
            fh.write(json.dumps(asdict(check)) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def read(self) -> list[SpotCheck]:
        if not self.path.exists():
            return []
        lines = self.path.read_text().splitlines()
        checks = []
        for number, line in enumerate(lines, start=1):
            try:
                checks.append(SpotCheck(**json.loads(line)))
            except (ValueError, TypeError):
                if number == len(lines):
                    break  # a write cut short by a crash
                raise ValueError(f"{self.path}:{number}: malformed spot check") from None
        return checks


class SpotChecker:
    """Scores the contributions the reducer samples, on its own copy of the aux peer's model.

    `check_pending` scores the waiting sample, if any, appends the result to the log and removes the
    sample (the reducer then samples again); `start` runs it in a daemon thread until `close`.
    """

    def __init__(self, directory: Path, model: Any, trainable: Sequence[Any], held_out: torch.Tensor) -> None:
        self.pending = Path(directory) / SPOT_PENDING_FILE
        self.log = SpotCheckLog(Path(directory) / SPOT_CHECKS_FILE)
        names = {id(param): name for name, param in model.named_parameters()}
        self.model = copy.deepcopy(model).eval()  # its own: a check moves weights the aux peer serves
        own = dict(self.model.named_parameters())
        self.params = [own[names[id(param)]] for param in trainable]
        self.held_out = held_out
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def load_weights(self, trainable: Sequence[Any]) -> None:
        """Follow the aux peer's weights (after a checkpoint download)."""
        import torch

        with self._lock, torch.no_grad():
            for mine, theirs in zip(self.params, trainable, strict=True):
                mine.copy_(theirs.detach())

    def loss(self) -> torch.Tensor:
        import torch

        return torch.tensor(held_out_loss(self.model, self.held_out, HELD_OUT_CHUNK))

    def check_pending(self) -> SpotCheck | None:
        if not self.pending.exists():
            return None
        import torch

        try:
            sample = torch.load(self.pending, map_location="cpu", weights_only=True)
            contribution = _split(sample["contribution"], self.params)
            aggregate = _split(sample["aggregate"], self.params)
        except (OSError, KeyError, RuntimeError, ValueError) as exc:
            log.error("spot check sample %s is unusable (%r); dropped", self.pending, exc)
            self.pending.unlink(missing_ok=True)
            return None
        with self._lock:
            score, before, with_contribution, with_aggregate = loss_change_score(
                self.params, self.loss, contribution, aggregate
            )
        check = SpotCheck(
            int(sample["epoch"]), str(sample["peer_id"]), score, before, with_contribution, with_aggregate
        )
        self.log.append(check)
        self.pending.unlink(missing_ok=True)
        if not check.passed:
            log.warning("spot check: peer %s failed in epoch %d (score %.3f)", check.peer_id, check.epoch, score)
        return check

    def start(self) -> SpotChecker:
        def loop() -> None:
            while not self._stop.wait(POLL_SECONDS):
                try:
                    self.check_pending()
                except Exception as exc:  # a failed check must not stop the next ones
                    log.error("spot check failed: %r", exc)

        self._thread = threading.Thread(target=loop, name="spot-checks", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


def _split(flat: torch.Tensor, params: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """hivemind averages the trainable tensors flattened and concatenated, in order: undo that."""
    sizes = [param.numel() for param in params]
    if flat.numel() != sum(sizes):
        raise ValueError(f"{flat.numel()} values for {sum(sizes)} trainable parameters")
    return [part.view_as(param) for part, param in zip(flat.split(sizes), params, strict=True)]


def start_spot_checks(model: Any, trainable: Sequence[Any], tokenizer: Any, config: TrainConfig) -> SpotChecker | None:
    """The aux peer's spot checker, running, beside its observation log (None, with a warning, when
    the run's data cannot be read here: the audit then judges by the reducer's observations alone)."""
    if config.observations_file is None:
        return None
    try:
        held_out = held_out_batch(config, tokenizer, HELD_OUT_SEQUENCES)
    except Exception as exc:
        log.warning("no spot checks: could not read held-out data from %s (%r)", config.data, exc)
        return None
    log.info("spot checks on: %d held-out sequences of %s", int(held_out.shape[0]), config.data)
    return SpotChecker(config.observations_file.parent, model, trainable, held_out).start()
