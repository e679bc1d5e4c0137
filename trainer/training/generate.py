"""Text generation from a checkpoint, as in the seed's inference module.

``trainer generate --checkpoint DIR --prompts FILE --output-dir DIR --max-length N
--temperature T --top-p P --num-samples K`` reads one prompt per non-empty line and writes
``generations.jsonl`` (one object per sample) and ``generations.txt`` (readable) to the output
directory. ``--max-length`` counts prompt plus generated tokens, like Hugging Face's
``max_length``; temperature 0 means greedy decoding.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from trainer.errors import CheckpointError, TrainerError
from trainer.training.checkpoint import BASE_DIR, find_checkpoint

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedTokenizerBase

log = logging.getLogger("trainer")


@dataclass(frozen=True)
class Generation:
    prompt: str
    sample: int
    text: str
    """The continuation only (the prompt is not repeated)."""
    new_tokens: int


def read_prompts(path: Path) -> list[str]:
    if not path.is_file():
        raise TrainerError(f"prompts file {path} does not exist", "write one prompt per line to a text file")
    prompts = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not prompts:
        raise TrainerError(f"prompts file {path} has no prompts", "write one prompt per line")
    return prompts


def load_for_inference(checkpoint: Path, device: str = "auto") -> tuple[torch.nn.Module, PreTrainedTokenizerBase]:
    """Rebuild the model of a checkpoint (root or epoch directory) for generation, adapters merged."""
    import torch
    from transformers import AutoTokenizer, LlamaForCausalLM

    info = find_checkpoint(checkpoint)
    if info is None:
        raise CheckpointError(
            f"no checkpoint in {checkpoint}", "point --checkpoint at a checkpoint directory written by train or aux"
        )
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.bfloat16 if device == "cuda" and torch.cuda.is_bf16_supported() else torch.float32
    tokenizer = AutoTokenizer.from_pretrained(str(info.path / "tokenizer"))
    if info.is_lora:
        from peft import PeftModel

        root_base = info.path.parent / BASE_DIR
        base_location = str(root_base) if (root_base / "config.json").is_file() else info.state["model"]
        base = LlamaForCausalLM.from_pretrained(base_location, dtype=dtype, attn_implementation="sdpa")
        model = PeftModel.from_pretrained(base, str(info.path / "adapter")).merge_and_unload()
    else:
        model = LlamaForCausalLM.from_pretrained(str(info.path / "model"), dtype=dtype, attn_implementation="sdpa")
    model.config.use_cache = True
    model.to(device).eval()
    log.info("loaded checkpoint %s (epoch %d) on %s", info.path, info.epoch, device)
    return model, tokenizer


def generate_texts(
    model: torch.nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    prompts: list[str],
    *,
    max_length: int,
    temperature: float,
    top_p: float,
    num_samples: int,
    seed: int = 0,
) -> list[Generation]:
    """Sample ``num_samples`` continuations of each prompt."""
    import torch

    if max_length < 1 or num_samples < 1:
        raise TrainerError("--max-length and --num-samples must be at least 1")
    if temperature < 0 or not 0 < top_p <= 1:
        raise TrainerError("--temperature must be >= 0 and --top-p in (0, 1]")
    torch.manual_seed(seed)
    device = next(model.parameters()).device
    bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    results = []
    for prompt in prompts:
        ids = bos + tokenizer.encode(prompt, add_special_tokens=False)
        input_ids = torch.tensor([ids], device=device)
        new_tokens = max(1, max_length - len(ids))
        sampling = (
            dict(do_sample=True, temperature=temperature, top_p=top_p) if temperature > 0 else {"do_sample": False}
        )
        with torch.no_grad():
            output = model.generate(
                input_ids=input_ids,
                attention_mask=torch.ones_like(input_ids),
                max_new_tokens=new_tokens,
                num_return_sequences=num_samples,
                pad_token_id=pad,
                eos_token_id=tokenizer.eos_token_id,
                **sampling,
            )
        for index, row in enumerate(output):
            continuation = row[len(ids) :]
            text = tokenizer.decode(continuation, skip_special_tokens=True)
            results.append(Generation(prompt, index, text, int(len(continuation))))
    return results


def run_generation(
    checkpoint: Path,
    prompts_file: Path,
    output_dir: Path,
    *,
    max_length: int = 512,
    temperature: float = 0.7,
    top_p: float = 0.9,
    num_samples: int = 1,
    seed: int = 0,
    device: str = "auto",
) -> list[Generation]:
    """Load a checkpoint, generate for every prompt in ``prompts_file``, write the outputs."""
    prompts = read_prompts(prompts_file)
    model, tokenizer = load_for_inference(checkpoint, device)
    results = generate_texts(
        model,
        tokenizer,
        prompts,
        max_length=max_length,
        temperature=temperature,
        top_p=top_p,
        num_samples=num_samples,
        seed=seed,
    )
    output_dir.mkdir(parents=True, exist_ok=True)
    with (output_dir / "generations.jsonl").open("w") as handle:
        for result in results:
            handle.write(json.dumps(asdict(result), ensure_ascii=False) + "\n")
    lines = []
    for result in results:
        lines += [f"### prompt: {result.prompt}  (sample {result.sample + 1})", result.prompt + result.text, ""]
    (output_dir / "generations.txt").write_text("\n".join(lines))
    return results
