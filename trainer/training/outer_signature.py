"""Whether a DiLoCo peer that stepped alone still holds the swarm's outer weights.

A synchronous DiLoCo peer that saw no other trainer for a whole round's time applies its outer step
alone (`trainer.training.swarm`, the hold and ``solo_grace``). If the others were there all along
(starting up, their progress records not yet visible), they took their first round together
without it, and the epoch counters agree afterwards: nothing made the lone peer download the
swarm's state, so its outer weights stayed its own for good and every later pseudo-gradient it sent
was measured from other weights (a test_attacks run: held-out loss 1.60 at epoch 1, 2.84 at epoch 5,
while the others reached 1.54).

So every robust DiLoCo sender declares, in each round's matchmaking metadata (hivemind's
``gather``, next to its epoch), a signature of its outer weights and whether it stepped alone since
it last matched the swarm. After its next shared round a peer that stepped alone compares its own
with the weights the round's senders take as the swarm's (`swarm_signature`: those of a sender
that did not step alone, the most common, then a rule every sender applies alike): if they differ,
its weights are apart and it downloads the aux peer's copy of the swarm's state (the
``weights_apart`` path); if they match, it is in step again. A peer that never stepped alone is
never judged by this: other senders' declarations cannot make an honest peer in step drop its
work, whatever they declare. Two peers that both stepped alone do not both give way (each would
wait for a copy neither serves): the rule keeps one's weights and the other takes them.

The signature: the sum and the L2 norm, in float64, of each of `CHUNKS` contiguous chunks of the
flattened outer weights. Peers in step do not hold bit-equal weights: the reducer returns each
sender the average as a compressed delta from its own part, so their outer weights drift apart by
the compression's rounding (fp16: about 5e-4 of each round's deviation, a random walk). Two
signatures match when every chunk's sum and norm differ by at most `TOLERANCE` times the chunk's
norm: a lone outer step moves each weight by the outer learning rate times a whole round's inner
progress, percents of the weights (test_attacks' DiLoCo: about 10%), while the compression drift
needs thousands of fp16 rounds to reach 0.1%.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

# @dev Contiguous chunks of the flattened weights with a sum and norm each: a difference confined to
#      a few tensors still moves one chunk's sum by its full size.
CHUNKS = 16

# @dev Largest difference between two peers' chunk sums (and norms), as a fraction of the chunk's
#      norm, that still counts as the same weights (module docstring: compression drift is far
#      below it, a lone outer step far above it).
TOLERANCE = 1e-3

# @dev Elements summed at a time: bounds the float64 temporary to 32 MiB whatever the model's size.
PIECE = 1 << 22


@torch.no_grad()
def outer_signature(tensors: Iterable[torch.Tensor]) -> list[float]:
    """``[sum_0, norm_0, sum_1, norm_1, ...]`` over `CHUNKS` chunks of the flattened ``tensors``."""
    flat = [tensor.detach().reshape(-1) for tensor in tensors]
    total = sum(part.numel() for part in flat)
    bounds = [total * k // CHUNKS for k in range(CHUNKS + 1)]
    sums, squares = [0.0] * CHUNKS, [0.0] * CHUNKS
    offset = 0
    for part in flat:
        start = 0
        while start < part.numel():
            chunk = bisect.bisect_right(bounds, offset + start) - 1
            end = min(part.numel(), bounds[chunk + 1] - offset, start + PIECE)
            piece = part[start:end].to(torch.float64)
            sums[chunk] += float(piece.sum())
            squares[chunk] += float(piece.square().sum())
            start = end
        offset += part.numel()
    return [value for pair in zip(sums, map(math.sqrt, squares), strict=True) for value in pair]


def valid_signature(value: Any) -> list[float] | None:
    """A declared signature, or None if it is not one (every peer's declaration is untrusted)."""
    if not isinstance(value, (list, tuple)) or len(value) != 2 * CHUNKS:
        return None
    if not all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in value):
        return None
    if any(value[i] < 0 for i in range(1, 2 * CHUNKS, 2)):
        return None  # a norm below zero
    return [float(x) for x in value]


def same_weights(a: Sequence[float], b: Sequence[float]) -> bool:
    """Whether two signatures describe the same outer weights (up to `TOLERANCE`)."""
    for k in range(0, 2 * CHUNKS, 2):
        scale = TOLERANCE * max(a[k + 1], b[k + 1])
        if abs(a[k] - b[k]) > scale or abs(a[k + 1] - b[k + 1]) > scale:
            return False
    return True


@dataclass(frozen=True)
class Declaration:
    """What a sender declared about its outer weights in a round's metadata."""

    signature: list[float]
    alone: bool
    """It had stepped alone since it last matched the swarm (its weights may be its own)."""


def parse_declaration(data: Any) -> Declaration | None:
    """A sender's declaration from its metadata (``{"outer": [...], "alone": bool, ...}``), or None."""
    if not isinstance(data, dict):
        return None
    signature = valid_signature(data.get("outer"))
    if signature is None:
        return None
    return Declaration(signature, data.get("alone") is True)


def declarations(gathered: Mapping[Any, Any], own_peer: Any) -> tuple[Declaration | None, list[Declaration]]:
    """From a round's gathered metadata (peer -> what it declared): this peer's own declaration and
    the other senders' valid ones (the reducer, and any malformed entry, declare none)."""
    own, others = None, []
    for peer, data in gathered.items():
        declared = parse_declaration(data)
        if peer == own_peer:
            own = declared
        elif declared is not None:
            others.append(declared)
    return own, others


def swarm_signature(declared: Sequence[Declaration]) -> list[float]:
    """The outer weights a round's senders take as the swarm's, the same for every one of them
    (each has the round's whole metadata): group the signatures that match (`same_weights`), and
    take the group that holds a sender which did not step alone, then the largest, then the one
    with the smallest signature (a tie between peers that all stepped alone: exactly one keeps its
    weights, the others take the aux peer's copy, which can then only be its)."""
    groups: list[list[Declaration]] = []
    for item in sorted(declared, key=lambda d: d.signature):
        for group in groups:
            if same_weights(group[0].signature, item.signature):
                group.append(item)
                break
        else:
            groups.append([item])
    best = min(groups, key=lambda g: (all(d.alone for d in g), -len(g), g[0].signature))
    return best[0].signature


def judge_round(stepped_alone: bool, own: Declaration | None, others: Sequence[Declaration]) -> tuple[bool, bool]:
    """What a round a synchronous DiLoCo sender took part in says: ``(stepped_alone, apart)``.

    ``own`` is what this peer declared (None: nothing to judge) and ``others`` what the round's
    other senders declared. A round with no other sender's declaration was a step alone (the aux
    peer reduced this peer's pseudo-gradient by itself). After a shared round a peer that stepped
    alone is apart unless its outer weights match the swarm's (`swarm_signature`); either way the
    round settles it: apart, it downloads the aux peer's copy; in step, it is no longer "alone". A
    peer that did not step alone is never judged, whatever the others declare."""
    if own is None:
        return stepped_alone, False
    if not others:
        return True, False
    if not stepped_alone:
        return False, False
    if same_weights(own.signature, swarm_signature([own, *others])):
        return False, False
    return True, True
