"""TRAINER_ATTACK: the fault injection the attack tests and benchmarks run attackers with."""

from __future__ import annotations

import math

import pytest
import torch

from trainer.errors import TrainerError
from trainer.training.attacks import ATTACK_ENV, INFLATION, attack_from_env, attacking_averager, corrupt_


def test_the_kind_comes_from_the_environment_and_an_unknown_kind_is_one_error(monkeypatch):
    monkeypatch.delenv(ATTACK_ENV, raising=False)
    assert attack_from_env() is None
    monkeypatch.setenv(ATTACK_ENV, "signflip")
    assert attack_from_env() == "signflip"
    monkeypatch.setenv(ATTACK_ENV, "meteor")
    with pytest.raises(TrainerError, match="is not an attack kind") as caught:
        attack_from_env()
    assert "scale1e3" in caught.value.hint


@pytest.mark.parametrize("kind", ["scale1e3", "nan", "noise", "signflip"])
def test_each_gradient_kind_corrupts_what_would_be_sent(kind):
    honest = [torch.arange(1.0, 5.0), torch.ones(2, 3)]
    sent = [tensor.clone() for tensor in honest]
    corrupt_(sent, kind)
    norm = math.sqrt(sum(float(t.square().sum()) for t in honest))
    sent_norm = math.sqrt(sum(float(t.square().sum()) for t in sent))
    if kind == "scale1e3":
        assert torch.equal(sent[0], honest[0] * INFLATION)
    elif kind == "nan":
        assert not torch.isfinite(sent[0]).all() and not torch.isfinite(sent[1]).all()
    elif kind == "noise":
        assert sent_norm > 10 * norm
    else:
        assert all(torch.equal(s, -h) for s, h in zip(sent, honest, strict=True))


def test_an_attacking_averager_keeps_its_base_class_name_so_peers_still_speak_one_protocol():
    class Averager:
        pass

    assert attacking_averager(Averager, None) is Averager
    assert attacking_averager(Averager, "epoch") is Averager, "the epoch kind does not touch the tensors"
    attacking = attacking_averager(Averager, "nan")
    assert attacking is not Averager and issubclass(attacking, Averager)
    assert attacking.__name__ == Averager.__name__  # hivemind names RPC protocols after it
