"""What machine are we on, and which attention kernel and precision does it call for?

`choose_kernels` is a pure function of the detected capabilities so the GPU decisions can be
tested on a CPU with made-up inputs; `detect_hardware` fills those inputs from the real machine.

Rules (see trainer/README.md for the reasons):

- CPU: PyTorch SDPA in fp32 by default. ``--dtype bf16`` (or ``fp16``) runs the same 16-bit
  paths as a GPU (16-bit weights for LoRA and offload, autocast for the rest): slower than fp32 on
  most CPUs, but it is how the GPU profiles' 16-bit code is tested without a GPU.
- CUDA, compute capability >= 8.0 (Ampere, Ada, Hopper): bf16 by default (fp16 on request, with a
  hivemind.GradScaler); ``flash_attention_2`` when the ``flash-attn`` package imports, otherwise
  SDPA restricted to its flash backend.
- CUDA, capability < 8.0 (T4, V100): no bf16 and no FlashAttention-2 kernels there, so fp16 with a
  grad scaler and SDPA's memory-efficient backend.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from dataclasses import dataclass
from typing import Literal

from trainer.errors import TrainerError
from trainer.training.config import TrainConfig

log = logging.getLogger(__name__)

SdpaBackend = Literal["flash", "efficient", "math"]

FLASH_MIN_CAPABILITY = (8, 0)


@dataclass(frozen=True)
class Hardware:
    """The compute device a peer will train on, and the host it runs in."""

    device: Literal["cpu", "cuda"]
    name: str
    capability: tuple[int, int] | None
    device_memory_bytes: int
    host_memory_bytes: int
    flash_attn_available: bool

    @property
    def is_cuda(self) -> bool:
        return self.device == "cuda"


@dataclass(frozen=True)
class KernelChoice:
    """The attention implementation and precision picked for a device, with the reason."""

    attn_implementation: Literal["flash_attention_2", "sdpa", "eager"]
    sdpa_backend: SdpaBackend | None
    """When set, forward/backward run inside ``torch.nn.attention.sdpa_kernel`` for that backend."""
    compute_dtype: Literal["fp32", "bf16", "fp16"]
    grad_scaler: bool
    reason: str

    def describe(self) -> str:
        kernel = self.attn_implementation
        if self.sdpa_backend is not None:
            kernel += f" ({self.sdpa_backend} backend)"
        return f"attention={kernel}, dtype={self.compute_dtype}: {self.reason}"


def host_memory_bytes() -> int:
    """Memory the host can still give us (MemAvailable), falling back to physical memory."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def flash_attn_importable() -> bool:
    """True when the ``flash-attn`` package is installed and transformers can use it."""
    if importlib.util.find_spec("flash_attn") is None:
        return False
    try:
        from transformers.utils import is_flash_attn_2_available

        return bool(is_flash_attn_2_available())
    except Exception:  # a broken CUDA extension must not take the trainer down
        return False


def detect_hardware(config: TrainConfig) -> Hardware:
    """Inspect the machine (or honour ``device``/``gpu_memory_gb``/``host_memory_gb`` overrides)."""
    import torch

    host = int(config.host_memory_gb * 2**30) if config.host_memory_gb else host_memory_bytes()
    want_cuda = config.device in ("auto", "cuda")
    if want_cuda and torch.cuda.is_available():
        index = torch.cuda.current_device()
        props = torch.cuda.get_device_properties(index)
        memory = int(config.gpu_memory_gb * 2**30) if config.gpu_memory_gb else int(props.total_memory)
        return Hardware(
            device="cuda",
            name=props.name,
            capability=(props.major, props.minor),
            device_memory_bytes=memory,
            host_memory_bytes=host,
            flash_attn_available=flash_attn_importable(),
        )
    if config.device == "cuda":
        raise TrainerError("--device cuda was requested but PyTorch sees no CUDA device", "drop --device or fix CUDA")
    if config.gpu_memory_gb is not None:
        # Planning for a GPU from a CPU-only machine: describe an Ampere-class card of that size.
        raise TrainerError(
            "--gpu-memory-gb describes a GPU, but this machine has none",
            "use `trainer doctor --gpu-memory-gb N` to plan for a card, or train on CPU without it",
        )
    return Hardware(
        device="cpu",
        name="cpu",
        capability=None,
        device_memory_bytes=host,
        host_memory_bytes=host,
        flash_attn_available=False,
    )


def planned_gpu(memory_gb: float, capability: str, host: Hardware) -> Hardware:
    """A GPU to plan for instead of the detected device (`trainer doctor --gpu-memory-gb`): this much
    memory, compute capability ``major.minor`` (e.g. ``8.0``), in ``host``'s machine."""
    major, _, minor = capability.partition(".")
    return Hardware(
        "cuda",
        f"planned {memory_gb:g} GB GPU",
        (int(major), int(minor or 0)),
        int(memory_gb * 2**30),
        host.host_memory_bytes,
        flash_attn_importable(),
    )


def choose_kernels(
    device: Literal["cpu", "cuda"],
    capability: tuple[int, int] | None,
    flash_attn_available: bool,
    dtype: str = "auto",
    attention: str = "auto",
) -> KernelChoice:
    """Pick attention kernel and precision for a device; raise `TrainerError` for impossible requests.

    ``dtype`` is one of auto/fp32/bf16/fp16 and ``attention`` one of
    auto/flash_attention_2/sdpa_flash/sdpa/eager, as in `TrainConfig`.
    """
    if device == "cpu":
        if attention in ("flash_attention_2", "sdpa_flash"):
            raise TrainerError(f"attention {attention} needs a CUDA GPU", "use --attention sdpa on CPU")
        implementation = "eager" if attention == "eager" else "sdpa"
        if dtype in ("auto", "fp32"):
            return KernelChoice(implementation, None, "fp32", False, "CPU: PyTorch SDPA in fp32")
        # fp16 on CPU has no overflow problem worth a loss scaler at these sizes, and torch's CPU
        # GradScaler does not run hivemind's per-epoch unscaling: no scaler there
        return KernelChoice(
            implementation,
            None,
            dtype,
            False,
            f"CPU: {dtype} as requested (autocast; 16-bit weights where the profile keeps them)",
        )

    assert capability is not None, "a CUDA device always has a compute capability"
    ampere_or_newer = capability >= FLASH_MIN_CAPABILITY
    cap = f"sm{capability[0]}{capability[1]}"

    if dtype == "auto":
        compute_dtype = "bf16" if ampere_or_newer else "fp16"
    elif dtype == "bf16" and not ampere_or_newer:
        raise TrainerError(f"bf16 needs compute capability >= 8.0, this GPU is {cap}", "use --dtype fp16")
    else:
        compute_dtype = dtype
    grad_scaler = compute_dtype == "fp16"
    dtype_reason = {
        "bf16": "bf16 (Ampere or newer: no loss scaling needed)",
        "fp16": "fp16 with a hivemind.GradScaler",
        "fp32": "fp32 as requested",
    }[compute_dtype]

    if attention == "eager":
        return KernelChoice(
            "eager", None, compute_dtype, grad_scaler, f"{cap}: eager attention as requested, {dtype_reason}"
        )
    if attention == "sdpa":
        return KernelChoice(
            "sdpa", None, compute_dtype, grad_scaler, f"{cap}: SDPA (any backend) as requested, {dtype_reason}"
        )

    half = compute_dtype in ("bf16", "fp16")
    if attention == "flash_attention_2":
        if not ampere_or_newer:
            raise TrainerError(
                f"FlashAttention-2 needs compute capability >= 8.0, this GPU is {cap}", "use --attention auto"
            )
        if not flash_attn_available:
            raise TrainerError(
                "the flash-attn package is not importable",
                "pip install 'injective-ai-hub[gpu]' or use --attention sdpa_flash",
            )
        if not half:
            raise TrainerError("FlashAttention-2 runs only in fp16/bf16", "drop --dtype fp32")
        return KernelChoice(
            "flash_attention_2", None, compute_dtype, grad_scaler, f"{cap}: flash-attn as requested, {dtype_reason}"
        )
    if attention == "sdpa_flash":
        if not ampere_or_newer or not half:
            raise TrainerError(
                f"SDPA's flash backend needs compute capability >= 8.0 and fp16/bf16 "
                f"(this GPU is {cap}, dtype {compute_dtype})",
                "use --attention auto",
            )
        return KernelChoice(
            "sdpa", "flash", compute_dtype, grad_scaler, f"{cap}: SDPA flash backend as requested, {dtype_reason}"
        )

    # attention == "auto"
    if ampere_or_newer and half:
        if flash_attn_available:
            return KernelChoice(
                "flash_attention_2",
                None,
                compute_dtype,
                grad_scaler,
                f"{cap} >= sm80 and flash-attn imports, {dtype_reason}",
            )
        return KernelChoice(
            "sdpa",
            "flash",
            compute_dtype,
            grad_scaler,
            f"{cap} >= sm80 but flash-attn is not installed: SDPA flash backend, {dtype_reason}",
        )
    if half:
        return KernelChoice(
            "sdpa",
            "efficient",
            compute_dtype,
            grad_scaler,
            f"{cap} < sm80 has no flash kernels: SDPA memory-efficient backend, {dtype_reason}",
        )
    return KernelChoice(
        "sdpa", None, compute_dtype, grad_scaler, f"{cap}: fp32 requested, SDPA without a backend restriction"
    )


def sdpa_context(choice: KernelChoice):  # -> contextlib.AbstractContextManager
    """A context manager that restricts SDPA to the chosen backend (a no-op when none is chosen)."""
    import contextlib

    if choice.sdpa_backend is None or choice.attn_implementation != "sdpa":
        return contextlib.nullcontext()
    from torch.nn.attention import SDPBackend, sdpa_kernel

    backend = {
        "flash": SDPBackend.FLASH_ATTENTION,
        "efficient": SDPBackend.EFFICIENT_ATTENTION,
        "math": SDPBackend.MATH,
    }[choice.sdpa_backend]
    return sdpa_kernel([backend])


def autocast_context(device: str, choice: KernelChoice):  # -> contextlib.AbstractContextManager
    """Autocast to the chosen 16-bit dtype (a no-op for fp32): fp32 weights compute in 16 bits."""
    import contextlib

    if choice.compute_dtype == "fp32":
        return contextlib.nullcontext()
    import torch

    return torch.autocast(device, dtype=torch_dtype(choice.compute_dtype))


def torch_dtype(name: str):  # -> torch.dtype
    import torch

    return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[name]
