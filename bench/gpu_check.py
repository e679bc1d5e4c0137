"""One prepared GPU check: the trainer itself on a 7B-shaped LLaMA, profile by profile, plus kernels.

    python bench/gpu_check.py                  # the card's rows, in well under five minutes
    python bench/gpu_check.py --dry-run        # the same rows on this CPU with the tiny model (a test)
    python bench/gpu_check.py --steps 4        # more timed steps per row
    python bench/gpu_check.py --rows lora,eager   # only these rows

1. The card: name, capability, memory, and the trainer's kernel and precision choice.
2. Profile rows: for every profile `trainer`'s own rules (`trainer.training.profiles.profile_options`) say
   fits this card for the 7B shape (full, full + offload, LoRA, and DiLoCo's full), a few real
   training steps through the trainer's code: `plan_run`, `load_model`, a loopback hivemind DHT,
   `build_optimizer` (fp32 gradients, offloaded optimizer, DiLoCo's host pseudo-gradient), the
   forward/backward under the chosen autocast and SDPA backend, then one collaborative epoch
   (optimizer or outer step). Each row reports micro-batch tokens/s, MFU, the epoch step's
   seconds, and peak device memory next to `estimate_memory`'s device bytes (ratio; the goal is
   within 10%). Rows that the rules say do not fit are listed as such, with their estimate.
3. Kernel rows: forward + backward tokens/s, MFU and peak memory of the 7B shape (bf16 weights,
   batch 1) for ``flash_attention_2`` (when flash-attn imports), SDPA restricted to its flash
   backend, SDPA with no restriction, SDPA's math backend, and eager attention.

Every row runs in its own process with a time limit, so an out-of-memory error or a crash in one
row is reported as that row's status and never loses the others. FLOPs per token = 6 N + 12 L d s
(PaLM, appendix B); MFU = achieved FLOP/s / the card's dense bf16 peak (table below). Nothing is
downloaded: random weights, random tokens, the built-in tokenizer. On a bare GPU machine with only
torch and transformers, install the wheels `bench/gpu_wheels.sh` built here first.

Prints a table, then every number as JSON on the last line.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
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
# @dev (label, profile, offload, averaging): the profiles `--profile auto` can choose, and DiLoCo.
PROFILE_ROWS = [
    ("full", "full", False, "gradient"),
    ("full + offload", "full", True, "gradient"),
    ("lora", "lora", False, "gradient"),
    ("diloco full", "full", False, "diloco"),
]
# @dev (label, attn_implementation, SDPA backend or None): the kernel rows.
KERNEL_ROWS = [
    ("flash_attention_2", "flash_attention_2", None),
    ("sdpa flash", "sdpa", "flash"),
    ("sdpa default", "sdpa", None),
    ("sdpa math", "sdpa", "math"),
    ("eager", "eager", None),
]
# @dev Seconds one row may take before it is reported as timed out (7B init + offload copy + steps).
ROW_TIMEOUT_S = 150
# @dev Seconds a row waits for hivemind's progress tracker to start the epoch its samples completed.
EPOCH_WAIT_S = 60


def peak_flops(name: str) -> float | None:
    return next((peak for key, peak in PEAK_BF16 if key in name), None)


def flops_per_token(n_params: int, layers: int, hidden: int, seq_len: int) -> float:
    return 6 * n_params + 12 * layers * hidden * seq_len


# --- one row, in its own process ----------------------------------------------------------------


def _sync(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


def _peak_bytes(device: str) -> int | None:
    import torch

    return int(torch.cuda.max_memory_allocated()) if device == "cuda" else None


def profile_row(label: str, model: str, device: str, dtype: str, seq_len: int, steps: int) -> dict:
    """A few training steps of one profile through the trainer's own code; numbers as a dict."""
    import hivemind
    import torch

    from trainer.errors import MemoryProfileError
    from trainer.training.config import TrainConfig
    from trainer.training.hardware import autocast_context, sdpa_context
    from trainer.training.model import load_model
    from trainer.training.plan import plan_run
    from trainer.training.swarm import build_optimizer, make_adamw

    _, profile, offload, averaging = next(row for row in PROFILE_ROWS if row[0] == label)
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as tmp:
        config = TrainConfig(
            run_id=f"gpu-check-{label.replace(' ', '-').replace('+', 'plus')}",
            model=model,
            device=device,
            dtype=dtype,
            profile=profile,
            offload_optimizer=offload,
            averaging=averaging,
            seq_len=seq_len,
            batch_size=1,
            # gradient mode: warm-up + timed micro-batches + the one that completes the epoch;
            # DiLoCo: the outer step reports the round's micro-batches at once
            target_batch_size=steps if averaging == "diloco" else steps + 1,
            warmup_steps=0,
            host_maddrs=["/ip4/127.0.0.1/tcp/0"],
            matchmaking_time=1.0,
            averaging_timeout=3.0,
            checkpoint_dir=Path(tmp) / "ckpt",
        )
        try:
            plan = plan_run(config, need_data=False)
        except MemoryProfileError as exc:
            return {"row": label, "status": "does not fit", "detail": exc.one_line()}
        estimate = plan.profile.estimate
        began = time.perf_counter()
        net, trainable = load_model(
            plan.spec, plan.kernel, plan.profile, device, lora_targets=config.lora_targets, base_dir=Path(tmp) / "base"
        )
        net.train()
        dht = hivemind.DHT(start=True, host_maddrs=config.host_maddrs)
        reuse = plan.profile.offload or plan.kernel.grad_scaler
        opt = build_optimizer(config, dht, trainable, offload=plan.profile.offload, reuse_grad_buffers=reuse)
        inner = make_adamw(config, trainable) if averaging == "diloco" else None
        setup_s = time.perf_counter() - began
        vocab = plan.spec.llama_config.vocab_size
        try:

            def micro_batch() -> None:
                ids = torch.randint(0, vocab, (1, seq_len), device=device)
                with autocast_context(device, plan.kernel), sdpa_context(plan.kernel):
                    loss = net(input_ids=ids, labels=ids).loss
                loss.backward()
                if inner is not None:
                    inner.step()
                    inner.zero_grad(set_to_none=True)
                else:
                    opt.step(batch_size=1)
                    if not reuse:
                        opt.zero_grad(set_to_none=True)

            micro_batch()  # warm-up (kernels, allocator); not timed
            _sync(device)
            timed = time.perf_counter()
            for _ in range(steps - 1):
                micro_batch()
            _sync(device)
            step_s = (time.perf_counter() - timed) / max(1, steps - 1)
            epoch_began = time.perf_counter()
            if inner is not None:
                opt.diloco_step(trainable, steps)
            else:
                micro_batch()  # the sample that completes the target: the optimizer step runs
            _sync(device)
            epoch_s = time.perf_counter() - epoch_began
            # hivemind's progress tracker decides when the epoch may advance, from its view of the
            # swarm's samples, which a background thread fetches from the DHT: under load that view
            # can lag behind this peer's own reports, and the sample that completes the target then
            # starts no epoch ("no epoch" in a loaded CI run). A trainer keeps stepping until the
            # tracker is ready; so does this, bounded, and times the micro-batch that ran the step
            deadline = time.monotonic() + EPOCH_WAIT_S
            while opt.local_epoch < 1 and time.monotonic() < deadline:
                while not opt.tracker.ready_to_update_epoch and time.monotonic() < deadline:
                    time.sleep(0.05)
                epoch_began = time.perf_counter()
                if inner is not None:
                    opt.diloco_step(trainable, 0)  # the round's samples are already reported
                else:
                    micro_batch()
                _sync(device)
                epoch_s = time.perf_counter() - epoch_began
            peak = _peak_bytes(device)
            shape = plan.spec.shape
            return {
                "row": label,
                "status": "ok" if opt.local_epoch >= 1 else "no epoch",
                "profile": plan.profile.profile,
                "offload": plan.profile.offload,
                "averaging": averaging,
                "n_params": shape.n_params,
                "trainable": estimate.trainable_params,
                "setup_s": setup_s,
                "step_s": step_s,
                "tokens_per_s": seq_len / step_s,
                "flops_per_token": flops_per_token(shape.n_params, shape.num_layers, shape.hidden_size, seq_len),
                "epoch_step_s": epoch_s,
                "peak_device_bytes": peak,
                "estimated_device_bytes": estimate.device_bytes,
                "peak_over_estimate": peak / estimate.device_bytes if peak else None,
            }
        finally:
            opt.shutdown()
            dht.shutdown()


def kernel_row(label: str, model: str, device: str, dtype: str, seq_len: int, steps: int) -> dict:
    """Forward+backward tokens/s of one attention path (weights in the compute dtype, batch 1)."""
    import torch
    from transformers import AutoModelForCausalLM

    from trainer.training.hardware import flash_attn_importable, torch_dtype
    from trainer.training.model import preset_config
    from trainer.training.tokenizer import BUILTIN, load_tokenizer

    _, attention, backend = next(row for row in KERNEL_ROWS if row[0] == label)
    if attention == "flash_attention_2" and (device != "cuda" or not flash_attn_importable()):
        return {"row": label, "status": "skipped", "detail": "flash-attn is not installed (or no CUDA)"}
    if backend == "flash" and device != "cuda":
        return {"row": label, "status": "skipped", "detail": "SDPA's flash backend needs CUDA"}
    config = preset_config(model, len(load_tokenizer(BUILTIN)) if model == "tiny" else None)
    with torch.device(device):
        net = AutoModelForCausalLM.from_config(config, dtype=torch_dtype(dtype), attn_implementation=attention)
    net.config.use_cache = False
    n_params = sum(p.numel() for p in net.parameters())

    def step() -> None:
        import contextlib

        from torch.nn.attention import SDPBackend, sdpa_kernel

        chosen = {"flash": SDPBackend.FLASH_ATTENTION, "math": SDPBackend.MATH}.get(backend or "")
        ids = torch.randint(0, config.vocab_size, (1, seq_len), device=device)
        with sdpa_kernel([chosen]) if chosen is not None else contextlib.nullcontext():
            loss = net(input_ids=ids, labels=ids).loss
        loss.backward()

    step()
    _sync(device)
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    began = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(device)
    seconds = (time.perf_counter() - began) / steps
    return {
        "row": label,
        "status": "ok",
        "n_params": n_params,
        "step_s": seconds,
        "tokens_per_s": seq_len / seconds,
        "flops_per_token": flops_per_token(n_params, config.num_hidden_layers, config.hidden_size, seq_len),
        "peak_device_bytes": _peak_bytes(device),
    }


def run_row(kind: str, label: str, args: argparse.Namespace) -> dict:
    """Run one row in a child process; its OOM, crash or time-out becomes this row's status."""
    command = [sys.executable, __file__, "--row", kind, label, "--model", args.model, "--device", args.device]
    command += ["--dtype", args.dtype, "--seq-len", str(args.seq_len), "--steps", str(args.steps)]
    if label == args.fail_row:
        command.append("--fail")
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=args.row_timeout, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"row": label, "status": f"timed out after {args.row_timeout} s"}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode == 0 and lines:
        return json.loads(lines[-1])
    tail = (done.stderr or done.stdout).strip().splitlines()
    oom = any("OutOfMemoryError" in line or "out of memory" in line for line in tail)
    return {"row": label, "status": "out of memory" if oom else "failed", "detail": tail[-1][:300] if tail else ""}


# --- the report ---------------------------------------------------------------------------------


def _gib(value: int | None) -> str:
    return f"{value / 2**30:.1f}" if value else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dry-run", action="store_true", help="tiny model on this CPU in bf16: test the script")
    parser.add_argument("--model", default="llama-7b-shape")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--dtype", default="bf16")
    parser.add_argument("--seq-len", type=int, default=2048)
    parser.add_argument("--steps", type=int, default=3, help="micro-batches per profile row (one is warm-up)")
    parser.add_argument("--row-timeout", type=int, default=ROW_TIMEOUT_S)
    parser.add_argument("--rows", help="comma-separated row labels to run (default: all)")
    parser.add_argument("--row", nargs=2, metavar=("KIND", "LABEL"), help=argparse.SUPPRESS)
    # tests only: this row's process dies of an out-of-memory error, as a 7B row may on a small card
    parser.add_argument("--fail-row", help=argparse.SUPPRESS)
    parser.add_argument("--fail", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.dry_run:
        args.model, args.device, args.seq_len = "tiny", "cpu", 64
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    if args.row:
        kind, label = args.row
        if args.fail:
            import torch

            raise torch.OutOfMemoryError("injected by --fail-row")
        measure = profile_row if kind == "profile" else kernel_row
        print(json.dumps(measure(label, args.model, args.device, args.dtype, args.seq_len, args.steps)))
        return

    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        print(f"gpu_check: no CUDA device visible to torch {torch.__version__}; --dry-run tests the script on CPU")
        return
    from trainer.training.config import TrainConfig
    from trainer.training.hardware import choose_kernels, detect_hardware

    hardware = detect_hardware(TrainConfig(device=args.device))
    choice = choose_kernels(hardware.device, hardware.capability, hardware.flash_attn_available, dtype=args.dtype)
    card = hardware.name
    peak = peak_flops(card) if hardware.is_cuda else None
    print(f"card: {card}, {hardware.device_memory_bytes / 2**30:.0f} GiB, torch {torch.__version__}")
    print(f"trainer's choice: {choice.describe()}")

    started = time.perf_counter()
    wanted = set(args.rows.split(",")) if args.rows else None
    profiles = [run_row("profile", label, args) for label, *_ in PROFILE_ROWS if not wanted or label in wanted]
    kernels = [run_row("kernel", label, args) for label, *_ in KERNEL_ROWS if not wanted or label in wanted]
    for row in profiles + kernels:
        if row.get("tokens_per_s") and peak:
            row["mfu"] = row["tokens_per_s"] * row["flops_per_token"] / peak

    print(f"\n{args.model}, seq {args.seq_len}, batch 1, {args.dtype}: the trainer, profile by profile")
    print(f"  {'profile':<16} {'status':<14} {'tok/s':>8} {'MFU':>6} {'epoch s':>8} {'peak GiB':>9} {'est GiB':>8}")
    for row in profiles:
        mfu = f"{100 * row['mfu']:.1f}%" if row.get("mfu") else "-"
        print(
            f"  {row['row']:<16} {row['status'][:14]:<14} {row.get('tokens_per_s', 0):>8,.0f} {mfu:>6} "
            f"{row.get('epoch_step_s', 0):>8.2f} {_gib(row.get('peak_device_bytes')):>9} "
            f"{_gib(row.get('estimated_device_bytes')):>8}"
        )
    print("\nkernels, forward + backward:")
    for row in kernels:
        mfu = f"{100 * row['mfu']:.1f}%" if row.get("mfu") else "-"
        print(
            f"  {row['row']:<18} {row['status'][:14]:<14} {row.get('tokens_per_s', 0):>8,.0f} {mfu:>6} "
            f"{_gib(row.get('peak_device_bytes')):>9}"
        )
    elapsed = time.perf_counter() - started
    print(f"\n{elapsed:.0f} s in all")
    print(
        json.dumps(
            {
                "card": card,
                "peak_bf16": peak,
                "choice": choice.describe(),
                "seconds": elapsed,
                "profiles": profiles,
                "kernels": kernels,
            }
        )
    )


if __name__ == "__main__":
    main()
