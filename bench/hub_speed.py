"""How fast the `hub` client is where a user waits: start-up, local chain start, (later) deploy.

Prints one line per measurement. Measured now:
- `hub --help` start-up (median of several runs; goal < 0.3 s);
- devnet cold start: genesis template built from nothing, copied, node started, block 1 served;
- devnet warm start: template cached, fresh chain home, node started, block 1 served;
- devnet restart: existing chain, node started, block 1 served; and stop (SIGTERM to exit).
To be measured once `hub deploy` and the provider commands exist (functions below say "not yet
measured" until then): deploy time of the six contracts, and the latency of a provider flow.

Run: python bench/hub_speed.py [--runs N] [--record]   (--record rewrites '## hub' in RESULTS.md)
"""

from __future__ import annotations

import argparse
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hub.devnet import Devnet, DevnetConfig, DevnetPorts  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
SECTION = "## hub"
# @dev Far from the defaults and from the test suite's range (300..5000), so a user devnet is safe.
BENCH_PORT_OFFSET = 7000


def measure_help_startup(runs: int) -> float:
    """Median wall time of `hub --help` in a fresh process."""
    hub = shutil.which("hub") or str(Path(sys.executable).parent / "hub")
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([hub, "--help"], capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure_devnet(workdir: Path) -> dict[str, float]:
    """Cold start (no template), warm start (template cached), restart, and stop, in seconds."""
    config = DevnetConfig(
        home=workdir / "cold",
        ports=DevnetPorts.shifted(BENCH_PORT_OFFSET),
        template_dir=workdir / "templates",
    )
    timings: dict[str, float] = {}
    cold = Devnet(config)
    start = time.perf_counter()
    cold.start()
    timings["cold start (template build + start + block 1)"] = time.perf_counter() - start
    cold.stop()

    warm = Devnet(config.model_copy(update={"home": workdir / "warm"}))
    start = time.perf_counter()
    warm.start()
    timings["warm start (cached template + start + block 1)"] = time.perf_counter() - start
    start = time.perf_counter()
    warm.stop()
    timings["stop (SIGTERM to exit)"] = time.perf_counter() - start
    start = time.perf_counter()
    warm.start()
    timings["restart of an existing chain (start + block 1)"] = time.perf_counter() - start
    warm.stop()
    return timings


def measure_deploy_time() -> float | None:
    """TODO(deploy): seconds for `hub deploy` of the six contracts on a fresh devnet."""
    return None


def measure_provider_flow_latency() -> float | None:
    """TODO(deploy): seconds for register provider + add node + validate node on the devnet."""
    return None


def _fmt(seconds: float | None) -> str:
    return "not yet measured" if seconds is None else f"{seconds:.2f} s"


def _record(lines: list[str]) -> None:
    """Replace the '## hub' section of RESULTS.md (up to the next '## '), or append it."""
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    existing = text.splitlines()
    block = [SECTION, "", *lines, ""]
    if SECTION in existing:
        start = existing.index(SECTION)
        end = next((i for i in range(start + 1, len(existing)) if existing[i].startswith("## ")), len(existing))
        existing[start:end] = block
    else:
        existing += ["", *block] if existing and existing[-1] else block
    RESULTS.write_text("\n".join(existing).rstrip("\n") + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs of `hub --help` (median)")
    parser.add_argument("--record", action="store_true", help="write the numbers to bench/RESULTS.md")
    args = parser.parse_args()

    help_s = measure_help_startup(args.runs)
    with tempfile.TemporaryDirectory(prefix="hub-speed-") as tmp:
        devnet = measure_devnet(Path(tmp))
    rows = [
        (f"`hub --help` start-up (median of {args.runs}; goal < 0.3 s)", _fmt(help_s)),
        *((f"devnet {name}", _fmt(value)) for name, value in devnet.items()),
        ("deploy of the six contracts", _fmt(measure_deploy_time())),
        ("provider flow latency (register, add node, validate)", _fmt(measure_provider_flow_latency())),
    ]
    for name, value in rows:
        print(f"{name}: {value}")
    if args.record:
        machine = f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}"
        lines = [
            f"`python bench/hub_speed.py --record` on {machine}, injective-core 1.20.1.",
            "",
            "| measurement | time |",
            "|---|---|",
            *(f"| {name} | {value} |" for name, value in rows),
        ]
        _record(lines)


if __name__ == "__main__":
    main()
