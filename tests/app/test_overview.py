"""The app's overview in a real headless Chromium against the real local chain: the page shows the
providers, nodes, pools, training progress and rewards that the chain holds, and follows new blocks
without a reload; `hub app` and its alias `hub dashboard` as typed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hub.client import make_work_key
from hub.metadata import publish_metadata
from tests.app.page import AppPage
from tests.hub.helpers import INJ, hub_executable, run_hub, wait_for_next_block_second


def _rows(driver, table: str) -> list[list[str]]:
    # read the table in one script call: the page re-renders every few seconds
    return driver.execute_script(
        "return [...document.querySelectorAll(arguments[0])].map(tr => [...tr.cells].map(td => td.textContent))",
        f"#{table} tbody tr",
    )


def _wait_for(driver, predicate, timeout: float = 20.0):
    return AppPage(driver, "", timeout).wait(predicate, "it")


def _active_pool(world, prefix: str, folder: Path, *, stake: int, units: int, budget: int):
    """`<prefix>-provider` staking `stake` with one `units`-unit node (`<prefix>-node`) in an active
    pool of `<prefix>-creator`: the shared scenario, with rewards locked for 29 s (under the session
    deployment's 30 s unbonding) so the page shows them locked. Returns the three actors' clients
    and the pool's id (a client stands for its actor: `.address`, `.account`)."""
    from hub.client.scenario import ClientSteps, NodePlan, PoolPlan, ProviderPlan, Scenario, run

    provider = world.client(world.actor(f"{prefix}-provider"))
    node = world.client(world.actor(f"{prefix}-node", fund_wei=INJ))
    creator = world.client(world.actor(f"{prefix}-creator"))
    meta = folder / "pool.json"
    meta.write_text(json.dumps({"run_id": prefix}))
    pool = PoolPlan(1, publish_metadata(meta), budget=budget, reward_per_unit=10**9, challenge_window=29)
    scenario = Scenario((ProviderPlan(stake, (NodePlan(units),)),), (pool,))
    (pool_id,) = run(scenario, ClientSteps([provider], [[node]], creator, world.client(world.validator)))
    return provider, node, creator, pool_id


def test_overview_shows_the_chain_and_follows_new_blocks(world, served, browser, tmp_path: Path):
    provider, node, creator, pool_id = _active_pool(
        world, "dashboard", tmp_path, stake=7 * INJ, units=3, budget=2 * INJ
    )
    wait_for_next_block_second(node)
    node.pool.submit_work(pool_id, make_work_key(pool_id, "peer", 1), 2_000)

    browser.get(served)
    _wait_for(browser, lambda: browser.find_element("tag name", "body").get_attribute("data-loaded") == "true")
    providers = {row[0]: row for row in _rows(browser, "providers")}
    assert providers[provider.address][1:] == ["whitelisted", "7.000000", "0.000000", "3", "1"]
    nodes = {row[0]: row for row in _rows(browser, "nodes")}
    assert nodes[node.address] == [node.address, provider.address, "3", "yes", f"#{pool_id}"]
    pools = {row[0]: row for row in _rows(browser, "pools")}
    assert pools[f"#{pool_id}"][1:7] == ["active", "3", "2.000000", "1.999998", "0.000000", "2,000"]
    rewards = {(row[0], row[1]): row for row in _rows(browser, "rewards")}
    assert rewards[(provider.address, f"#{pool_id}")][2] == "0.000002"  # locked in the challenge window
    assert "chain 777" in browser.find_element("id", "chain").text

    # the page polls: a state change on chain shows up without a reload
    creator.pool.end(pool_id)
    _wait_for(browser, lambda: {r[0]: r for r in _rows(browser, "pools")}[f"#{pool_id}"][1] == "completed")


def test_app_command_refuses_a_busy_port(world):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_hub("app", "--port", port, ok=False)
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.output


@pytest.mark.parametrize("command", ["app", "dashboard"])
def test_app_command_as_typed_serves_the_page_and_stops_on_ctrl_c(world, command):
    """`hub app --port 0` (and its alias `hub dashboard`) in a subprocess: it prints its address, the
    page, its script and the snapshot answer, and SIGINT (Ctrl-C) stops it with exit status 0."""
    import os
    import signal
    import subprocess
    import urllib.request

    process = subprocess.Popen(
        [hub_executable(), command, "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )
    try:
        # the first line is printed once the server is bound: reading it is the wait
        first = process.stdout.readline()
        assert "app for chain 777 at http://127.0.0.1:" in first, (first, process.stderr.read())
        url = first.split(" at ", 1)[1].split()[0]
        with urllib.request.urlopen(url, timeout=30) as page:
            assert page.status == 200
            assert "<html" in page.read().decode().lower()
        with urllib.request.urlopen(url + "static/app.js", timeout=30) as script:
            assert b"eth_sendTransaction" in script.read()
        with urllib.request.urlopen(url + "api/snapshot", timeout=60) as api:
            snapshot = json.loads(api.read())
        assert snapshot["chain"]["chain_id"] == 777
        assert snapshot["chain"]["hub"] == world.client().hub.address
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
        assert "Traceback" not in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_overview_shows_the_connected_account_and_fits_a_phone(world, served, browser, make_wallet, tmp_path: Path):
    provider, node, _, pool_id = _active_pool(world, "overview", tmp_path, stake=5 * INJ, units=2, budget=INJ)
    wait_for_next_block_second(node)
    node.pool.submit_work(pool_id, make_work_key(pool_id, "peer", 1), 3_000)

    make_wallet(browser, provider.account)
    page = AppPage(browser, served).open()
    page.connect(provider.address)

    def mine() -> dict[str, str]:
        return browser.execute_script(
            "return Object.fromEntries([...document.querySelectorAll('#mine-summary dd')]"
            ".map(dd => [dd.dataset.key, dd.textContent]))"
        )

    summary = page.wait(lambda: (m := mine()).get("account") == provider.address and m, "the account summary")
    assert summary["stake"] == "5.000000 INJ"
    assert summary["provider"] == "whitelisted"
    assert summary["nodes"] == "1"
    assert summary["work units"] == "3,000"
    assert summary["rewards locked"] == "0.000003 INJ"
    page.screenshot("overview")

    # a phone-sized window: nothing is wider than the screen (wide tables scroll inside their box)
    browser.set_window_size(390, 844)
    page.wait(lambda: browser.execute_script("return window.innerWidth") <= 390, "the narrow window")
    assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
    page.tab("provider")
    assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
    page.screenshot("provider-phone", width=390)


def test_the_overview_is_built_once_per_block_and_scans_only_new_blocks(world, monkeypatch, tmp_path: Path):
    from hub.app.data import Overview
    from hub.client.rewards import RewardsContract
    from tests.hub.helpers import node_and_pool

    scans: list[tuple[str, int | None, int | None]] = []
    scan = RewardsContract._logs

    def counted(self, event, filters=None, from_block=None, to_block=None):
        scans.append((event, from_block, to_block))
        return scan(self, event, filters, from_block, to_block)

    monkeypatch.setattr(RewardsContract, "_logs", counted)
    setup = node_and_pool(world, "cache", {"run_id": "cache"}, tmp_path)
    setup.approve()
    setup.join_and_start()
    wait_for_next_block_second(setup.as_node)
    setup.as_node.pool.submit_work(setup.pool_id, make_work_key(setup.pool_id, "peer", 1), 100)

    client = world.client()
    overview = Overview(client)
    # hold the chain's head still, as between two blocks (the devnet makes several a second)
    head = client.block_number()
    client.block_number = lambda: head
    first = overview.snapshot()
    assert scans and all(last == head for _, _, last in scans)
    assert next(p for p in first["pools"] if p["pool_id"] == setup.pool_id)["units"] == 100
    scanned = len(scans)
    assert overview.snapshot() is first  # a poll at the same block: nothing rebuilt
    assert len(scans) == scanned  # and nothing rescanned

    # a new transaction: the next block's snapshot shows it, scanning only the blocks after `head`
    del client.block_number
    wait_for_next_block_second(setup.as_node)
    setup.as_node.pool.submit_work(setup.pool_id, make_work_key(setup.pool_id, "peer", 2), 50)
    later = overview.snapshot()
    assert later["chain"]["block"] > head
    assert next(p for p in later["pools"] if p["pool_id"] == setup.pool_id)["units"] == 150
    assert scans[scanned:] and all(first_block == head + 1 for _, first_block, _ in scans[scanned:])
