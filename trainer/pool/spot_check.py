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
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

SPOT_CHECKS_FILE = "spot_checks.jsonl"
# @dev Below this score a contribution did not help the model: an honest minibatch gradient scores
#      about 0.5-1 (it agrees with the held-out gradient only in part), noise about 0 (a random
#      direction is nearly orthogonal in millions of dimensions), a flipped sign about -0.5 to -1.
MIN_SPOT_SCORE = 0.2
# @dev The step taken along each direction, as a fraction of the parameters' norm (at least 1): small enough
#      that the loss change is first-order (linear in the direction), large enough to beat float noise.
STEP_FRACTION = 1e-3


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
        return self.score >= MIN_SPOT_SCORE


def loss_change_score(
    params: Sequence[torch.Tensor],
    loss: Callable[[], torch.Tensor],
    contribution: Sequence[torch.Tensor],
    aggregate: Sequence[torch.Tensor],
) -> tuple[float, float, float, float]:
    """(score, loss before, loss after a step along `contribution`, after one along `aggregate`).

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
    score = (before - with_contribution) / gain if gain > 0 else 0.0
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
