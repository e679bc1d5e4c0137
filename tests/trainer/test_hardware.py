"""Kernel and precision choice, with made-up devices: the GPU decisions must be right without a GPU."""

from __future__ import annotations

from pathlib import Path

import pytest

from trainer.errors import TrainerError
from trainer.training.config import TrainConfig
from trainer.training.hardware import choose_kernels, detect_hardware, sdpa_context

A100, H100, L4, T4, V100 = (8, 0), (9, 0), (8, 9), (7, 5), (7, 0)


def test_cpu_uses_sdpa_in_fp32() -> None:
    choice = choose_kernels("cpu", None, flash_attn_available=False)
    assert (choice.attn_implementation, choice.sdpa_backend, choice.compute_dtype, choice.grad_scaler) == (
        "sdpa",
        None,
        "fp32",
        False,
    )
    assert "CPU" in choice.reason


@pytest.mark.parametrize("dtype", ["bf16", "fp16"])
def test_cpu_runs_16_bit_on_request_without_a_scaler(dtype: str) -> None:
    choice = choose_kernels("cpu", None, flash_attn_available=False, dtype=dtype)
    assert (choice.attn_implementation, choice.compute_dtype, choice.grad_scaler) == ("sdpa", dtype, False)


@pytest.mark.parametrize("capability", [A100, H100, L4])
def test_ampere_or_newer_with_flash_attn_uses_flash_attention_2_in_bf16(capability: tuple[int, int]) -> None:
    choice = choose_kernels("cuda", capability, flash_attn_available=True)
    assert (choice.attn_implementation, choice.compute_dtype, choice.grad_scaler) == (
        "flash_attention_2",
        "bf16",
        False,
    )
    assert "flash-attn imports" in choice.reason


def test_ampere_without_flash_attn_restricts_sdpa_to_its_flash_backend() -> None:
    choice = choose_kernels("cuda", A100, flash_attn_available=False)
    assert (choice.attn_implementation, choice.sdpa_backend, choice.compute_dtype) == ("sdpa", "flash", "bf16")
    assert "not installed" in choice.reason


def test_fp16_on_ampere_comes_with_a_grad_scaler() -> None:
    choice = choose_kernels("cuda", H100, flash_attn_available=True, dtype="fp16")
    assert (choice.attn_implementation, choice.compute_dtype, choice.grad_scaler) == ("flash_attention_2", "fp16", True)


@pytest.mark.parametrize("capability", [T4, V100])
def test_pre_ampere_gets_fp16_with_scaler_and_memory_efficient_sdpa(capability: tuple[int, int]) -> None:
    choice = choose_kernels("cuda", capability, flash_attn_available=True)  # even if the package imports
    assert (choice.attn_implementation, choice.sdpa_backend, choice.compute_dtype, choice.grad_scaler) == (
        "sdpa",
        "efficient",
        "fp16",
        True,
    )
    assert "< sm80" in choice.reason


@pytest.mark.parametrize(
    ("device", "capability", "flash", "dtype", "attention", "message"),
    [
        ("cpu", None, False, "auto", "flash_attention_2", "needs a CUDA GPU"),
        ("cuda", T4, True, "bf16", "auto", "bf16 needs compute capability >= 8.0"),
        ("cuda", T4, True, "auto", "flash_attention_2", "FlashAttention-2 needs compute capability >= 8.0"),
        ("cuda", A100, False, "auto", "flash_attention_2", "flash-attn package is not importable"),
        ("cuda", A100, True, "fp32", "flash_attention_2", "only in fp16/bf16"),
        ("cuda", V100, False, "auto", "sdpa_flash", "flash backend needs compute capability"),
    ],
)
def test_impossible_kernel_requests_are_refused(
    device: str, capability: tuple[int, int] | None, flash: bool, dtype: str, attention: str, message: str
) -> None:
    with pytest.raises(TrainerError, match=message):
        choose_kernels(device, capability, flash, dtype=dtype, attention=attention)


def test_explicit_math_free_requests_are_honoured() -> None:
    assert choose_kernels("cuda", A100, True, attention="sdpa").sdpa_backend is None
    assert choose_kernels("cuda", A100, True, attention="eager").attn_implementation == "eager"
    assert choose_kernels("cuda", A100, True, attention="sdpa_flash").sdpa_backend == "flash"


def test_this_machine_is_detected_as_a_cpu_and_overrides_apply() -> None:
    hardware = detect_hardware(TrainConfig(device="cpu", host_memory_gb=3))
    assert (hardware.device, hardware.capability, hardware.flash_attn_available) == ("cpu", None, False)
    assert hardware.host_memory_bytes == 3 * 2**30
    with pytest.raises(TrainerError, match="describes a GPU"):
        detect_hardware(TrainConfig(device="cpu", gpu_memory_gb=14))


def test_sdpa_context_restricts_the_backend_only_when_asked() -> None:
    import torch

    flags = torch.backends.cuda
    with sdpa_context(choose_kernels("cpu", None, False)):
        assert flags.math_sdp_enabled() and flags.flash_sdp_enabled()
    with sdpa_context(choose_kernels("cuda", A100, False)):  # SDPA restricted to flash
        assert flags.flash_sdp_enabled() and not flags.math_sdp_enabled() and not flags.mem_efficient_sdp_enabled()
    with sdpa_context(choose_kernels("cuda", T4, False)):  # memory-efficient only
        assert flags.mem_efficient_sdp_enabled() and not flags.flash_sdp_enabled() and not flags.math_sdp_enabled()
    assert flags.math_sdp_enabled(), "the restriction ends with the context"


def test_gpu_check_runs_on_cpu_and_one_rows_oom_loses_no_other(tmp_path: Path) -> None:
    """bench/gpu_check.py's dry run: the trainer's offloaded profile with bf16 weights and one
    kernel row measure; a row whose process dies of an out-of-memory error is reported as such."""
    import json
    import subprocess
    import sys

    from tests.trainer.helpers import subprocess_env

    script = Path(__file__).resolve().parents[2] / "bench" / "gpu_check.py"
    done = subprocess.run(
        [
            sys.executable,
            str(script),
            "--dry-run",
            "--steps",
            "2",
            "--rows",
            "full + offload,sdpa default,eager",
            "--fail-row",
            "sdpa default",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=subprocess_env(tmp_path),
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    rows = {row["row"]: row for row in report["profiles"] + report["kernels"]}
    assert set(rows) == {"full + offload", "sdpa default", "eager"}
    offload = rows["full + offload"]
    assert offload["status"] == "ok" and offload["offload"] and offload["tokens_per_s"] > 0
    assert offload["estimated_device_bytes"] > 0 and offload["epoch_step_s"] > 0
    assert rows["sdpa default"]["status"] == "out of memory"
    assert rows["eager"]["status"] == "ok" and rows["eager"]["tokens_per_s"] > 0
