"""Memory profiles: honest estimates, and refusals in one line before anything is allocated."""

from __future__ import annotations

import pytest

from trainer.config import LLAMA_LINEAR_MODULES
from trainer.errors import MemoryProfileError
from trainer.hardware import Hardware
from trainer.model import resolve_model
from trainer.profiles import GiB, ModelShape, choose_profile, estimate_memory


@pytest.fixture(scope="module")
def llama7b() -> ModelShape:
    return resolve_model("llama-7b-shape").shape


def gpu(memory_gb: float, host_gb: float = 128, capability: tuple[int, int] = (8, 0)) -> Hardware:
    return Hardware("cuda", f"{memory_gb:g} GB GPU", capability, int(memory_gb * GiB), int(host_gb * GiB), True)


def choose(shape: ModelShape, hardware: Hardware, requested: str, offload: bool = False, averaging: str = "gradient"):
    return choose_profile(
        shape,
        hardware,
        requested=requested,
        offload=offload,
        averaging=averaging,
        weight_bytes=4,
        seq_len=2048,
        batch_size=1,
        flash=True,
        checkpointing=None,
        lora_rank=16,
        lora_targets=LLAMA_LINEAR_MODULES,
    )


def test_the_7b_shape_has_llama2_7b_parameter_count(llama7b: ModelShape) -> None:
    assert llama7b.n_params == 6_738_415_616


def test_full_training_of_7b_does_not_fit_in_14_gb(llama7b: ModelShape) -> None:
    with pytest.raises(MemoryProfileError) as refused:
        choose(llama7b, gpu(14), "full")
    line = refused.value.one_line()
    assert "full training of this 6.74B-parameter model does not fit" in line
    assert "\n" not in line and "--profile lora" in line


def test_nothing_trains_7b_in_14_gb_not_even_lora_with_a_16_bit_base(llama7b: ModelShape) -> None:
    with pytest.raises(MemoryProfileError, match="LoRA training of this 6.74B-parameter model does not fit"):
        choose(llama7b, gpu(14), "lora")
    with pytest.raises(MemoryProfileError, match="no training profile"):
        choose(llama7b, gpu(14), "auto")


def test_lora_fits_a_24_gb_card_and_trains_a_tiny_fraction(llama7b: ModelShape) -> None:
    choice = choose(llama7b, gpu(24, host_gb=64), "auto")
    assert (choice.profile, choice.offload, choice.gradient_checkpointing) == ("lora", False, True)
    assert choice.estimate.trainable_params < llama7b.n_params / 100  # 40M of 6.7B
    # what is averaged: adapters only, orders of magnitude less traffic than the full model
    assert choice.estimate.trainable_params * 4 < 200 * 2**20


def test_full_with_optimizer_offload_fits_80_gb_plus_128_gb_host_but_not_without(llama7b: ModelShape) -> None:
    with pytest.raises(MemoryProfileError) as refused:
        choose(llama7b, gpu(80), "full")
    assert "--offload-optimizer" in refused.value.one_line()
    choice = choose(llama7b, gpu(80), "full", offload=True)
    assert (choice.profile, choice.offload) == ("full", True)
    assert choice.estimate.device_bytes < 40 * GiB < 100 * GiB < choice.estimate.host_bytes
    assert choose(llama7b, gpu(80), "auto").offload  # auto prefers full (offloaded) over LoRA
    assert choose(llama7b, gpu(80, host_gb=64), "auto").profile == "lora"  # too little host RAM for offload


def test_offload_is_refused_where_it_cannot_apply(llama7b: ModelShape) -> None:
    with pytest.raises(MemoryProfileError, match="needs a CUDA device and gradient averaging"):
        choose(llama7b, gpu(80), "full", offload=True, averaging="diloco")


def test_7b_on_this_kind_of_cpu_machine_is_refused(llama7b: ModelShape) -> None:
    cpu = Hardware("cpu", "cpu", None, 24 * GiB, 24 * GiB, False)
    with pytest.raises(MemoryProfileError, match="needs about .* GiB of RAM, this machine has 24 GiB"):
        choose(llama7b, cpu, "full")


def test_estimate_parts_follow_bytes_per_parameter(llama7b: ModelShape) -> None:
    n = llama7b.n_params
    full = estimate_memory(
        llama7b,
        profile="full",
        offload=False,
        averaging="gradient",
        device="cuda",
        weight_bytes=4,
        seq_len=2048,
        batch_size=1,
        flash=True,
        checkpointing=True,
    )
    assert full.parts["device: Adam moments (fp32)"] == 8 * n
    assert full.parts["device: weights"] == 4 * n
    no_flash = estimate_memory(
        llama7b,
        profile="full",
        offload=False,
        averaging="gradient",
        device="cuda",
        weight_bytes=4,
        seq_len=2048,
        batch_size=1,
        flash=False,
        checkpointing=False,
    )
    assert no_flash.parts["device: activations"] > full.parts["device: activations"]


def test_lora_parameter_count_matches_peft(tokenizer_dir) -> None:
    from trainer.config import TrainConfig
    from trainer.plan import plan_run

    config = TrainConfig(model="tiny", tokenizer=str(tokenizer_dir), profile="lora", seq_len=64, device="cpu")
    plan = plan_run(config, need_data=False)
    from trainer.model import load_model

    model, trainable = load_model(plan.spec, plan.kernel, plan.profile, "cpu", lora_targets=config.lora_targets)
    assert sum(p.numel() for p in trainable) == plan.spec.shape.lora_params(16, config.lora_targets)
    assert all("lora_" in name for name, p in model.named_parameters() if p.requires_grad)
