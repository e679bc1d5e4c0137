"""Spot checks: a contribution scored by the loss change it causes on held-out data, and the audit
crediting nothing for one that failed. A small regression model stands in for the LLaMA: the score
only needs parameters, a loss on held data, and gradients."""

from __future__ import annotations

import pytest
import torch

from trainer.pool.evidence import EvidenceStore
from trainer.pool.spot_check import MIN_SPOT_SCORE, SpotCheck, SpotCheckLog, loss_change_score
from trainer.training.observations import Observation

DIM = 2048


@pytest.fixture
def task():
    """A linear model, a held-out batch the aux peer keeps, and gradients of training batches."""
    generator = torch.Generator().manual_seed(7)
    truth = torch.randn(DIM, generator=generator)
    weight = torch.zeros(DIM, requires_grad=True)

    def batch(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.randn(n, DIM, generator=generator)
        return x, x @ truth

    held_x, held_y = batch(4096)  # large: the held-out gradient must be accurate

    def held_loss() -> torch.Tensor:
        return ((held_x @ weight - held_y) ** 2).mean()

    def gradient() -> torch.Tensor:
        x, y = batch(256)
        (grad,) = torch.autograd.grad(((x @ weight - y) ** 2).mean(), [weight])
        return grad

    aggregate = sum(gradient() for _ in range(4)) / 4
    return weight, held_loss, gradient, aggregate, generator


def _score(task, contribution: torch.Tensor) -> float:
    weight, held_loss, _, aggregate, _ = task
    return loss_change_score([weight], held_loss, [contribution], [aggregate])[0]


def test_an_honest_gradient_passes_and_the_weights_are_restored(task):
    weight, _, gradient, _, _ = task
    before = weight.detach().clone()
    assert _score(task, gradient()) > 0.4 > MIN_SPOT_SCORE
    assert torch.equal(weight.detach(), before)


def test_a_scaled_honest_gradient_scores_like_the_honest_one(task):
    """The norm is the reducer's business (it drops absurd norms); the check looks at the direction."""
    _, _, gradient, _, _ = task
    assert _score(task, 1e3 * gradient()) > 0.4


@pytest.mark.parametrize("attack", ["signflip", "noise", "zeros", "nan"])
def test_attacks_fail(task, attack):
    _, _, gradient, _, generator = task
    contribution = {
        "signflip": lambda: -gradient(),
        "noise": lambda: torch.randn(DIM, generator=generator) * float(gradient().norm()),
        "zeros": lambda: torch.zeros(DIM),
        "nan": lambda: torch.full((DIM,), float("nan")),
    }[attack]()
    score = _score(task, contribution)
    assert score < MIN_SPOT_SCORE
    if attack == "signflip":
        assert score < 0


def test_the_audit_credits_nothing_for_a_failed_check(tmp_path):
    store = EvidenceStore(tmp_path, 777, 7)
    store.observations.append(
        Observation(epoch, peer, 25, 25, 1.0, 0.1, 0.9, "accepted") for epoch in (1, 2) for peer in ("QmA", "QmB")
    )
    checks = SpotCheckLog(tmp_path / "spot_checks.jsonl")
    checks.append(SpotCheck(1, "QmA", 0.9, 2.0, 1.9, 1.89))
    checks.append(SpotCheck(2, "QmA", -0.8, 2.0, 2.1, 1.89))
    store.refresh()
    evidence = store.range_evidence("QmA", 1, 2, 100)
    assert evidence.accepted == {1: 25, 2: 0}
    assert store.range_evidence("QmB", 1, 2, 100).accepted == {1: 25, 2: 25}
    assert [c.passed for c in checks.read()] == [True, False]
