"""Honest memory profiles: how many bytes a training setup needs, and whether the machine has them.

Two profiles, in bytes per parameter before activations (n = parameters):

- ``full``: every weight is trained. Without offload the device holds fp32 weights, fp32
  gradients, hivemind's fp32 gradient accumulators and Adam's two moments (20 B); when compute is
  16-bit, autocast also keeps a 16-bit copy of every weight it cast (2 B: 12.6 GiB for 7B). With
  ``offload_optimizer`` the device holds 16-bit weights and fp32 gradients that autograd
  accumulates into in place (2 + 4 B; fp32 so hundreds of micro-batches do not lose their low
  bits) and the host holds hivemind's fp32 master copy, Adam state and the gradient averaging
  buffer (16 B). DiLoCo (always offloaded) keeps fp32 weights, their gradients and the inner
  AdamW's moments on the device (16 B, plus the autocast copy) and the outer weights, Nesterov
  momentum and the pseudo-gradient buffer in host RAM (12 B); the pseudo-gradient is written
  straight into that host buffer, so the device holds no accumulator for it. Overlapped DiLoCo
  (``overlap``, `--delay-updates`) keeps one more fp32 host copy of the trainable weights (the
  local weights at the last round's end, 4 B).
- ``lora``: the base model is frozen in the compute dtype (16-bit, or fp32 for fp32 compute) and
  only low-rank adapters train, in fp32; only the adapters are averaged, so network traffic drops
  by orders of magnitude.

The numbers are estimates, stated with their assumptions, good to about 10-20%. A setup fits when
estimate + a fixed overhead (CUDA context, allocator, workspaces: `DEVICE_OVERHEAD_BYTES`; Python,
hivemind's processes: `HOST_OVERHEAD_BYTES`) stays within `USABLE_FRACTION` of the memory; what
is left beyond that is the stated margin. They exist to refuse early with a clear message instead
of dying halfway through with an out-of-memory error: full training of a 7B LLaMA does not fit in
14 GB, and neither does LoRA with a 16-bit base. `profile_options` is the one rule set: `--profile
auto` takes the first option that fits, `trainer doctor` prints them all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from trainer.errors import MemoryProfileError
from trainer.training.hardware import Hardware

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
class ProfileOption:
    """One way to train this model on this machine, with its estimate and whether it fits."""

    profile: Literal["full", "lora"]
    offload: bool
    estimate: MemoryEstimate
    device_margin: int
    """Bytes left on the device after estimate and overhead, within the usable fraction (< 0: short)."""
    host_margin: int

    @property
    def label(self) -> str:
        return "full + offload" if self.offload else self.profile

    @property
    def fits(self) -> bool:
        return self.device_margin >= 0 and self.host_margin >= 0

    def margin_text(self, device: str) -> str:
        if device == "cpu":
            return f"margin {self.host_margin / GiB:.1f} GiB of RAM"
        return f"margin {self.device_margin / GiB:.1f} GiB on the device, {self.host_margin / GiB:.1f} GiB of RAM"


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
    compute_bytes: int,
    seq_len: int,
    batch_size: int,
    flash: bool,
    checkpointing: bool,
    lora_rank: int = 16,
    lora_targets: list[str] | None = None,
    overlap: bool = False,
) -> MemoryEstimate:
    """Bytes on the training device and in host RAM for one peer (see the module docstring).

    ``compute_bytes`` is 2 for 16-bit compute (bf16/fp16) and 4 for fp32; the weights' storage
    follows `trainer.training.model.weight_dtype_name`: fp32 for full training without offload, the
    compute dtype for offloaded and frozen (LoRA) weights.
    """
    n = shape.n_params
    half = compute_bytes == 2
    activations = activation_bytes(shape, seq_len, batch_size, compute_bytes, flash, checkpointing)
    parts: dict[str, int] = {"activations": activations}
    host: dict[str, int] = {}
    diloco = averaging == "diloco"
    weight_bytes = compute_bytes if profile == "lora" or offload else 4
    if weight_bytes == 4 and half:
        parts["autocast 16-bit weight copies"] = n * 2

    if profile == "lora":
        trainable = shape.lora_params(lora_rank, lora_targets or [])
        parts["frozen base weights"] = n * weight_bytes
        # adapters in fp32: weights, grads, Adam moments, hivemind accumulators
        parts["adapters + grads + Adam"] = trainable * (4 + 4 + 8 + 4)
        host["averaging buffers (adapters only)"] = trainable * 4 * (3 if diloco else 2)
    elif diloco:
        trainable = n
        parts["weights"] = n * weight_bytes
        parts["gradients"] = n * weight_bytes
        parts["inner Adam moments (fp32)"] = n * 8
        host["outer fp32 params + Nesterov momentum"] = n * 8
        host["pseudo-gradient averaging buffer"] = n * 4
    elif offload:
        trainable = n
        parts[f"weights ({8 * weight_bytes}-bit)"] = n * weight_bytes
        parts["gradients (fp32, accumulated in place)"] = n * 4
        host["fp32 master weights"] = n * 4
        host["Adam moments (fp32)"] = n * 8
        host["gradient averaging buffer"] = n * 4
    else:
        trainable = n
        parts["weights"] = n * weight_bytes
        parts["gradients + accumulators"] = n * weight_bytes * 2
        parts["Adam moments (fp32)"] = n * 8
        host["averaging buffers"] = n * 4 * 2

    if diloco and overlap:
        host["overlap base (local weights at the last round's end)"] = trainable * 4
    device_bytes = sum(parts.values())
    host_bytes = sum(host.values())
    all_parts = {**{f"device: {k}": v for k, v in parts.items()}, **{f"host: {k}": v for k, v in host.items()}}
    if device == "cpu":
        # one pool of memory: everything lands in RAM
        device_bytes = host_bytes = device_bytes + host_bytes
    return MemoryEstimate(profile, offload, device_bytes, host_bytes, trainable, all_parts)


def margins(estimate: MemoryEstimate, hardware: Hardware) -> tuple[int, int]:
    """(device, host) bytes left after the estimate and the overheads, within the usable fraction."""
    host = int(hardware.host_memory_bytes * USABLE_FRACTION) - estimate.host_bytes - HOST_OVERHEAD_BYTES
    if hardware.device == "cpu":
        return host, host
    device = int(hardware.device_memory_bytes * USABLE_FRACTION) - estimate.device_bytes - DEVICE_OVERHEAD_BYTES
    return device, host


def fits(estimate: MemoryEstimate, hardware: Hardware) -> bool:
    return min(margins(estimate, hardware)) >= 0


def profile_options(
    shape: ModelShape,
    hardware: Hardware,
    *,
    requested: str = "auto",
    offload: bool = False,
    averaging: str,
    compute_bytes: int,
    seq_len: int,
    batch_size: int,
    flash: bool,
    checkpointing: bool,
    lora_rank: int,
    lora_targets: list[str],
    overlap: bool = False,
) -> list[ProfileOption]:
    """The profiles to consider, in `--profile auto`'s order of preference, each with its estimate
    and margins: full, full with optimizer offload (gradient averaging on a GPU; on a CPU only
    when asked for, to test that path), LoRA. ``requested`` full/lora keeps only those rows."""
    rows: list[tuple[Literal["full", "lora"], bool]] = []
    if requested in ("auto", "full"):
        if not (requested == "full" and offload):
            rows.append(("full", False))
        if averaging == "gradient" and (hardware.is_cuda or offload) and (requested == "auto" or offload):
            rows.append(("full", True))
    if requested in ("auto", "lora"):
        rows.append(("lora", False))
    options = []
    for profile, use_offload in rows:
        estimate = estimate_memory(
            shape,
            profile=profile,
            offload=use_offload,
            averaging=averaging,
            device=hardware.device,
            compute_bytes=compute_bytes,
            seq_len=seq_len,
            batch_size=batch_size,
            flash=flash,
            checkpointing=checkpointing,
            lora_rank=lora_rank,
            lora_targets=lora_targets,
            overlap=overlap,
        )
        device_margin, host_margin = margins(estimate, hardware)
        options.append(ProfileOption(profile, use_offload, estimate, device_margin, host_margin))
    return options


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


def gradient_checkpointing(shape: ModelShape, requested: bool | None) -> bool:
    """Whether activations are recomputed: as requested, else for models over a billion parameters."""
    return shape.n_params > 1_000_000_000 if requested is None else requested


def choose_profile(
    shape: ModelShape,
    hardware: Hardware,
    *,
    requested: str,
    offload: bool,
    averaging: str,
    compute_bytes: int,
    seq_len: int,
    batch_size: int,
    flash: bool,
    checkpointing: bool | None,
    lora_rank: int,
    lora_targets: list[str],
    overlap: bool = False,
) -> ProfileChoice:
    """Pick (or check) a memory profile for this model on this hardware; refuse with one line if none fits.

    ``requested`` is auto/full/lora; the options and their order are `profile_options`'s.
    """
    ckpt = gradient_checkpointing(shape, checkpointing)
    if offload and averaging != "gradient":
        raise MemoryProfileError(
            "--offload-optimizer needs gradient averaging (DiLoCo always keeps its outer optimizer on the host)",
            "drop --offload-optimizer",
        )
    if offload and requested == "lora":
        raise MemoryProfileError("--offload-optimizer applies to the full profile", "use --profile full")
    options = profile_options(
        shape,
        hardware,
        requested=requested,
        offload=offload,
        averaging=averaging,
        compute_bytes=compute_bytes,
        seq_len=seq_len,
        batch_size=batch_size,
        flash=flash,
        checkpointing=ckpt,
        lora_rank=lora_rank,
        lora_targets=lora_targets,
        overlap=overlap,
    )
    billions = shape.n_params / 1e9
    size = f"{billions:.2f}B" if billions >= 0.1 else f"{shape.n_params / 1e6:.1f}M"
    for option in options:
        if option.fits:
            why = f"{requested} profile fits" if requested != "auto" else f"auto: {option.label} is the first that fits"
            return ProfileChoice(
                option.profile,
                option.offload,
                ckpt,
                option.estimate,
                f"{why} ({option.estimate.summary()}; {option.margin_text(hardware.device)})",
            )

    where = f"{hardware.name} ({hardware.device_memory_bytes / GiB:.0f} GiB)" if hardware.is_cuda else "this CPU"
    if requested == "full":
        est = options[0].estimate
        hints = ["--profile lora"]
        if not est.offload and hardware.is_cuda and averaging == "gradient":
            hints.append("--offload-optimizer")
        raise MemoryProfileError(
            f"full training of this {size}-parameter model does not fit on {where}: it {_need_text(est, hardware)}",
            "use " + ", or ".join([*hints, "a bigger machine"]),
        )
    if requested == "lora":
        raise MemoryProfileError(
            f"LoRA training of this {size}-parameter model does not fit on {where}: "
            f"it {_need_text(options[0].estimate, hardware)}",
            "a 16-bit base alone takes 2 bytes per parameter; use a larger GPU (4-bit QLoRA is not supported)",
        )
    smallest = min((o.estimate for o in options), key=lambda e: e.device_bytes)
    raise MemoryProfileError(
        f"no training profile of this {size}-parameter model fits on {where}: even {smallest.profile} "
        f"{_need_text(smallest, hardware)}",
        "use a smaller model or a bigger machine",
    )
