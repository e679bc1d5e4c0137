"""Memory profiles: honest estimates, and refusals in one line before anything is allocated."""

from __future__ import annotations

import pytest

from trainer.errors import MemoryProfileError
from trainer.training.config import LLAMA_LINEAR_MODULES
from trainer.training.hardware import Hardware
from trainer.training.model import resolve_model
from trainer.training.profiles import GiB, ModelShape, choose_profile, estimate_memory, profile_options


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
        compute_bytes=2,
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
    with pytest.raises(MemoryProfileError, match="needs gradient averaging"):
        choose(llama7b, gpu(80), "full", offload=True, averaging="diloco")


def test_7b_on_this_kind_of_cpu_machine_is_refused(llama7b: ModelShape) -> None:
    cpu = Hardware("cpu", "cpu", None, 24 * GiB, 24 * GiB, False)
    with pytest.raises(MemoryProfileError, match="needs about .* GiB of RAM, this machine has 24 GiB"):
        choose(llama7b, cpu, "full")


def estimate(shape: ModelShape, profile: str = "full", **overrides):
    settings = dict(
        profile=profile,
        offload=False,
        averaging="gradient",
        device="cuda",
        compute_bytes=2,
        seq_len=2048,
        batch_size=1,
        flash=True,
        checkpointing=True,
        lora_targets=LLAMA_LINEAR_MODULES,
    )
    return estimate_memory(shape, **{**settings, **overrides})


def test_estimate_parts_follow_bytes_per_parameter(llama7b: ModelShape) -> None:
    n = llama7b.n_params
    full = estimate(llama7b)
    assert full.parts["device: Adam moments (fp32)"] == 8 * n
    assert full.parts["device: weights"] == 4 * n
    no_flash = estimate(llama7b, flash=False, checkpointing=False)
    assert no_flash.parts["device: activations"] > full.parts["device: activations"]


def test_fp32_weights_with_16_bit_compute_pay_for_autocast_copies(llama7b: ModelShape) -> None:
    n = llama7b.n_params
    assert estimate(llama7b).parts["device: autocast 16-bit weight copies"] == 2 * n  # 12.6 GiB for 7B
    assert estimate(llama7b, averaging="diloco").parts["device: autocast 16-bit weight copies"] == 2 * n
    assert "device: autocast 16-bit weight copies" not in estimate(llama7b, compute_bytes=4).parts
    assert "device: autocast 16-bit weight copies" not in estimate(llama7b, "lora").parts  # 16-bit base
    assert "device: autocast 16-bit weight copies" not in estimate(llama7b, offload=True).parts


def test_offloaded_gradients_are_fp32_on_the_device(llama7b: ModelShape) -> None:
    parts = estimate(llama7b, offload=True).parts
    assert parts["device: weights (16-bit)"] == 2 * llama7b.n_params
    assert parts["device: gradients (fp32, accumulated in place)"] == 4 * llama7b.n_params


def test_diloco_keeps_no_accumulator_on_the_device(llama7b: ModelShape) -> None:
    parts = estimate(llama7b, averaging="diloco").parts
    device = {name: size for name, size in parts.items() if name.startswith("device:")}
    weights = ("weights", "gradients", "inner Adam moments (fp32)", "autocast 16-bit weight copies")
    per_param = sum(device[f"device: {name}"] for name in weights) / llama7b.n_params
    assert per_param == 18 and len(device) == len(weights) + 1  # + activations, nothing else
    assert parts["host: pseudo-gradient averaging buffer"] == 4 * llama7b.n_params


def test_overlapped_diloco_pays_one_more_host_copy_of_the_trainable_weights(llama7b: ModelShape) -> None:
    for profile in ("full", "lora"):
        plain = estimate(llama7b, profile, averaging="diloco")
        overlapped = estimate(llama7b, profile, averaging="diloco", overlap=True)
        assert overlapped.host_bytes - plain.host_bytes == 4 * plain.trainable_params
        assert overlapped.device_bytes == plain.device_bytes
    # gradient mode's delayed updates reuse hivemind's offloaded buffers: nothing more
    assert estimate(llama7b, offload=True, overlap=True) == estimate(llama7b, offload=True)


def test_doctor_and_help_as_typed_describe_delay_updates() -> None:
    from typer.testing import CliRunner

    from trainer.cli import app

    runner = CliRunner()
    help_text = " ".join(runner.invoke(app, ["train", "--help"], terminal_width=200).stdout.split())
    assert "--delay-updates" in help_text and "DiLoCo: the outer step runs during the next" in help_text
    args = ["doctor", "--model", "llama-7b-shape", "--gpu-memory-gb", "80", "--host-memory-gb", "512"]
    hosts = {}
    for flag in ("--no-delay-updates", "--delay-updates"):
        result = runner.invoke(app, [*args, "--averaging", "diloco", flag], terminal_width=200)
        assert result.exit_code == 0, result.output
        text = " ".join(result.stdout.split())
        assert f"--delay-updates ({'on' if flag == '--delay-updates' else 'off'}): the outer step overlaps" in text
        full_row = next(line for line in result.stdout.splitlines() if line.strip("│ ").startswith("full "))
        hosts[flag] = float(full_row.split("│")[3])
    # 6.74B parameters x 4 B: about 25 GiB more host RAM for the overlap's copy of the weights
    assert hosts["--delay-updates"] - hosts["--no-delay-updates"] == pytest.approx(25.1, abs=0.2)


def test_full_7b_does_not_fit_an_h200_once_every_term_is_counted(llama7b: ModelShape) -> None:
    with pytest.raises(MemoryProfileError, match="full training of this 6.74B-parameter model does not fit"):
        choose(llama7b, gpu(141, host_gb=512), "full")


def test_the_choice_states_its_margin(llama7b: ModelShape) -> None:
    choice = choose(llama7b, gpu(80), "auto")
    assert "margin" in choice.reason and "GiB on the device" in choice.reason


@pytest.mark.parametrize(("memory_gb", "host_gb"), [(14, 64), (24, 64), (40, 128), (80, 64), (80, 256), (141, 512)])
def test_doctor_and_auto_use_the_same_rules(llama7b: ModelShape, memory_gb: float, host_gb: float) -> None:
    hardware = gpu(memory_gb, host_gb)
    options = profile_options(
        llama7b,
        hardware,
        averaging="gradient",
        compute_bytes=2,
        seq_len=2048,
        batch_size=1,
        flash=True,
        checkpointing=True,
        lora_rank=16,
        lora_targets=LLAMA_LINEAR_MODULES,
    )
    first = next((o for o in options if o.fits), None)
    if first is None:
        with pytest.raises(MemoryProfileError):
            choose(llama7b, hardware, "auto")
        return
    choice = choose(llama7b, hardware, "auto")
    assert (choice.profile, choice.offload, choice.estimate) == (first.profile, first.offload, first.estimate)


@pytest.mark.parametrize(
    ("memory_gb", "host_gb", "averaging", "seq_len"),
    [(14, 64, "gradient", 2048), (24, 64, "gradient", 2048), (40, 128, "diloco", 1024), (80, 256, "gradient", 4096)],
)
def test_doctor_shows_what_train_picks(memory_gb: float, host_gb: float, averaging: str, seq_len: int) -> None:
    """`trainer doctor`'s table and pick (`profile_table`) agree with `trainer train --profile auto`
    (`plan_run`) for the same settings on the same hardware, refusal included."""
    from trainer.training.config import TrainConfig
    from trainer.training.plan import plan_run, profile_table

    config = TrainConfig(model="llama-7b-shape", averaging=averaging, seq_len=seq_len, batch_size=1)
    hardware = gpu(memory_gb, host_gb)
    table = profile_table(config, hardware)
    fitting = [o for o in table.options if o.fits]
    if table.chosen is None:
        assert fitting == []
        with pytest.raises(MemoryProfileError):
            plan_run(config, need_data=False, hardware=hardware)
        return
    picked = plan_run(config, need_data=False, hardware=hardware).profile
    assert (picked.profile, picked.offload, picked.estimate) == (
        table.chosen.profile,
        table.chosen.offload,
        table.chosen.estimate,
    )
    assert (fitting[0].profile, fitting[0].offload, fitting[0].estimate) == (
        picked.profile,
        picked.offload,
        picked.estimate,
    )


def test_wan_timeouts_are_derived_from_what_is_averaged() -> None:
    from trainer.training.config import TrainConfig, wan_timeouts

    seven_b = wan_timeouts(6_738_415_616, "fp16", 100)
    assert seven_b.transfer_s == pytest.approx(2 * 6_738_415_616 * 2 * 8 / 100e6)
    assert seven_b.averaging_timeout == pytest.approx(3 * seven_b.transfer_s) and seven_b.averaging_timeout > 3600
    assert seven_b.matchmaking_time == 60
    assert wan_timeouts(6_738_415_616, "uint8", 100).transfer_s == pytest.approx(seven_b.transfer_s / 2)
    small = wan_timeouts(100_000, "fp16", 100)
    assert (small.matchmaking_time, small.averaging_timeout) == (15, 60)
    config = TrainConfig(averaging_timeout=5.0)
    config.resolve_timeouts(6_738_415_616)
    assert (config.averaging_timeout, config.matchmaking_time) == (5.0, 60)  # what was set stays


def test_lora_parameter_count_matches_peft(tokenizer_dir) -> None:
    from trainer.training.config import TrainConfig
    from trainer.training.plan import plan_run

    config = TrainConfig(model="tiny", tokenizer=str(tokenizer_dir), profile="lora", seq_len=64, device="cpu")
    plan = plan_run(config, need_data=False)
    from trainer.training.model import load_model

    model, trainable = load_model(plan.spec, plan.kernel, plan.profile, "cpu", lora_targets=config.lora_targets)
    assert sum(p.numel() for p in trainable) == plan.spec.shape.lora_params(16, config.lora_targets)
    assert all("lora_" in name for name, p in model.named_parameters() if p.requires_grad)
