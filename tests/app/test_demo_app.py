"""From the demo to the app, as a user types it: `hub demo --attacker liar --keep-chain` runs the main
job with a second provider's lying node and leaves its local chain running; what it printed and
left on chain is checked (tests/demo/test_attacker.check_attacker_demo: the liar caught and
slashed, the honest nodes paid, never penalized); then `hub app` is pointed at that chain and the
demo's deployment and workdir (`--runs-dir`), and the page shows the demo's pool, nodes, work and
rewards as the chain holds them, and its trainers' loss curves and the aux peer's decisions as their
folders hold them. One demo run serves both checks: each costs minutes of a 30-minute CI on 2
cores. The kept chain is stopped at the end with `hub devnet stop --home`, whatever happens.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
from pathlib import Path

from tests.app.page import AppPage
from tests.demo.test_attacker import LIAR_EPOCHS, check_attacker_demo
from tests.hub.helpers import hub_executable

# @dev The demo's whole run, one epoch, on a loaded 2-core machine.
DEMO_TIMEOUT_S = 1200


def _demo_client(rpc_url: str, deployments: Path):
    from hub.client import HubClient
    from hub.devkeys import LOCAL_CHAIN_ID
    from hub.manifest import load_deployment
    from hub.networks import Network, connect

    w3 = connect(Network(name="local", rpc_url=rpc_url, chain_id=LOCAL_CHAIN_ID))
    return HubClient(w3, load_deployment(LOCAL_CHAIN_ID, deployments), chain_id=LOCAL_CHAIN_ID)


def _loss_curves(workdir: Path, pool_id: int, nodes: dict[str, str]) -> dict[str, list[float]]:
    """Each node's mean loss per epoch, from its trainer's metrics (`pool-<id>-<address prefix>`)."""
    curves = {}
    for node in nodes:
        who = node[:10].lower()
        path = workdir / f"pool-{pool_id}-{who}" / "metrics.jsonl"
        lines = path.read_text().splitlines() if path.is_file() else []
        losses = [e["mean_loss"] for e in map(json.loads, lines) if e.get("event") == "epoch"]
        if losses:
            curves[who] = losses
    return curves


def _audit(workdir: Path, pool_id: int) -> list[tuple[str, str]]:
    """The aux peer's decisions (node, verdict), from its log (`pool-<id>-aux/audit.jsonl`)."""
    path = workdir / f"pool-{pool_id}-aux" / "audit.jsonl"
    assert path.is_file(), f"the demo left no audit log at {path}"
    return sorted((d["node"], d["verdict"]) for d in map(json.loads, path.read_text().splitlines()))


def _shown_loss(page: AppPage, pool_id: int) -> dict | None:
    """The peers of the pool row's loss chart and the latest mean loss it prints, once drawn."""
    return page.driver.execute_script(
        """const rows = [...document.querySelectorAll('#pools tbody tr')];
        const row = rows.find(r => r.cells[0].textContent === arguments[0]);
        const lines = row ? [...row.cells[8].querySelectorAll('polyline')] : [];
        return lines.length ? {peers: lines.map(l => l.dataset.peer), last: row.querySelector('.last-loss').textContent}
          : null;""",
        f"#{pool_id}",
    )


def test_hub_app_shows_what_hub_demo_left_on_its_chain(browser, tmp_path: Path):
    hub = hub_executable()
    workdir = tmp_path / "demo"
    env = {**os.environ, "COLUMNS": "400"}  # rich wraps at 80 columns without a terminal; audit lines are long
    app = None
    try:
        demo = subprocess.run(
            [
                hub,
                "demo",
                "--attacker",
                "liar",
                "--keep-chain",
                "--epochs",
                str(LIAR_EPOCHS),
                "--workdir",
                str(workdir),
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=DEMO_TIMEOUT_S,
        )
        check_attacker_demo(workdir, demo, "liar")
        # the one place the demo names its chain: the line that says it is up
        found = re.search(r"local Injective chain 777 up at (http://\S+)", demo.stdout)
        assert found, demo.stdout[:2000]
        rpc_url = found.group(1)

        app = subprocess.Popen(
            [
                hub,
                "app",
                "--network",
                rpc_url,
                "--deployments-dir",
                str(workdir / "deployments"),
                "--runs-dir",
                str(workdir),
                "--port",
                "0",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        first = app.stdout.readline()  # printed once the server is bound
        assert " at http://127.0.0.1:" in first, (first, app.stderr.read() if app.poll() is not None else "")
        url = first.split(" at ", 1)[1].split()[0]

        # what the chain holds after the demo, read with the demo's deployment
        client = _demo_client(rpc_url, workdir / "deployments")
        pools = client.pool.list()
        assert pools, "the demo left no pool"
        pool = pools[-1]
        providers = [p for p in client.registry.providers() if p.node_count]
        nodes = {n.address: p.address for p in providers for n in client.registry.nodes_of(p.address)}
        units = sum(w.units for w in client.rewards.work_submitted(pool.pool_id))
        assert len(nodes) >= 2 and units > 0

        page = AppPage(browser, url).open()
        shown_pools = {r[0]: r for r in page.rows("pools")}
        assert shown_pools[f"#{pool.pool_id}"][1] == pool.status.value
        assert shown_pools[f"#{pool.pool_id}"][6] == f"{units:,}"
        shown_nodes = {r[0]: r[1] for r in page.rows("nodes")}
        assert shown_nodes == nodes
        rewards = {(r[0], r[1]): r for r in page.rows("rewards")}
        paying = 0
        for provider in set(nodes.values()):
            paid = sum(
                w.reward
                for w in client.rewards.rewards_of(provider)
                if w.pool_id == pool.pool_id and w.state.value == "claimed"
            )
            if paid:  # the liar's provider was paid nothing
                paying += 1
                # the page shows INJ with 6 decimals
                assert rewards[(provider, f"#{pool.pool_id}")][4] == f"{paid // 10**18:,}.{paid % 10**18:018d}"[:-12]
        assert paying == 1, "the honest provider claimed nothing"

        # the trainers' loss curves and the aux peer's decisions, from the folders the demo left in
        # the layout `trainer join` / `trainer aux` write (what `--runs-dir` reads)
        curves = _loss_curves(workdir, pool.pool_id, nodes)
        assert len(curves) >= 2, f"fewer than two trainers' loss curves under {workdir}: {sorted(curves)}"
        shown = page.wait(lambda: _shown_loss(page, pool.pool_id), "the demo pool's loss curves")
        assert set(shown["peers"]) == set(curves)
        expected = sum(curve[-1] for curve in curves.values()) / len(curves)
        assert abs(float(shown["last"]) - expected) < 1e-3, (shown["last"], expected)
        decisions = _audit(workdir, pool.pool_id)
        assert "hard" in {verdict for _, verdict in decisions}, "the liar's claim was not judged hard"
        page.tab("validator")
        page.wait(
            lambda: sorted((r[1], r[2]) for r in page.rows("aux-audit") if r[0] == f"#{pool.pool_id}") == decisions,
            f"the aux peer's {len(decisions)} decisions",
        )
        page.screenshot("demo-validator")
        page.tab("overview")
        page.screenshot("demo-overview")

        app.send_signal(signal.SIGINT)
        assert app.wait(timeout=30) == 0
    finally:
        if app is not None and app.poll() is None:
            app.kill()
            app.wait()
        if (workdir / "chain").exists():
            subprocess.run([hub, "devnet", "stop", "--home", str(workdir / "chain")], capture_output=True, timeout=120)
