"""How fast the `hub` client is where a user waits: start-up, local chain start, deploy, transactions.

Prints one line per measurement:
- `hub --help` start-up (median of several runs; goal < 0.3 s);
- devnet cold start: genesis template built from nothing, copied, node started, block 1 served;
- devnet warm start: template cached, fresh chain home, node started, block 1 served;
- devnet restart: existing chain, node started, block 1 served; and stop (SIGTERM to exit);
- deploy of the six contracts + the WorkRateValidator, wiring, stake minimum and default domain
  (10 transactions) on a fresh local chain: as a library call, and as `hub deploy` end to end;
- the latency of each transaction of a provider's flow (the shared set-up of hub/client/scenario.py:
  register, add node, validate, whitelist, create pool, join, start; then submit work, claim, stake
  add / reclaim / withdraw), each as one client call: checks, eth_estimateGas, signing, sending,
  receipt.

Run: python bench/hub_speed.py [--runs N] [--record]   (--record rewrites '## hub' in RESULTS.md)
"""

from __future__ import annotations

import argparse
import os
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


def measure_chain(workdir: Path) -> tuple[dict[str, float], dict[str, float]]:
    """On a fresh devnet: deploy times, then the latency of each transaction of a provider's flow.

    Returns ({deploy measurement: seconds}, {provider step: seconds}). Each step is one client call
    as `hub` makes it: checks, eth_estimateGas, signing, sending, waiting for the receipt.
    """
    from eth_account import Account

    from hub.accounts import new_account
    from hub.build import build
    from hub.client import HubClient
    from hub.client.scenario import ClientSteps, NodePlan, PoolPlan, ProviderPlan, Scenario, run
    from hub.contracts import INJ, SystemParams
    from hub.deployer import deploy
    from hub.devkeys import LOCAL_CHAIN_ID, dev_account
    from hub.metadata import publish_metadata
    from hub.networks import Network, connect

    build()  # compiling is `hub build`'s cost, not the deployment's
    chain = Devnet(DevnetConfig(home=workdir / "chain", ports=DevnetPorts.shifted(BENCH_PORT_OFFSET)))
    chain.start()
    try:
        w3 = connect(Network(name="local", rpc_url=chain.rpc_url, chain_id=LOCAL_CHAIN_ID))
        params = SystemParams(unbonding_period=2, min_stake_per_compute_unit=INJ)
        deploys: dict[str, float] = {}
        start = time.perf_counter()
        result = deploy(w3, dev_account(0), network="local", params=params, directory=workdir / "lib")
        deploys["deploy, library call (10 transactions)"] = time.perf_counter() - start

        # the command a user runs: a fresh process, imports, keystore unlock (scrypt), deployment
        keystores = workdir / "keystores"
        entry = new_account("deployer", "bench", directory=keystores)
        HubClient(w3, result.deployment, dev_account(1), chain_id=LOCAL_CHAIN_ID).transfer(entry.address, 10 * INJ)
        env = {
            **os.environ,
            "HUB_KEYSTORE_DIR": str(keystores),
            "HUB_PASSWORD": "bench",
            "HUB_RPC_URL": chain.rpc_url,
            "HUB_DEPLOYMENTS_DIR": str(workdir / "cli"),
        }
        hub = shutil.which("hub") or str(Path(sys.executable).parent / "hub")
        start = time.perf_counter()
        subprocess.run(
            [hub, "deploy", "--account", "deployer", "--unbonding-period", "2s"],
            env=env,
            capture_output=True,
            check=True,
        )
        deploys["`hub deploy`, end to end (new process, keystore unlock, 10 transactions)"] = (
            time.perf_counter() - start
        )

        provider, node, creator = Account.create(), Account.create(), Account.create()
        funder = HubClient(w3, result.deployment, dev_account(2), chain_id=LOCAL_CHAIN_ID)
        for account in (provider, node, creator):
            funder.transfer(account.address, 100 * INJ)
        as_provider, as_node, as_creator, admin = (
            HubClient(w3, result.deployment, a, chain_id=LOCAL_CHAIN_ID)
            for a in (provider, node, creator, dev_account(0))
        )
        meta = workdir / "pool.json"
        meta.write_text('{"run_id": "bench"}')
        # the shared set-up: its client backend times each transaction (the pool's are the creator's)
        pool = PoolPlan(1, publish_metadata(meta), budget=INJ, reward_per_unit=10**6, challenge_window=1)
        scenario = Scenario((ProviderPlan(10 * INJ, (NodePlan(2, ""),)),), (pool,))
        setup = ClientSteps([as_provider], [[as_node]], as_creator, admin)
        (pool_id,) = run(scenario, setup)
        role = {provider.address: "provider", node.address: "node key", creator.address: "creator"}
        steps = {f"{sent.result.action} ({role.get(sent.sender, 'validator')})": sent.seconds for sent in setup.sent}

        def timed(name: str, call):
            start = time.perf_counter()
            value = call()
            steps[name] = time.perf_counter() - start
            return value

        time.sleep(1.1)
        timed("submit work (node key)", lambda: as_node.pool.submit_work(pool_id, "0x" + "01" * 32, 100))
        time.sleep(2.1)
        timed("claim rewards", lambda: as_provider.rewards.claim(pool_id))
        timed("add stake", lambda: as_provider.hub.increase_stake(INJ))
        timed("reclaim stake", lambda: as_provider.hub.reclaim_stake(INJ))
        time.sleep(2.1)
        timed("withdraw stake", lambda: as_provider.stake.withdraw())
        return deploys, steps
    finally:
        chain.stop()


def _fmt(seconds: float) -> str:
    return f"{seconds:.2f} s"


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
        deploys, steps = measure_chain(Path(tmp))
    median_step = statistics.median(steps.values())
    rows = [
        (f"`hub --help` start-up (median of {args.runs}; goal < 0.3 s)", _fmt(help_s)),
        *((f"devnet {name}", _fmt(value)) for name, value in devnet.items()),
        *((name, _fmt(value)) for name, value in deploys.items()),
        *((f"provider flow: {name}", _fmt(value)) for name, value in steps.items()),
        (f"provider flow: median transaction latency ({len(steps)} transactions)", _fmt(median_step)),
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
