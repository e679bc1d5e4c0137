"""The LLaMA model: presets, name resolution, loading with the chosen kernel and memory profile.

`resolve_model` turns ``TrainConfig.model`` into a `ModelSpec` without allocating any weights
(parameters are counted on the ``meta`` device), so memory checks and bad-name errors happen
before anything heavy. `load_model` then builds the real module.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from trainer.errors import ModelError
from trainer.training.hardware import KernelChoice, sdpa_context, torch_dtype
from trainer.training.profiles import ModelShape, ProfileChoice

if TYPE_CHECKING:
    import torch
    from transformers import LlamaConfig

log = logging.getLogger(__name__)

# Named architectures with random initial weights. "tiny" is for CPU tests; the "-shape" presets
# have the real layer sizes for benchmarks and memory planning (their vocab is LLaMA-2's 32000).
PRESETS: dict[str, dict[str, Any]] = {
    "tiny": dict(
        hidden_size=64,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=2048,
        vocab_size=None,
    ),
    "llama-1b-shape": dict(
        hidden_size=2048,
        intermediate_size=5632,
        num_hidden_layers=22,
        num_attention_heads=32,
        num_key_value_heads=4,
        max_position_embeddings=4096,
        vocab_size=32000,
    ),
    "llama-7b-shape": dict(
        hidden_size=4096,
        intermediate_size=11008,
        num_hidden_layers=32,
        num_attention_heads=32,
        num_key_value_heads=32,
        max_position_embeddings=4096,
        vocab_size=32000,
    ),
}


@dataclass(frozen=True)
class ModelSpec:
    """A resolved model: where its weights come from and its architecture."""

    source: Literal["preset", "local", "hub"]
    name: str
    llama_config: LlamaConfig
    shape: ModelShape


def _shape_of(llama_config: LlamaConfig) -> ModelShape:
    import torch
    from transformers import LlamaForCausalLM

    with torch.device("meta"):
        n_params = sum(p.numel() for p in LlamaForCausalLM(llama_config).parameters())
    return ModelShape(
        n_params=n_params,
        hidden_size=llama_config.hidden_size,
        intermediate_size=llama_config.intermediate_size,
        num_layers=llama_config.num_hidden_layers,
        num_heads=llama_config.num_attention_heads,
        num_kv_heads=llama_config.num_key_value_heads or llama_config.num_attention_heads,
        vocab_size=llama_config.vocab_size,
    )


def preset_config(name: str, vocab_size: int | None) -> LlamaConfig:
    from transformers import LlamaConfig

    params = dict(PRESETS[name])
    if params["vocab_size"] is None:
        if vocab_size is None:
            raise ModelError(f"preset {name} takes its vocabulary size from the tokenizer, and none was given")
        params["vocab_size"] = vocab_size
    return LlamaConfig(rms_norm_eps=1e-5, tie_word_embeddings=False, **params)


def resolve_model(model: str, vocab_size: int | None = None) -> ModelSpec:
    """Resolve a preset name, local directory or Hugging Face id; raise `ModelError` in one line if none.

    ``vocab_size`` (the tokenizer's length) sizes the embeddings of presets that take it from the
    tokenizer and is checked against the vocabulary of the others.
    """
    if model in PRESETS:
        llama_config = preset_config(model, vocab_size)
        return ModelSpec("preset", model, llama_config, _shape_of(llama_config))

    from transformers import AutoConfig

    path = Path(model).expanduser()
    looks_local = model.startswith((".", "/", "~")) or path.exists()
    if looks_local and not path.is_dir():
        raise ModelError(
            f"model directory {model} does not exist",
            f"pass a preset ({', '.join(PRESETS)}), a local model directory or a Hugging Face id",
        )
    source: Literal["local", "hub"] = "local" if looks_local else "hub"
    # huggingface_hub logs a warning per retry; the one-line error below says what failed
    hub_logger = logging.getLogger("huggingface_hub")
    level = hub_logger.level
    hub_logger.setLevel(logging.ERROR)
    try:
        llama_config = AutoConfig.from_pretrained(str(path) if looks_local else model)
    except (OSError, ValueError) as exc:
        first = next((line for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
        raise ModelError(
            f"unknown model {model!r}: not a preset, not a local directory, and Hugging Face could not provide it "
            f"({first.strip()[:160]})",
            f"presets are {', '.join(PRESETS)}; gated models like meta-llama need `huggingface-cli login`",
        ) from None
    finally:
        hub_logger.setLevel(level)
    if getattr(llama_config, "model_type", None) != "llama":
        raise ModelError(
            f"model {model!r} is a {getattr(llama_config, 'model_type', 'unknown')!r} model, not LLaMA",
            "the trainer trains LlamaForCausalLM checkpoints only",
        )
    if vocab_size is not None and vocab_size > llama_config.vocab_size:
        raise ModelError(
            f"the tokenizer has {vocab_size} tokens but model {model!r} only embeds {llama_config.vocab_size}",
            "use the model's own tokenizer",
        )
    return ModelSpec(source, model, llama_config, _shape_of(llama_config))


def weight_dtype_name(kernel: KernelChoice, profile: ProfileChoice) -> str:
    """Storage dtype of the base weights: fp32 when computing in fp32 and for full training without
    offload (autocast handles the half-precision compute); half precision for offloaded or frozen
    (LoRA) weights. The same on CPU and GPU, so a CPU run with ``--dtype bf16`` tests the GPU's
    16-bit paths."""
    if kernel.compute_dtype == "fp32":
        return "fp32"
    if profile.profile == "lora" or profile.offload:
        return kernel.compute_dtype
    return "fp32"


def _same_attention_backend(kernel: KernelChoice) -> tuple[Any, Any]:
    """The contexts of a checkpointed layer's forward and of its recomputation in the backward: both
    restricted to the chosen SDPA backend (`hardware.sdpa_context`), wherever the backward runs."""
    return sdpa_context(kernel), sdpa_context(kernel)


def load_model(
    spec: ModelSpec,
    kernel: KernelChoice,
    profile: ProfileChoice,
    device: str,
    *,
    seed: int = 0,
    lora_rank: int = 16,
    lora_alpha: int = 32,
    lora_dropout: float = 0.0,
    lora_targets: list[str] | None = None,
    base_dir: Path | None = None,
) -> tuple[torch.nn.Module, list[torch.nn.Parameter]]:
    """Build the model on ``device`` and return it with the list of parameters that train.

    Presets get seeded random weights (identical on every peer); local and hub models load their
    pretrained weights. The LoRA profile wraps the model with peft adapters and freezes the base.
    For LoRA on a preset, ``base_dir`` keeps the random base: loaded from there if present,
    otherwise saved there, so checkpoints and `trainer generate` can rebuild it.
    """
    import torch
    from transformers import AutoModelForCausalLM, LlamaForCausalLM

    from trainer.training.checkpoint import save_base_model

    dtype = torch_dtype(weight_dtype_name(kernel, profile))
    keep_base = profile.profile == "lora" and spec.source == "preset" and base_dir is not None
    if keep_base and (base_dir / "config.json").is_file():
        spec = ModelSpec("local", str(base_dir), spec.llama_config, spec.shape)
        keep_base = False
    if spec.source == "preset":
        torch.manual_seed(seed)
        with torch.device(device):
            model = AutoModelForCausalLM.from_config(
                spec.llama_config, dtype=dtype, attn_implementation=kernel.attn_implementation
            )
        if keep_base:
            save_base_model(base_dir, model)
    else:
        location = str(Path(spec.name).expanduser()) if spec.source == "local" else spec.name
        try:
            model = LlamaForCausalLM.from_pretrained(
                location,
                dtype=dtype,
                attn_implementation=kernel.attn_implementation,
                device_map={"": device} if device != "cpu" else None,
            )
        except (OSError, ValueError) as exc:
            first = next((line for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
            raise ModelError(f"cannot load weights of {spec.name!r}: {first.strip()[:200]}") from None
    model.config.use_cache = False
    if profile.gradient_checkpointing:
        # the backward recomputes each checkpointed layer: under the attention backend its forward
        # ran with, or torch's default saves other tensors and the first backward fails (found on an
        # H200: tests/trainer/test_checkpointing_kernels.py)
        contexts = functools.partial(_same_attention_backend, kernel)
        model.gradient_checkpointing_enable(
            gradient_checkpointing_kwargs={"use_reentrant": False, "context_fn": contexts}
        )

    if profile.profile == "lora":
        from peft import LoraConfig, get_peft_model

        if profile.gradient_checkpointing:
            model.enable_input_require_grads()
        lora = LoraConfig(
            r=lora_rank,
            lora_alpha=lora_alpha,
            lora_dropout=lora_dropout,
            target_modules=list(lora_targets or []),
            task_type="CAUSAL_LM",
        )
        model = get_peft_model(model, lora)
    trainable = [param for param in model.parameters() if param.requires_grad]
    log.info(
        "model %s (%s): %.1fM parameters, %.2fM trainable, weights in %s on %s",
        spec.name,
        spec.source,
        spec.shape.n_params / 1e6,
        sum(p.numel() for p in trainable) / 1e6,
        str(dtype).replace("torch.", ""),
        device,
    )
    return model, trainable
