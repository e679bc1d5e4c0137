"""Throughput of the fuzz suite on this machine, and the wall time of its CI-profile run.

    python bench/fuzz_speed.py                 # each state machine for a fixed budget, then `pytest fuzz/`
    python bench/fuzz_speed.py --no-ci-run     # only the per-machine throughput
    python bench/fuzz_speed.py --examples 20   # a shorter throughput run

Per machine: stateful steps (rule calls, every invariant checked after each) per second and
examples (a fresh deployment + bootstrap + steps + full read-back) per second, generated the way the
CI profile does (derandomized), without shrinking. Then the time of `CI=true pytest fuzz/`, exactly
what CI runs. Each time is given as wall seconds and as the CPU seconds of the process: on a machine
shared with other work the wall time says more about the neighbours, the CPU time about the suite.
Prints a table, then the same numbers as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import boa.test.plugin  # noqa: E402,F401  (the per-example isolation the suite runs under in pytest)
from hypothesis import HealthCheck, Phase, settings  # noqa: E402
from hypothesis.stateful import run_state_machine_as_test  # noqa: E402

import fuzz.profiles  # noqa: E402,F401
from fuzz.machine import SystemMachine  # noqa: E402
from fuzz.machines import MarketMachine, StakeMachine, WorkMachine  # noqa: E402
from fuzz.system import deployers  # noqa: E402

# each machine with the steps per example of its CI budget
MACHINES = {
    name: (m, m.CI_STEPS) for name, m in (("market", MarketMachine), ("stake", StakeMachine), ("work", WorkMachine))
}


def throughput(machine: type, examples: int, steps: int) -> dict:
    SystemMachine.steps_run = SystemMachine.examples_run = 0
    start, cpu_start = time.perf_counter(), time.process_time()
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=examples,
            stateful_step_count=steps,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.reuse, Phase.generate],
            suppress_health_check=list(HealthCheck),
        ),
    )
    seconds = time.perf_counter() - start
    return dict(
        steps=SystemMachine.steps_run,
        examples=SystemMachine.examples_run,
        seconds=round(seconds, 1),
        cpu_s=round(time.process_time() - cpu_start, 1),
        steps_per_s=round(SystemMachine.steps_run / seconds, 1),
        examples_per_s=round(SystemMachine.examples_run / seconds, 2),
    )


def ci_run() -> dict:
    env = dict(os.environ, CI="true")
    start, children = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "fuzz", "-q", "-p", "no:cacheprovider"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
    summary = (run.stdout.strip().splitlines() or ["?"])[-1]
    return dict(seconds=round(seconds, 1), cpu_s=round(cpu, 1), exit_code=run.returncode, summary=summary)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=40, help="examples per machine (default 40)")
    parser.add_argument("--no-ci-run", action="store_true", help="skip timing `CI=true pytest fuzz/`")
    args = parser.parse_args()

    start = time.perf_counter()
    deployers()  # compile once, outside the measurements
    compile_s = time.perf_counter() - start
    report = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
        "compile_s": round(compile_s, 1),
        "machines": {},
    }
    print(f"{'machine':8} {'steps':>6} {'examples':>8} {'seconds':>8} {'cpu s':>6} {'steps/s':>8} {'examples/s':>10}")
    for name, (machine, steps) in MACHINES.items():
        row = throughput(machine, args.examples, steps)
        report["machines"][name] = row
        print(
            f"{name:8} {row['steps']:>6} {row['examples']:>8} {row['seconds']:>8} {row['cpu_s']:>6} "
            f"{row['steps_per_s']:>8} {row['examples_per_s']:>10}",
            flush=True,
        )
    total = report["machines"].values()
    steps, seconds = sum(r["steps"] for r in total), sum(r["seconds"] for r in total)
    report["overall_steps_per_s"] = round(steps / seconds, 1)
    report["overall_examples_per_s"] = round(sum(r["examples"] for r in total) / seconds, 2)
    print(f"overall: {report['overall_steps_per_s']} steps/s, {report['overall_examples_per_s']} examples/s")
    if not args.no_ci_run:
        report["ci_run"] = ci_run()
        ci = report["ci_run"]
        print(f"CI=true pytest fuzz/: {ci['seconds']} s wall, {ci['cpu_s']} s CPU ({ci['summary']})")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
