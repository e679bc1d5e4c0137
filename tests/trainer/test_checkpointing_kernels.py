"""Activation checkpointing recomputes each layer under the attention backend its forward ran with.

The H200 check (bench/RESULTS.md, 2026-11-28) found every 7B profile with activation checkpointing
(automatic above 1B parameters) crashing at its first backward: the forward ran inside the trainer's
chosen SDPA backend (`hardware.sdpa_context`, flash on that card) and the backward's recomputation
outside it, under torch's default choice, which saves other tensors (``CheckpointError: Recomputed
values ... have different metadata``). Tiny models train without checkpointing, so no CPU test
reached it. On this CPU the math backend against the default (CPU flash) shows the same mismatch.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from trainer.training.config import TrainConfig


@pytest.mark.parametrize("profile", ["full", "lora"])
def test_a_checkpointed_backward_recomputes_with_the_chosen_attention_backend(
    tmp_path: Path, tokenizer_dir: Path, profile: str
) -> None:
    from trainer.training.hardware import autocast_context, sdpa_context
    from trainer.training.model import load_model
    from trainer.training.plan import plan_run

    config = TrainConfig(model="tiny", tokenizer=str(tokenizer_dir), profile=profile, seq_len=32, device="cpu")
    plan = plan_run(config, need_data=False)
    kernel = dataclasses.replace(plan.kernel, attn_implementation="sdpa", sdpa_backend="math")
    checkpointed = dataclasses.replace(plan.profile, gradient_checkpointing=True)
    model, trainable = load_model(
        plan.spec, kernel, checkpointed, "cpu", lora_targets=config.lora_targets, base_dir=tmp_path / "base"
    )
    model.train()
    ids = torch.randint(0, plan.spec.llama_config.vocab_size, (2, 32), generator=torch.Generator().manual_seed(0))
    # as the trainer's micro-batch runs it (`hivemind_peer.TorchLearner.forward_backward`): the
    # backward, where checkpointed layers are recomputed, after the contexts closed
    with autocast_context("cpu", kernel), sdpa_context(kernel):
        loss = model(input_ids=ids, labels=ids).loss
    loss.backward()
    assert all(p.grad is not None and bool(torch.isfinite(p.grad).all()) for p in trainable)
    assert any(float(p.grad.abs().sum()) > 0 for p in trainable)
