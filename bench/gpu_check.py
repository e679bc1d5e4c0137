"""One prepared GPU check: flash-attention kernels against SDPA math on a 7B-shaped LLaMA.

    python bench/gpu_check.py                  # everything, well under ten minutes on an H100
    python bench/gpu_check.py --no-smoke       # only the kernel benchmark
    python bench/gpu_check.py --seq-len 4096   # another sequence length

On a machine without CUDA it prints one line and exits.

1. The card: name, compute capability, memory, and what `trainer` decides for it
   (`trainer.hardware.choose_kernels`: attention kernel, precision, and why).
2. Forward + backward tokens/s and MFU of a 7B-shaped LLaMA (random weights, bf16 where
   supported, batch 1) for each attention path: ``flash_attention_2`` (when the flash-attn package
   imports), PyTorch SDPA restricted to its flash backend, and SDPA's math backend. If the 7B
   shape does not fit the card, the 1B shape is used instead (and said so).
   FLOPs per token = 6 N + 12 L d s (PaLM, appendix B: N parameters, L layers, d hidden size,
   s sequence length); MFU = achieved FLOP/s / the card's dense bf16 peak (from the table below).
3. Smoke runs of the trainer's own GPU paths on the tiny model, one peer: bf16 (autocast, no
   scaler) and fp16 (hivemind.GradScaler with in-place gradient accumulation), two epochs each.

Prints a table, then the same numbers as JSON on the last line.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Dense bf16 tensor-core peak, FLOP/s, by substring of torch.cuda.get_device_name() (first match wins).
PEAK_BF16 = [
    ("H200", 989e12),
    ("H100 PCIe", 756e12),
    ("H100 NVL", 835e12),
    ("H100", 989e12),
    ("GH200", 989e12),
    ("B200", 2250e12),
    ("A100", 312e12),
    ("A800", 312e12),
    ("L40S", 362e12),
    ("L40", 181e12),
    ("L4", 121e12),
    ("A10G", 70e12),
    ("A10", 125e12),
    ("RTX 4090", 165e12),
    ("RTX A6000", 155e12),
]


def peak_flops(name: str) -> float | None:
    return next((peak for key, peak in PEAK_BF16 if key in name), None)


def flops_per_token(n_params: int, layers: int, hidden: int, seq_len: int) -> float:
    return 6 * n_params + 12 * layers * hidden * seq_len


def measure(preset: str, attention: str, sdpa_backend: str | None, seq_len: int, steps: int) -> dict:
    """Forward+backward tokens/s of one preset with one attention path (weights in bf16, batch 1)."""
    import torch
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from transformers import AutoModelForCausalLM

    from trainer.model import preset_config

    config = preset_config(preset, None)
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    with torch.device("cuda"):
        model = AutoModelForCausalLM.from_config(config, dtype=dtype, attn_implementation=attention)
    model.config.use_cache = False
    n_params = sum(p.numel() for p in model.parameters())
    ids = torch.randint(0, config.vocab_size, (1, seq_len), device="cuda")
    backend = {"flash": SDPBackend.FLASH_ATTENTION, "math": SDPBackend.MATH}.get(sdpa_backend or "")

    def step(model: torch.nn.Module, ids: torch.Tensor) -> None:
        with sdpa_kernel([backend]) if backend is not None else contextlib.nullcontext():
            loss = model(input_ids=ids, labels=ids).loss
        loss.backward()

    for _ in range(2):
        step(model, ids)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    began = time.perf_counter()
    for _ in range(steps):
        step(model, ids)
    torch.cuda.synchronize()
    seconds = (time.perf_counter() - began) / steps
    result = {
        "preset": preset,
        "attention": attention + (f"/{sdpa_backend}" if sdpa_backend else ""),
        "seq_len": seq_len,
        "n_params": n_params,
        "step_seconds": seconds,
        "tokens_per_s": seq_len / seconds,
        "flops_per_token": flops_per_token(n_params, config.num_hidden_layers, config.hidden_size, seq_len),
        "peak_memory_gib": torch.cuda.max_memory_allocated() / 2**30,
    }
    del model, ids
    gc.collect()
    torch.cuda.empty_cache()
    return result


def kernel_benchmark(seq_len: int, steps: int, flash_attn: bool) -> list[dict]:
    import torch

    paths = ([("flash_attention_2", None)] if flash_attn else []) + [("sdpa", "flash"), ("sdpa", "math")]
    results = []
    for preset in ("llama-7b-shape", "llama-1b-shape"):
        results = []
        out_of_memory = False
        try:
            for attention, backend in paths:
                results.append(measure(preset, attention, backend, seq_len, steps))
        except torch.OutOfMemoryError:
            out_of_memory = True
        if not out_of_memory:
            return results
        print(f"  {preset} does not fit this card for fwd+bwd at seq {seq_len}; trying a smaller shape")
        gc.collect()
        torch.cuda.empty_cache()
    return results


def trainer_smoke(dtype: str) -> dict:
    """Two collaborative epochs of one tiny peer through the trainer's CUDA path in ``dtype``."""
    from trainer.config import TrainConfig
    from trainer.corpus import generate_corpus
    from trainer.train_loop import run_training

    with tempfile.TemporaryDirectory(prefix=f"gpu-smoke-{dtype}-") as tmp:
        corpus = generate_corpus(Path(tmp) / "corpus.txt", num_lines=500)
        config = TrainConfig(
            run_id=f"gpu-smoke-{dtype}",
            model="tiny",
            data=str(corpus),
            data_shards=1,
            seq_len=128,
            batch_size=8,
            target_batch_size=32,
            dtype=dtype,
            device="cuda",
            lr=3e-3,
            warmup_steps=1,
            total_steps=50,
            host_maddrs=["/ip4/127.0.0.1/tcp/0"],
            matchmaking_time=1.0,
            averaging_timeout=3.0,
            checkpoint_dir=Path(tmp) / "ckpt",
            checkpoint_every=0,
            max_epochs=2,
            progress_bar=False,
        )
        summary = run_training(config)
        return {
            "dtype": dtype,
            "epochs": summary.epochs_completed,
            "first_loss": summary.first_loss,
            "last_loss": summary.last_loss,
            "tokens": summary.tokens,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seq-len", type=int, default=2048)
    parser.add_argument("--steps", type=int, default=6, help="timed forward+backward steps per path")
    parser.add_argument("--no-smoke", action="store_true", help="skip the trainer smoke runs")
    args = parser.parse_args()

    import torch

    if not torch.cuda.is_available():
        print(f"gpu_check: no CUDA device visible to torch {torch.__version__}; nothing to measure on this machine")
        return

    from trainer.config import TrainConfig
    from trainer.hardware import choose_kernels, detect_hardware

    hardware = detect_hardware(TrainConfig(device="cuda"))
    choice = choose_kernels(hardware.device, hardware.capability, hardware.flash_attn_available)
    peak = peak_flops(hardware.name)
    print(
        f"card: {hardware.name}, sm{hardware.capability[0]}{hardware.capability[1]}, "
        f"{hardware.device_memory_bytes / 2**30:.0f} GiB, torch {torch.__version__}, "
        f"flash-attn {'importable' if hardware.flash_attn_available else 'not installed'}"
    )
    print(f"trainer's choice: {choice.describe()}")

    results = kernel_benchmark(args.seq_len, args.steps, hardware.flash_attn_available)
    if results:
        print(
            f"\nforward+backward, batch 1 x seq {args.seq_len}, {results[0]['preset']} "
            f"({results[0]['n_params'] / 1e9:.2f}B parameters), bf16 weights:"
        )
        print(f"  {'attention':<26} {'tokens/s':>10} {'step s':>8} {'MFU':>7} {'peak GiB':>9}")
        for row in results:
            row["mfu"] = row["tokens_per_s"] * row["flops_per_token"] / peak if peak else None
            mfu = f"{100 * row['mfu']:.1f}%" if row["mfu"] is not None else "n/a"
            print(
                f"  {row['attention']:<26} {row['tokens_per_s']:>10,.0f} {row['step_seconds']:>8.3f} "
                f"{mfu:>7} {row['peak_memory_gib']:>9.1f}"
            )
        if peak is None:
            print(f"  (no bf16 peak on file for {hardware.name!r}: MFU not computed)")

    smoke = []
    if not args.no_smoke:
        dtypes = ["bf16", "fp16"] if hardware.capability >= (8, 0) else ["fp16"]
        for dtype in dtypes:
            smoke.append(trainer_smoke(dtype))
        print("\ntrainer on this GPU, tiny model, one peer, two epochs:")
        for row in smoke:
            print(f"  {row['dtype']}: {row['epochs']} epochs, loss {row['first_loss']:.3f} -> {row['last_loss']:.3f}")
    print(
        json.dumps(
            {
                "card": hardware.name,
                "capability": hardware.capability,
                "peak_bf16": peak,
                "choice": choice.describe(),
                "kernels": results,
                "smoke": smoke,
            }
        )
    )


if __name__ == "__main__":
    main()
