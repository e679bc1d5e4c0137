"""Honest memory profiles: how many bytes a training setup needs, and whether the machine has them.

Two profiles:

- ``full``: every weight is trained. Without offload the device holds fp32 weights, fp32
  gradients, hivemind's gradient accumulators and Adam's two moments (about 20 bytes per
  parameter before activations). With ``offload_optimizer`` the device holds half-precision
  weights and gradients accumulated in place (4 bytes per parameter) and the host holds hivemind's
  fp32 master copy, Adam state and the gradient averaging buffer (16 bytes per parameter).
- ``lora``: the base model is frozen in half precision (fp32 on CPU) and only low-rank adapters
  train; only the adapters are averaged, so network traffic drops by orders of magnitude.

The numbers are estimates, stated with their assumptions, good to about 10-20%. They exist to
refuse early with a clear message instead of dying halfway through with an out-of-memory error:
full training of a 7B LLaMA does not fit in 14 GB, and neither does LoRA with a 16-bit base.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from trainer.errors import MemoryProfileError
from trainer.hardware import Hardware

GiB = 2**30
# CUDA context, allocator fragmentation, kernels' workspaces.
DEVICE_OVERHEAD_BYTES = int(1.5 * GiB)
# Python, torch, hivemind's processes and p2p daemon on the host.
HOST_OVERHEAD_BYTES = int(1.5 * GiB)
USABLE_FRACTION = 0.92


@dataclass(frozen=True)
class ModelShape:
    """What the estimate needs to know about the architecture."""

    n_params: int
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    vocab_size: int

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    def lora_params(self, rank: int, targets: list[str]) -> int:
        """Trainable parameters of rank-``rank`` adapters on the given linear layers of every block."""
        h, i, kv = self.hidden_size, self.intermediate_size, self.num_kv_heads * self.head_dim
        shapes = {
            "q_proj": (h, h),
            "k_proj": (h, kv),
            "v_proj": (h, kv),
            "o_proj": (h, h),
            "gate_proj": (h, i),
            "up_proj": (h, i),
            "down_proj": (i, h),
        }
        per_layer = sum(rank * (fan_in + fan_out) for name, (fan_in, fan_out) in shapes.items() if name in targets)
        return per_layer * self.num_layers


@dataclass(frozen=True)
class MemoryEstimate:
    profile: Literal["full", "lora"]
    offload: bool
    device_bytes: int
    host_bytes: int
    trainable_params: int
    parts: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        return f"device {self.device_bytes / GiB:.1f} GiB, host {self.host_bytes / GiB:.1f} GiB"


@dataclass(frozen=True)
class ProfileChoice:
    profile: Literal["full", "lora"]
    offload: bool
    gradient_checkpointing: bool
    estimate: MemoryEstimate
    reason: str


def activation_bytes(
    shape: ModelShape, seq_len: int, batch_size: int, act_bytes: int, flash: bool, checkpointing: bool
) -> int:
    """Activation memory for one micro-batch (after Korthikanti et al. 2022, per-layer terms).

    Per layer and token, a transformer block keeps about 34*h bytes of 16-bit activations, plus
    5*a*s bytes for the attention matrix unless a flash kernel avoids materialising it. With
    activation checkpointing only the block inputs (2*h bytes per token) are kept, plus one
    block being recomputed. Logits (fp32) and their gradient come on top.
    """
    tokens = seq_len * batch_size
    scale = act_bytes / 2
    per_layer = 34 * shape.hidden_size * tokens
    if not flash:
        per_layer += 5 * shape.num_heads * seq_len * tokens
    per_layer = int(per_layer * scale)
    if checkpointing:
        body = int(2 * shape.hidden_size * tokens * scale) * shape.num_layers + per_layer
    else:
        body = per_layer * shape.num_layers
    logits = 2 * 4 * tokens * shape.vocab_size
    return body + logits


def estimate_memory(
    shape: ModelShape,
    *,
    profile: Literal["full", "lora"],
    offload: bool,
    averaging: str,
    device: str,
    weight_bytes: int,
    seq_len: int,
    batch_size: int,
    flash: bool,
    checkpointing: bool,
    lora_rank: int = 16,
    lora_targets: list[str] | None = None,
) -> MemoryEstimate:
    """Bytes on the training device and in host RAM for one peer (see the module docstring)."""
    n = shape.n_params
    act_bytes = 4 if weight_bytes == 4 and device == "cpu" else 2
    activations = activation_bytes(shape, seq_len, batch_size, act_bytes, flash, checkpointing)
    parts: dict[str, int] = {"activations": activations}
    host: dict[str, int] = {}
    diloco = averaging == "diloco"

    if profile == "lora":
        trainable = shape.lora_params(lora_rank, lora_targets or [])
        parts["frozen base weights"] = n * weight_bytes
        # adapters in fp32: weights, grads, Adam moments, hivemind accumulators
        parts["adapters + grads + Adam"] = trainable * (4 + 4 + 8 + 4)
        host["averaging buffers (adapters only)"] = trainable * 4 * (3 if diloco else 2)
    elif diloco:
        trainable = n
        # inner AdamW runs on the device in the weights' precision; outer state lives on the host
        parts["weights"] = n * weight_bytes
        parts["gradients"] = n * weight_bytes
        parts["inner Adam moments (fp32)"] = n * 8
        host["outer fp32 params + Nesterov momentum"] = n * 8
        host["pseudo-gradient averaging buffer"] = n * 4
    elif offload:
        trainable = n
        # gradients accumulate in place (reuse_grad_buffers); state averaging reuses the host copies
        parts["weights (16-bit)"] = n * 2
        parts["gradients (16-bit, accumulated in place)"] = n * 2
        host["fp32 master weights"] = n * 4
        host["Adam moments (fp32)"] = n * 8
        host["gradient averaging buffer"] = n * 4
    else:
        trainable = n
        parts["weights"] = n * weight_bytes
        parts["gradients + accumulators"] = n * weight_bytes * 2
        parts["Adam moments (fp32)"] = n * 8
        host["averaging buffers"] = n * 4 * 2

    device_bytes = sum(parts.values())
    host_bytes = sum(host.values())
    all_parts = {**{f"device: {k}": v for k, v in parts.items()}, **{f"host: {k}": v for k, v in host.items()}}
    if device == "cpu":
        # one pool of memory: everything lands in RAM
        device_bytes = host_bytes = device_bytes + host_bytes
    return MemoryEstimate(profile, offload, device_bytes, host_bytes, trainable, all_parts)


def fits(estimate: MemoryEstimate, hardware: Hardware) -> bool:
    if hardware.device == "cpu":
        return estimate.host_bytes + HOST_OVERHEAD_BYTES <= hardware.host_memory_bytes * USABLE_FRACTION
    device_ok = estimate.device_bytes + DEVICE_OVERHEAD_BYTES <= hardware.device_memory_bytes * USABLE_FRACTION
    host_ok = estimate.host_bytes + HOST_OVERHEAD_BYTES <= hardware.host_memory_bytes * USABLE_FRACTION
    return device_ok and host_ok


def _need_text(estimate: MemoryEstimate, hardware: Hardware) -> str:
    if hardware.device == "cpu":
        need = (estimate.host_bytes + HOST_OVERHEAD_BYTES) / USABLE_FRACTION
        return f"needs about {need / GiB:.0f} GiB of RAM, this machine has {hardware.host_memory_bytes / GiB:.0f} GiB"
    need_dev = (estimate.device_bytes + DEVICE_OVERHEAD_BYTES) / USABLE_FRACTION
    need_host = (estimate.host_bytes + HOST_OVERHEAD_BYTES) / USABLE_FRACTION
    return (
        f"needs about {need_dev / GiB:.0f} GiB of GPU memory and {need_host / GiB:.0f} GiB of RAM, "
        f"this machine has {hardware.device_memory_bytes / GiB:.0f} GiB and {hardware.host_memory_bytes / GiB:.0f} GiB"
    )


def choose_profile(
    shape: ModelShape,
    hardware: Hardware,
    *,
    requested: str,
    offload: bool,
    averaging: str,
    weight_bytes: int,
    seq_len: int,
    batch_size: int,
    flash: bool,
    checkpointing: bool | None,
    lora_rank: int,
    lora_targets: list[str],
) -> ProfileChoice:
    """Pick (or check) a memory profile for this model on this hardware; refuse with one line if none fits.

    ``requested`` is auto/full/lora. With ``auto`` the order tried is: full, full with optimizer
    offload (gradient averaging only), LoRA. ``weight_bytes`` is the bytes per weight of the
    dtype the weights are stored in for the full profile (4 on CPU; on GPU 4, since the full
    profile keeps fp32 weights and runs autocast, unless offloading).
    """
    big = shape.n_params > 1_000_000_000
    ckpt = big if checkpointing is None else checkpointing
    common = dict(
        averaging=averaging,
        device=hardware.device,
        seq_len=seq_len,
        batch_size=batch_size,
        flash=flash,
        checkpointing=ckpt,
        lora_rank=lora_rank,
        lora_targets=lora_targets,
    )
    half_bytes = 4 if hardware.device == "cpu" else 2
    billions = shape.n_params / 1e9
    size = f"{billions:.2f}B" if billions >= 0.1 else f"{shape.n_params / 1e6:.1f}M"

    candidates: list[tuple[str, bool, int]] = []
    if requested in ("auto", "full"):
        can_offload = averaging == "gradient" and hardware.device == "cuda"
        if requested == "full" and offload:
            if not can_offload:
                raise MemoryProfileError(
                    "--offload-optimizer needs a CUDA device and gradient averaging"
                    " (DiLoCo always keeps its outer optimizer on the host)",
                    "drop --offload-optimizer",
                )
            candidates.append(("full", True, 2))
        else:
            candidates.append(("full", False, weight_bytes))
            if requested == "auto" and can_offload:
                candidates.append(("full", True, 2))
    if requested in ("auto", "lora"):
        candidates.append(("lora", False, half_bytes))

    estimates = []
    for profile, use_offload, wbytes in candidates:
        estimate = estimate_memory(shape, profile=profile, offload=use_offload, weight_bytes=wbytes, **common)
        estimates.append(estimate)
        if fits(estimate, hardware):
            label = "full + optimizer offload" if use_offload else profile
            why = (
                f"{requested} profile fits" if requested != "auto" else f"auto: {label} is the first profile that fits"
            )
            return ProfileChoice(profile, use_offload, ckpt, estimate, f"{why} ({estimate.summary()})")

    where = f"{hardware.name} ({hardware.device_memory_bytes / GiB:.0f} GiB)" if hardware.is_cuda else "this CPU"
    if requested == "full":
        est = estimates[0]
        options = ["--profile lora"]
        if not est.offload and hardware.device == "cuda" and averaging == "gradient":
            options.append("--offload-optimizer")
        raise MemoryProfileError(
            f"full training of this {size}-parameter model does not fit on {where}: it {_need_text(est, hardware)}",
            "use " + ", or ".join([*options, "a bigger machine"]),
        )
    if requested == "lora":
        raise MemoryProfileError(
            f"LoRA training of this {size}-parameter model does not fit on {where}: "
            f"it {_need_text(estimates[0], hardware)}",
            "a 16-bit base alone takes 2 bytes per parameter; use a larger GPU (4-bit QLoRA is not supported)",
        )
    smallest = min(estimates, key=lambda e: e.device_bytes)
    raise MemoryProfileError(
        f"no training profile of this {size}-parameter model fits on {where}: even {smallest.profile} "
        f"{_need_text(smallest, hardware)}",
        "use a smaller model or a bigger machine",
    )
