"""Check a configuration and decide how it will run, before anything heavy is allocated.

`plan_run` validates the data source, loads the tokenizer, resolves the model (parameters counted
on the ``meta`` device), detects the hardware, picks the attention kernel and precision, picks or
checks the memory profile, and derives unset averaging timeouts from what will be averaged
(`TrainConfig.resolve_timeouts`). Every user mistake surfaces here as a one-line `TrainerError`.

`profile_table` is what `trainer doctor` shows: the same resolution and the same profile rules, so
its "auto picks" line is what `trainer train --profile auto` would pick on that hardware.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from trainer.errors import MemoryProfileError, TrainerError
from trainer.training.config import AveragingTimeouts, TrainConfig, wan_timeouts
from trainer.training.data import check_data_source
from trainer.training.hardware import Hardware, KernelChoice, choose_kernels, detect_hardware
from trainer.training.model import PRESETS, ModelSpec, resolve_model
from trainer.training.profiles import (
    ProfileChoice,
    ProfileOption,
    choose_profile,
    gradient_checkpointing,
    profile_options,
)
from trainer.training.tokenizer import BUILTIN, load_tokenizer

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

log = logging.getLogger(__name__)


@dataclass
class RunPlan:
    config: TrainConfig
    hardware: Hardware
    kernel: KernelChoice
    spec: ModelSpec
    profile: ProfileChoice
    tokenizer: PreTrainedTokenizerBase

    @property
    def device(self) -> str:
        return self.hardware.device

    def describe(self) -> list[str]:
        hw = self.hardware
        where = f"{hw.name} (sm{hw.capability[0]}{hw.capability[1]})" if hw.capability else "CPU"
        offload = " + optimizer offload" if self.profile.offload else ""
        return [
            f"hardware: {where}, device memory {hw.device_memory_bytes / 2**30:.1f} GiB, "
            f"host memory {hw.host_memory_bytes / 2**30:.1f} GiB",
            f"kernels: {self.kernel.describe()}",
            f"profile: {self.profile.profile}{offload}, gradient checkpointing "
            f"{'on' if self.profile.gradient_checkpointing else 'off'}: {self.profile.reason}",
        ]


def tokenizer_name(config: TrainConfig) -> str:
    if config.tokenizer:
        return config.tokenizer
    return BUILTIN if config.model in PRESETS else config.model


def _model(config: TrainConfig) -> tuple[PreTrainedTokenizerBase, ModelSpec]:
    """The tokenizer and the model it sizes (the embedding rows are the tokenizer's vocabulary)."""
    if config.model not in PRESETS:
        resolve_model(config.model)  # an unknown model is reported as such, not as a missing tokenizer
    tokenizer = load_tokenizer(tokenizer_name(config))
    spec = resolve_model(config.model, vocab_size=len(tokenizer))
    max_positions = spec.llama_config.max_position_embeddings
    if config.seq_len > max_positions:
        raise TrainerError(
            f"seq_len {config.seq_len} exceeds the model's {max_positions} positions", f"use --seq-len {max_positions}"
        )
    return tokenizer, spec


def _kernel(config: TrainConfig, hardware: Hardware) -> KernelChoice:
    return choose_kernels(
        hardware.device, hardware.capability, hardware.flash_attn_available, config.dtype, config.attention
    )


def _profile_inputs(config: TrainConfig, kernel: KernelChoice) -> dict:
    """What the memory estimate of every profile depends on, besides the model and the hardware."""
    return {
        "averaging": config.averaging,
        "overlap": config.delay_updates and config.averaging == "diloco",
        "compute_bytes": 4 if kernel.compute_dtype == "fp32" else 2,
        "seq_len": config.seq_len,
        "batch_size": config.batch_size,
        "flash": kernel.attn_implementation == "flash_attention_2" or kernel.sdpa_backend == "flash",
        "lora_rank": config.lora_rank,
        "lora_targets": config.lora_targets,
    }


def plan_run(config: TrainConfig, *, need_data: bool = True, hardware: Hardware | None = None) -> RunPlan:
    """Validate ``config`` and choose kernels and memory profile; raise `TrainerError` on bad input."""
    if need_data:
        check_data_source(config)
    tokenizer, spec = _model(config)
    hardware = hardware or detect_hardware(config)
    kernel = _kernel(config, hardware)
    profile = choose_profile(
        spec.shape,
        hardware,
        requested=config.profile,
        offload=config.offload_optimizer,
        checkpointing=config.gradient_checkpointing,
        **_profile_inputs(config, kernel),
    )
    # DiLoCo always keeps its outer optimizer on the host, so it can always overlap
    if config.delay_updates and config.averaging == "gradient" and not profile.offload:
        raise TrainerError(
            "--delay-updates overlaps gradient averaging with the next epoch: in gradient mode it needs "
            f"the optimizer offloaded (this run: profile {profile.profile})",
            "add --profile full --offload-optimizer, use --averaging diloco, or drop --delay-updates",
        )
    config.resolve_timeouts(profile.estimate.trainable_params)
    return RunPlan(config, hardware, kernel, spec, profile, tokenizer)


@dataclass
class ProfileTable:
    """What `trainer doctor` shows: every profile `--profile auto` considers, in its order, with the
    averaging round each implies, and the one it picks (None when none fits)."""

    hardware: Hardware
    kernel: KernelChoice
    spec: ModelSpec
    options: list[ProfileOption]
    timeouts: list[AveragingTimeouts]
    chosen: ProfileChoice | None


def profile_table(config: TrainConfig, hardware: Hardware) -> ProfileTable:
    """`plan_run`'s model, kernel and profile rules for ``config`` on ``hardware``, without data."""
    _, spec = _model(config)
    kernel = _kernel(config, hardware)
    inputs = _profile_inputs(config, kernel)
    try:
        chosen: ProfileChoice | None = choose_profile(
            spec.shape, hardware, requested="auto", offload=False, checkpointing=config.gradient_checkpointing, **inputs
        )
    except MemoryProfileError:
        chosen = None
    checkpointing = gradient_checkpointing(spec.shape, config.gradient_checkpointing)
    options = profile_options(spec.shape, hardware, checkpointing=checkpointing, **inputs)
    timeouts = [
        wan_timeouts(o.estimate.trainable_params, config.compression, config.averaging_bandwidth_mbps) for o in options
    ]
    return ProfileTable(hardware, kernel, spec, options, timeouts, chosen)
