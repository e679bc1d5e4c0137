"""The outer-weight signature a synchronous DiLoCo sender declares with each round, and what a
round's declarations tell a peer that stepped alone (`trainer.training.outer_signature`). Spec:
docs/SPEC.md's swarm integrity (a peer's pseudo-gradient must be measured from the swarm's outer
weights); the loopback test with real optimizers is in test_diloco_resync.py."""

from __future__ import annotations

import math

import pytest
import torch

from trainer.training import outer_signature as sig
from trainer.training.outer_signature import (
    CHUNKS,
    Declaration,
    declarations,
    judge_round,
    outer_signature,
    parse_declaration,
    same_weights,
    swarm_signature,
    valid_signature,
)


def weights(seed: int = 0, shapes: tuple[tuple[int, ...], ...] = ((64, 32), (32,), (100, 7))) -> list[torch.Tensor]:
    """A model's outer weights: several fp32 tensors of the scale of an initialised LLaMA."""
    generator = torch.Generator().manual_seed(seed)
    return [0.02 * torch.randn(shape, generator=generator) for shape in shapes]


def step(tensors: list[torch.Tensor], size: float, seed: int) -> list[torch.Tensor]:
    """The weights after an outer step of ``size`` per value (random directions)."""
    generator = torch.Generator().manual_seed(seed)
    return [t + size * torch.randn(t.shape, generator=generator) for t in tensors]


def test_the_signature_is_the_sum_and_norm_of_each_chunk_of_the_flattened_weights(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tensors = weights()
    flat = torch.cat([t.reshape(-1) for t in tensors]).double()
    bounds = [flat.numel() * k // CHUNKS for k in range(CHUNKS + 1)]
    expected = []
    for k in range(CHUNKS):
        chunk = flat[bounds[k] : bounds[k + 1]]
        expected += [float(chunk.sum()), float(chunk.norm())]
    # pieces that split chunks and tensors at other places add up to the same
    for piece in (3, 1000, 1 << 22):
        monkeypatch.setattr(sig, "PIECE", piece)
        assert outer_signature(tensors) == pytest.approx(expected, rel=1e-12, abs=1e-15)
    assert len(expected) == 2 * CHUNKS


def test_fewer_values_than_chunks_still_give_a_signature() -> None:
    tiny = [torch.tensor([1.0, -2.0, 3.0])]
    signature = outer_signature(tiny)
    assert len(signature) == 2 * CHUNKS
    assert sum(signature[0::2]) == pytest.approx(2.0)
    assert same_weights(signature, outer_signature([t.clone() for t in tiny]))


def test_compression_drift_between_peers_in_step_is_the_same_weights() -> None:
    """Peers in step receive the average as an fp16 delta from their own part: after many rounds
    their weights differ by the accumulated rounding, which must not read as apart."""
    base = weights()
    a, b = [t.clone() for t in base], [t.clone() for t in base]
    generator = torch.Generator().manual_seed(7)
    for _ in range(200):
        update = [1e-3 * torch.randn(t.shape, generator=generator) for t in base]
        own_a = [1e-3 * torch.randn(t.shape, generator=generator) for t in base]
        own_b = [1e-3 * torch.randn(t.shape, generator=generator) for t in base]
        for w, u, o in zip(a, update, own_a, strict=True):
            w -= o + (u - o).half().float()
        for w, u, o in zip(b, update, own_b, strict=True):
            w -= o + (u - o).half().float()
    assert not all(torch.equal(x, y) for x, y in zip(a, b, strict=True)), "the drift is there"
    assert same_weights(outer_signature(a), outer_signature(b))


@pytest.mark.parametrize("size", [1e-3, 1e-2, 0.1])
def test_a_lone_outer_step_is_other_weights(size: float) -> None:
    """One outer step of 5% to 500% of the weights' scale (0.02): what a lone step moves."""
    base = weights()
    assert not same_weights(outer_signature(base), outer_signature(step(base, size, seed=1)))


def test_a_difference_in_one_small_tensor_is_other_weights() -> None:
    base = weights(shapes=((4096, 64), (16,), (4096, 64)))
    moved = [t.clone() for t in base]
    moved[1] += 0.01
    assert not same_weights(outer_signature(base), outer_signature(moved))


def declared(signature: list[float], alone: bool = False) -> Declaration:
    return Declaration(signature, alone)


def test_the_swarms_weights_are_those_of_a_sender_that_did_not_step_alone() -> None:
    base = weights()
    swarm, lone = outer_signature(base), outer_signature(step(base, 0.01, seed=1))
    other = outer_signature(step(base, 0.01, seed=2))
    # a peer that did not step alone outweighs any number that did
    assert swarm_signature([declared(lone, True), declared(lone, True), declared(swarm)]) == swarm
    # among those, the most common
    assert swarm_signature([declared(other), declared(swarm), declared(swarm), declared(lone, True)]) == swarm
    # peers in step whose weights drifted by rounding are one group
    drifted = [x * (1 + 1e-6) for x in swarm]
    assert swarm_signature([declared(other), declared(drifted), declared(swarm)]) in (swarm, drifted)


def test_peers_that_all_stepped_alone_settle_on_one_of_them_whatever_the_order() -> None:
    """Two (or more) peers that each stepped alone: every one of them computes the same winner from
    the round's declarations, so exactly one keeps its weights and the others take them."""
    a, b, c = (outer_signature(step(weights(), 0.01, seed=n)) for n in (1, 2, 3))
    for order in ([a, b, c], [c, b, a], [b, a, c]):
        assert swarm_signature([declared(x, True) for x in order]) == min(a, b, c)
    outcomes = {}
    for me, others in ((a, [b]), (b, [a])):
        outcomes[tuple(me)] = judge_round(True, declared(me, True), [declared(x, True) for x in others])
    assert sorted(outcomes.values()) == [(False, False), (True, True)], "one keeps its weights, one takes them"


def test_judging_a_round() -> None:
    base = outer_signature(weights())
    moved = outer_signature(step(weights(), 0.01, seed=1))
    other = outer_signature(step(weights(), 0.01, seed=2))
    # the only sender of its round (the aux peer reduced it alone): a step alone
    assert judge_round(False, declared(base), []) == (True, False)
    # a peer that never stepped alone is never judged, whatever the others declare
    assert judge_round(False, declared(base), [declared(moved), declared(moved)]) == (False, False)
    # a peer that stepped alone: apart (it stays "alone" until its download), or in step
    assert judge_round(True, declared(moved, True), [declared(base), declared(base)]) == (True, True)
    assert judge_round(True, declared(moved, True), [declared(base)]) == (True, True)
    assert judge_round(True, declared(base, True), [declared(base), declared(base)]) == (False, False)
    # others that disagree: the most common (ties: the smaller signature) is the swarm's
    assert judge_round(True, declared(moved, True), [declared(base), declared(other)]) == (True, True)
    # nothing declared by this peer (not a synchronous DiLoCo sender): nothing changes
    assert judge_round(True, None, [declared(base)]) == (True, False)
    assert judge_round(False, None, []) == (False, False)


@pytest.mark.parametrize(
    "junk",
    [
        None,
        "signature",
        [1.0] * (2 * CHUNKS - 1),
        [1.0] * (2 * CHUNKS + 1),
        [math.nan] + [1.0] * (2 * CHUNKS - 1),
        [math.inf] + [1.0] * (2 * CHUNKS - 1),
        [True] * (2 * CHUNKS),
        [1.0, -1.0] * CHUNKS,  # a negative norm
        {"sum": 1.0},
    ],
)
def test_a_malformed_declaration_is_none(junk: object) -> None:
    assert valid_signature(junk) is None
    assert parse_declaration({"epoch": 3, "outer": junk}) is None
    assert parse_declaration(junk) is None


def test_declarations_split_a_rounds_metadata_into_own_and_others() -> None:
    mine, theirs = outer_signature(weights()), outer_signature(step(weights(), 0.01, seed=1))
    gathered = {
        "me": {"epoch": 3, "outer": mine, "alone": True},
        "b": {"epoch": 3, "outer": theirs},
        "c": {"epoch": 3, "outer": theirs, "alone": "yes"},  # only a real True counts
        "reducer": None,  # the aux peer declares nothing
        "old": {"epoch": 3},  # a sender that declared no signature
        "odd": ["not", "a", "dict"],
        "bad": {"epoch": 3, "outer": [math.nan] * (2 * CHUNKS)},
    }
    own, others = declarations(gathered, "me")
    assert own == Declaration(mine, True)
    assert others == [Declaration(theirs, False), Declaration(theirs, False)]
