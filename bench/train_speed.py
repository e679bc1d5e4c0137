"""Training throughput of the tiny LLaMA on this machine: alone, and in a two-peer swarm per mode.

    python bench/train_speed.py                # everything below (about five minutes on 2 idle cores)
    python bench/train_speed.py --epochs 6     # shorter swarm runs
    python bench/train_speed.py --no-swarm     # only the single-process numbers

1. The tiny model alone: forward + backward + AdamW step, tokens/s, one torch thread (each
   swarm peer below also gets one thread, so the numbers compare).
2. Two real `trainer train` processes on loopback for each averaging mode, with and without
   ``--delay-updates`` (overlapped communication), ``--epochs`` epochs each, the same target
   batch and matchmaking time. Gradient mode runs with ``--profile full --offload-optimizer``
   both ways (delayed updates need the offloaded optimizer). Per peer, from its own per-epoch
   records (the first and last epochs excluded: joining, and a last round that may wait for a
   peer that has already stopped): tokens/s, and compute utilization = time in
   forward/backward/local optimizer steps / wall time. DiLoCo also runs with larger targets
   (``--diloco-scales``, 4x and 16x by default: fewer, bigger rounds, as DiLoCo is meant to run),
   each for about the same total samples as the 4x run (at least 4 epochs).
   The loss after the last epoch is printed too: DiLoCo does many local steps per round.
3. Scaling efficiency of each swarm run: swarm tokens/s / (peers x the tiny model's tokens/s
   alone, measured in step 1 of the same run with the same shape and one thread). Utilization
   (compute time / wall time) can look high while CPU contention slows every step; scaling
   efficiency cannot, which is why both are printed, with the load average before and after.

If a CUDA GPU is present, bench/gpu_check.py runs afterwards (the trainer's profiles and the
attention kernels on a 7B-shaped LLaMA). Prints a table, then the same numbers as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SEQ_LEN = 64
BATCH = 4


def tiny_alone(steps: int, seq_len: int, batch: int, tokenizer_dir: Path) -> dict[str, float]:
    import torch

    from trainer.training.config import TrainConfig
    from trainer.training.model import load_model
    from trainer.training.plan import plan_run
    from trainer.training.swarm import make_adamw

    torch.set_num_threads(1)
    config = TrainConfig(model="tiny", tokenizer=str(tokenizer_dir), seq_len=seq_len, batch_size=batch, device="cpu")
    plan = plan_run(config, need_data=False)
    model, trainable = load_model(plan.spec, plan.kernel, plan.profile, "cpu")
    optimizer = make_adamw(config, trainable)
    ids = torch.randint(0, plan.spec.shape.vocab_size, (batch, seq_len))
    for _ in range(5):
        model(input_ids=ids, labels=ids).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    began = time.perf_counter()
    for _ in range(steps):
        model(input_ids=ids, labels=ids).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    seconds = time.perf_counter() - began
    return {
        "seq_len": seq_len,
        "batch": batch,
        "tokens_per_s": steps * batch * seq_len / seconds,
        "params_m": plan.spec.shape.n_params / 1e6,
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def swarm_run(
    workdir: Path, mode: str, target: int, epochs: int, delay: bool, corpus: Path, tokenizer_dir: Path
) -> dict:
    """Two peers, started together (the first one's address is fixed in advance)."""
    from hivemind.p2p import P2P, PeerID

    from trainer.training.reporting import read_metrics

    workdir.mkdir(parents=True)
    identity = workdir / "a" / "identity.key"
    identity.parent.mkdir()
    P2P.generate_identity(str(identity))
    port = free_port()
    bootstrap = f"/ip4/127.0.0.1/tcp/{port}/p2p/{PeerID.from_identity(identity.read_bytes()).to_base58()}"
    env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")
    procs = []
    for name in ("a", "b"):
        args = [
            sys.executable,
            "-m",
            "trainer.cli",
            "train",
            "--run-id",
            f"bench-{mode}-{target}-{'delay' if delay else 'sync'}",
            "--model",
            "tiny",
            "--tokenizer",
            str(tokenizer_dir),
            "--data",
            str(corpus),
            "--data-shards",
            "4",
            "--seq-len",
            str(SEQ_LEN),
            "--batch-size",
            str(BATCH),
            "--target-batch-size",
            str(target),
            "--averaging",
            mode,
            "--compression",
            "fp16",
            "--lr",
            "3e-3",
            "--warmup-steps",
            "2",
            "--total-steps",
            "1000",
            "--matchmaking-time",
            "1.5",
            "--averaging-timeout",
            "10",
            "--checkpoint-dir",
            str(workdir / name),
            "--checkpoint-every",
            "0",
            "--max-epochs",
            str(epochs),
            "--num-threads",
            "1",
            "--no-progress-bar",
            "--metrics-file",
            str(workdir / f"{name}.jsonl"),
            "--log-every",
            "30",
        ]
        args += ["--profile", "full", "--offload-optimizer"] if mode == "gradient" else []
        args += ["--delay-updates"] if delay else []
        args += ["--host-maddrs", f"/ip4/127.0.0.1/tcp/{port}"] if name == "a" else ["--initial-peers", bootstrap]
        args += [] if name == "a" else ["--host-maddrs", "/ip4/127.0.0.1/tcp/0"]
        log = (workdir / f"{name}.log").open("w")
        procs.append(subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=workdir))
    for proc in procs:
        if proc.wait(timeout=900) != 0:
            raise SystemExit(f"a {mode} peer failed; see {workdir}")
    peers = []
    for name in ("a", "b"):
        events = read_metrics(workdir / f"{name}.jsonl")
        epoch_events = [e for e in events if e["event"] == "epoch"]
        # the first epoch includes joining the swarm, and the last may wait for a peer that has
        # already stopped: measure the steady state between them
        steady = epoch_events[1:-1] if len(epoch_events) >= 3 else epoch_events
        wall = sum(e["wall_time"] for e in steady)
        compute = sum(e["compute_time"] for e in steady)
        tokens = sum(e["tokens"] for e in steady)
        peers.append(
            {
                "epochs": len(epoch_events),
                "tokens_per_s": tokens / wall if wall else 0.0,
                "utilization": compute / wall if wall else 0.0,
                "averaged_with_2": sum(e["group_size"] >= 2 for e in epoch_events),
                "last_loss": epoch_events[-1]["mean_loss"] if epoch_events else float("nan"),
            }
        )
    return {
        "mode": mode,
        "delay_updates": delay,
        "target_batch_size": target,
        "epochs": epochs,
        "swarm_tokens_per_s": sum(p["tokens_per_s"] for p in peers),
        "utilization": sum(p["utilization"] for p in peers) / len(peers),
        "epochs_averaged_by_both": min(p["averaged_with_2"] for p in peers),
        "last_loss": sum(p["last_loss"] for p in peers) / len(peers),
        "peers": peers,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=10, help="collaborative epochs per swarm run")
    parser.add_argument("--target", type=int, default=256, help="samples per collaborative epoch")
    parser.add_argument("--steps", type=int, default=200, help="steps of the single-process measurement")
    parser.add_argument(
        "--diloco-scales",
        type=int,
        nargs="*",
        default=[4, 16],
        help="extra DiLoCo runs at these multiples of --target",
    )
    parser.add_argument("--no-swarm", action="store_true")
    args = parser.parse_args()

    from trainer.training.corpus import generate_corpus
    from trainer.training.tokenizer import build_tokenizer

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="train-speed-") as tmp:
        workdir = Path(tmp)
        corpus = generate_corpus(workdir / "corpus.txt", num_lines=3000, seed=1)
        tokenizer_dir = workdir / "tokenizer"
        build_tokenizer(corpus.read_text().splitlines(), 1024, tokenizer_dir)

        alone = [
            tiny_alone(args.steps, SEQ_LEN, BATCH, tokenizer_dir),
            tiny_alone(args.steps // 4, 256, 8, tokenizer_dir),
        ]
        swarms = []
        if not args.no_swarm:
            runs = [("gradient", args.target, args.epochs), ("diloco", args.target, args.epochs)]
            runs += [("diloco", k * args.target, max(4, -(-args.epochs * 4 // k))) for k in args.diloco_scales]
            for mode, target, epochs in runs:
                for delay in (False, True):
                    run_dir = workdir / f"{mode}-{target}-{int(delay)}"
                    swarms.append(swarm_run(run_dir, mode, target, epochs, delay, corpus, tokenizer_dir))

    cpu = platform.processor() or platform.machine()
    print(f"machine: {os.cpu_count()} cores ({cpu}), torch threads per process: 1")
    print(
        f"1-minute load average before: {load_before:.2f}, after: {os.getloadavg()[0]:.2f} (other work skews results)"
    )
    solo = alone[0]["tokens_per_s"]
    for run in swarms:
        run["scaling_efficiency"] = run["swarm_tokens_per_s"] / (2 * solo) if solo else 0.0
    print(f"\ntiny LLaMA ({alone[0]['params_m']:.2f}M parameters) alone, forward+backward+AdamW:")
    for row in alone:
        print(f"  seq {row['seq_len']:>4} x batch {row['batch']:>2}: {row['tokens_per_s']:>9,.0f} tokens/s")
    if swarms:
        print(f"\ntwo-peer swarm on loopback, seq {SEQ_LEN} x batch {BATCH}, fp16 averaging:")
        print(
            f"  {'mode':<9} {'overlap':>7} {'target':>6} {'swarm tok/s':>12} {'per peer':>9} {'utilization':>12} "
            f"{'scaling':>8} {'both averaged':>14} {'last loss':>10}"
        )
        for run in swarms:
            overlap = "delayed" if run["delay_updates"] else "-"
            print(
                f"  {run['mode']:<9} {overlap:>7} {run['target_batch_size']:>6} {run['swarm_tokens_per_s']:>12,.0f} "
                f"{run['swarm_tokens_per_s'] / 2:>9,.0f} {100 * run['utilization']:>11.0f}% "
                f"{100 * run['scaling_efficiency']:>7.0f}% "
                f"{run['epochs_averaged_by_both']:>8}/{run['epochs']:<5} {run['last_loss']:>10.3f}"
            )
    print(json.dumps({"alone": alone, "swarm": swarms, "load_before": load_before, "load_after": os.getloadavg()[0]}))

    import torch

    if torch.cuda.is_available():
        subprocess.run([sys.executable, str(ROOT / "bench" / "gpu_check.py")], check=False)


if __name__ == "__main__":
    main()
