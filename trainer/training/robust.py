"""Robust aggregation: how a trusted reducer combines the contributions of one averaging round.

hivemind's all-reduce is a weighted mean with weights the senders declare, so one sender can move
the result anywhere (a gradient times 1e3, a NaN, a weight of 1e9 samples). The pool's aux peer is
the only reducer when `TrainConfig.robust_aggregation` is on (trainers send in averaging client
mode), so it sees every contribution whole and combines them here instead, part by part as BTARD
does (Gorbunov et al., "Secure Distributed Training at Scale", ICML 2022):

1. admission: a sender not on the pool's allow-list is ignored (``not_admitted``);
2. screening: a part with a NaN or infinity is dropped (``dropped_nonfinite``); so is a part whose
   norm is more than ``max_norm_ratio`` times the median norm of the other senders' parts, or of
   the reference the reducer keeps from earlier rounds that had two or more screened senders
   (``dropped_norm``): an honest gradient is not a thousand times larger than its peers', and a
   sender alone in a round is still measured against the swarm's recent ones. A DiLoCo
   pseudo-gradient is a sum of local steps, so its norm grows with the samples behind it (a peer
   that missed a round brings two epochs of steps): with ``norm_per_sample`` the screen compares
   norm per declared sample, the declaration first capped as in step 3, so an inflated declaration
   buys at most the cap's factor of extra norm, and measures a sender against the others only when
   there are two or more (see `aggregate_part`);
3. weights: a sender's declared samples are capped at ``weight_cap_ratio`` times the (lower)
   median declared by the round's screened senders and at ``max_samples_per_peer`` (the trainer sets
   twice the pool's target batch size, which holds a sender alone in a round), so an inflated
   declaration buys at most a couple of honest peers' share (``clipped`` when capped); honest
   peers' samples per round vary (who started the round when), so the cap leaves them room;
4. CenteredClip (BTARD, Algorithm 2): starting from the coordinate-wise median, iterate
   ``v <- v + sum_i w_i * min(1, tau / |x_i - v|) * (x_i - v) / sum_i w_i`` with ``tau`` a multiple of
   the median distance to the start: with fewer than half the weight Byzantine, the result moves at
   most ``tau`` times the attackers' weight share from where the honest peers put it, whatever the
   attackers send. A sender scaled down by the clip is ``clipped``.

Honest contributions the screen dropped in clean-clone runs (test_attacks, weight-gradient):

- Weights apart from the swarm's (found): a gradient-mode peer whose round failed took a step the
  swarm did not (hivemind's fallback stepped on momentum alone) and stays apart from the swarm's
  weights for good (`trainer.training.swarm`, module docstring); its later gradients are honest
  gradients at other weights. In one run two honest peers whose rounds of epochs 1-4 failed sent
  norms 3.1 and 2.9 at epoch 5, the two peers in step 0.69 and 1.02, and one was dropped. Parts
  are whole tensors here (hivemind splits a tensor only past 2**19 compressed bytes), and a small
  tensor's gradient moves far more than the whole's: replaying one peer offline, the final norm's
  weight gradient grew 12x over 7 epochs, the whole 1.3x, so peers some steps apart differ by more
  than 10x on such a part.
- A contribution of norm 3.7e5 against the others' 0.86-0.89 (not found): the peer's second round,
  before any round of it failed, with its weights in step (its loss was the others'). What it sent
  was not its gradient: its batch stream replayed offline gives 0.835 at epoch 0, the norm the
  reducer observed, and 0.93 at epoch 1 (1.43 at most for one micro-batch). Ruled out: a round run
  before its step set a weight (it declared its 104 samples); hivemind's buffers written by the
  trainer outside the averager's lock (every writer takes it, and a round holds it from its first
  read to its last write); hivemind's pre-scheduled rounds, tag-alongs and failed rounds with a
  weight-inflating sender beside them (real optimizers on loopback, four runs of 8-12 epochs:
  every observed norm was the norm the sender had loaded into its buffers). hivemind's fp16 compression clamps
  an infinity to 65504, so 3.7e5 is about 31 infinite values or fewer huge ones.
  `trainer.training.reducer` now logs each dropped part (which, its largest values, how many at
  fp16's largest) and a sender warns when what it sends is non-finite or 100x its previous round's.

With honest senders only and ``clip_multiplier`` large enough that nobody is clipped, the result is
the weighted mean, i.e. plain averaging. Works on any flat tensor: gradients, DiLoCo
pseudo-gradients, LoRA adapters alike. This module imports torch only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch


@dataclass(frozen=True)
class RobustConfig:
    """Knobs of the robust reducer (defaults justified in trainer/README.md, "Swarm integrity").

    :param max_norm_ratio: drop a part whose norm exceeds this multiple of the round's median norm.
    :param clip_multiplier: CenteredClip's ``tau`` as a multiple of the median distance to the
      coordinate-wise median (3: honest peers' spread is well inside it on every run we measured).
    :param clip_iterations: CenteredClip iterations (BTARD finds a few enough).
    :param weight_cap_ratio: a sender's weight is capped at this multiple of the median declared.
    :param max_samples_per_peer: an absolute cap on one sender's weight (None: only the median cap).
    :param norm_per_sample: screen norms per (capped) declared sample: DiLoCo pseudo-gradients,
      whose norm grows with the local steps behind them; mean gradients keep raw norms.
    """

    max_norm_ratio: float = 10.0
    clip_multiplier: float = 3.0
    clip_iterations: int = 5
    weight_cap_ratio: float = 2.0
    max_samples_per_peer: float | None = None
    norm_per_sample: bool = False


@dataclass
class PartResult:
    """One part's aggregate and what was done with each sender's tensor."""

    aggregate: torch.Tensor
    verdicts: list[str]
    weights: list[float]  # accepted weight per sender (0 when dropped)
    scales: list[float]  # CenteredClip's factor per sender (1: untouched, 0: dropped)
    reference_norm: float | None = None  # the screened senders' median norm (per sample with
    # norm_per_sample), when two or more


@dataclass
class SenderTally:
    """Whole-round statistics of one sender, summed over the parts it sent (for `Observation`)."""

    declared: float = 0.0
    accepted: float = 0.0
    sq_norm: float = 0.0
    sq_distance: float = 0.0
    dot: float = 0.0
    sq_aggregate: float = 0.0
    scale: float = 1.0
    verdict: str = "accepted"
    parts: int = 0
    # other screened-in senders of the round, and how many of them its contribution points against
    # (negative dot product): set by the reducer when the round ends, see `opposition`
    compared: int = 0
    opposed: int = 0

    # the worse verdict wins, in this order
    _RANK = {"accepted": 0, "clipped": 1, "dropped_norm": 2, "dropped_nonfinite": 3, "not_admitted": 4}

    def add(self, part: torch.Tensor, aggregate: torch.Tensor, verdict: str, weight: float, scale: float) -> None:
        self.parts += 1
        self.accepted = weight if self.parts == 1 else min(self.accepted, weight)
        self.scale = min(self.scale, scale)
        if self._RANK[verdict] > self._RANK[self.verdict]:
            self.verdict = verdict
        part = part.float()
        self.sq_norm += float(part.square().sum())
        if verdict in ("accepted", "clipped"):
            self.sq_distance += float((part - aggregate).square().sum())
            self.dot += float((part * aggregate).sum())
            self.sq_aggregate += float(aggregate.square().sum())

    @property
    def norm(self) -> float:
        return self.sq_norm**0.5

    @property
    def distance(self) -> float | None:
        return self.sq_distance**0.5 if self.verdict in ("accepted", "clipped") else None

    @property
    def cosine(self) -> float | None:
        if self.verdict not in ("accepted", "clipped") or self.sq_norm == 0 or self.sq_aggregate == 0:
            return None
        return self.dot / (self.sq_norm * self.sq_aggregate) ** 0.5


@dataclass
class RoundTally:
    """Per-sender tallies of one all-reduce round."""

    senders: list[SenderTally] = field(default_factory=list)


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def _weight_cap(declared: list[float], config: RobustConfig) -> float:
    # the lower median: with two senders, an inflated declaration is held to twice the other's
    cap = config.weight_cap_ratio * sorted(declared)[(len(declared) - 1) // 2]
    return cap if config.max_samples_per_peer is None else min(cap, config.max_samples_per_peer)


def aggregate_part(
    parts: list[torch.Tensor | None],
    declared: list[float],
    config: RobustConfig,
    admitted: list[bool] | None = None,
    reference_norm: float | None = None,
) -> PartResult:
    """Combine one part from every sender (None: the sender sent nothing for it, or the caller
    already dropped it earlier in the round: a peer that sent a NaN is not trusted for the rest)."""
    count = len(parts)
    admitted = admitted if admitted is not None else [True] * count
    shape = next(part.shape for part in parts if part is not None)
    verdicts = ["accepted"] * count
    weights = [0.0] * count
    scales = [0.0] * count
    flat: list[torch.Tensor | None] = [None] * count
    for index, part in enumerate(parts):
        if not admitted[index]:
            verdicts[index] = "not_admitted"
        elif part is None or declared[index] == 0:
            continue  # nothing sent for this part, or a zero-weight tag-along: no say, nothing wrong
        elif not math.isfinite(declared[index]) or declared[index] < 0 or not bool(torch.isfinite(part).all()):
            verdicts[index] = "dropped_nonfinite"
        else:
            flat[index] = part.detach().float().reshape(-1)

    live = [index for index in range(count) if flat[index] is not None]
    norms = {index: float(flat[index].norm()) for index in live}
    if config.norm_per_sample and live:
        provisional = _weight_cap([declared[index] for index in live], config)
        norms = {index: norm / min(declared[index], provisional) for index, norm in norms.items()}
    # in DiLoCo mode one other sender is no yardstick: each pseudo-gradient is a step from its
    # sender's own outer weights, and an honest peer that applied an outer step alone before it saw
    # the swarm stays apart; in a clean-clone run the two finite senders of a round differed over 10x
    # per sample on one part and the honest one was dropped. There, only the reference of earlier
    # rounds with two or more senders (which still drops a scaled pseudo-gradient) is the yardstick
    fewest_others = 2 if config.norm_per_sample else 1
    for index in list(live):
        # the median of the others: with two senders a plain median would sit halfway to an attacker
        others = [norms[other] for other in live if other != index]
        median = _median(others) if len(others) >= fewest_others else None
        references = [value for value in (median, reference_norm) if value]
        if any(norms[index] > config.max_norm_ratio * value for value in references):
            verdicts[index] = "dropped_norm"
            flat[index] = None
    live = [index for index in live if flat[index] is not None]
    if not live:
        return PartResult(torch.zeros(shape), verdicts, weights, scales)

    cap = _weight_cap([declared[index] for index in live], config)
    for index in live:
        weights[index] = min(declared[index], cap)
        if weights[index] < declared[index]:
            verdicts[index] = "clipped"

    stacked = torch.stack([flat[index] for index in live])
    weight = torch.tensor([weights[index] for index in live], dtype=torch.float32)
    center, factors = centered_clip(stacked, weight, config.clip_multiplier, config.clip_iterations)
    for position, index in enumerate(live):
        scales[index] = float(factors[position])
        if scales[index] < 1.0:
            verdicts[index] = "clipped"
    # a reference for later rounds only from rounds where senders could be compared with each other
    reference = _median([norms[index] for index in live]) if len(live) >= 2 else None
    return PartResult(center.reshape(shape), verdicts, weights, scales, reference)


def centered_clip(
    vectors: torch.Tensor, weights: torch.Tensor, multiplier: float, iterations: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """CenteredClip over the rows of ``vectors``; returns the center and each row's final clip factor.

    ``tau`` is ``multiplier`` times the median distance of the rows to the coordinate-wise median,
    so the radius scales with the honest spread and needs no tuning per model. With one row, or all
    rows equal, the result is the weighted mean.
    """
    total = weights.sum()
    if vectors.shape[0] == 1 or total <= 0:
        return vectors[0].clone(), torch.ones(vectors.shape[0])
    center = vectors.median(dim=0).values if vectors.shape[0] > 2 else (vectors * weights[:, None]).sum(0) / total
    start = (vectors - center).norm(dim=1)
    tau = multiplier * float(start.median())
    if tau == 0:
        return (vectors * weights[:, None]).sum(0) / total, torch.ones(vectors.shape[0])
    factors = torch.ones(vectors.shape[0])
    for _ in range(iterations):
        offsets = vectors - center
        distances = offsets.norm(dim=1)
        factors = torch.clamp(tau / distances.clamp_min(1e-30), max=1.0)
        center = center + (offsets * (weights * factors)[:, None]).sum(0) / total
    distances = (vectors - center).norm(dim=1)
    factors = torch.clamp(tau / distances.clamp_min(1e-30), max=1.0)
    return center, factors


def opposition(dots: dict[tuple[int, int], float], screened: list[int]) -> dict[int, tuple[int, int]]:
    """For each screened-in sender, (other screened-in senders, how many of them it points against),
    from the dot products of whole contributions (``dots[(i, j)]``, i < j, summed over parts).

    Unlike the cosine with the aggregate, this does not depend on weights: a sign-flipped sender
    that holds most of a round's weight moves the aggregate its way (CenteredClip bounds that only
    below half the weight), but it still points against every honest sender.
    """
    out = {}
    for i in screened:
        others = [j for j in screened if j != i]
        out[i] = (len(others), sum(1 for j in others if dots.get((min(i, j), max(i, j)), 0.0) < 0))
    return out
