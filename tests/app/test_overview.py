"""The app's overview in a real headless Chromium against the real local chain: the page shows the
providers, nodes, pools, training progress and rewards that the chain holds, and follows new blocks
without a reload; `hub app` and its alias `hub dashboard` as typed."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from hub.client import make_work_key
from hub.metadata import publish_metadata
from tests.app.page import AppPage
from tests.hub.helpers import INJ, LOCKED_WINDOW_S, hub_executable, run_hub, wait_for_next_block_second
from tests.utils.rpc_log import log_ranges, record_requests
from tests.utils.serving import serving_app


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
    pool of `<prefix>-creator`: the shared scenario, with rewards locked for LOCKED_WINDOW_S (longer
    than any test: tests/hub/helpers.py) so the page shows them locked. Returns the three actors' clients
    and the pool's id (a client stands for its actor: `.address`, `.account`)."""
    from hub.client.scenario import ClientSteps, NodePlan, PoolPlan, ProviderPlan, Scenario, run

    provider = world.client(world.actor(f"{prefix}-provider"))
    node = world.client(world.actor(f"{prefix}-node", fund_wei=INJ))
    creator = world.client(world.actor(f"{prefix}-creator"))
    meta = folder / "pool.json"
    meta.write_text(json.dumps({"run_id": prefix}))
    pool = PoolPlan(1, publish_metadata(meta), budget=budget, reward_per_unit=10**9, challenge_window=LOCKED_WINDOW_S)
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


@pytest.fixture(scope="module")
def young_world(devnet, contracts_built, tmp_path_factory):
    """A deployment of this module's own on the session chain, so its history is only the blocks of
    the tests here and a window of a few dozen blocks splits it into a handful."""
    from tests.session_chain import deploy_world

    return deploy_world(devnet, tmp_path_factory)


def _submit_apart(client, node, pool_id: int, units: list[int], blocks_apart: int) -> None:
    """Submit each of `units` as one work key, more than `blocks_apart` blocks after the one before."""
    from tests.utils.waiting import wait_until

    for i, amount in enumerate(units):
        if i:
            here = client.block_number()
            wait_until(lambda h=here: client.block_number() > h + blocks_apart, 60, f"{blocks_apart} blocks")
        wait_for_next_block_second(node)
        node.pool.submit_work(pool_id, make_work_key(pool_id, "apart", i), amount)


def test_a_history_longer_than_a_window_is_read_in_windows_newest_first_and_never_twice(
    young_world, monkeypatch, tmp_path: Path
):
    """The overview reads the newest blocks first, one bounded window at a time (one eth_getLogs per
    contract per window), says from which block its figures are complete until it reaches the
    deployment's first block, and then shows exact totals; a later block's snapshot, or a second
    page (the same overview), asks the node only for blocks it has not read."""
    from hub.app.data import Overview

    window = 20
    provider, node, _, pool_id = _active_pool(young_world, "windows", tmp_path, stake=7 * INJ, units=3, budget=2 * INJ)
    client = young_world.client()
    _submit_apart(client, node, pool_id, [100, 20, 3], blocks_apart=2 * window)
    start = client.deployment.start_block
    truth = client.rewards.work_submitted(pool_id)  # the events, read by a separate path
    assert sorted(e.units for e in truth) == [3, 20, 100]

    sent = record_requests(client.w3)
    overview = Overview(client, window=window, budget_s=0)  # one older window per poll: deterministic
    head = client.block_number()
    client.block_number = lambda: head  # hold the head still, as between two blocks
    first = overview.snapshot()

    # the first load: the newest window and one older one, and the page is told so
    since = head - 2 * window + 1
    assert first["history"] == {"since": since, "first_block": start, "complete": False}
    shown = next(p for p in first["pools"] if p["pool_id"] == pool_id)["units"]
    assert shown == sum(e.units for e in truth if e.block_number >= since) < 123
    registry, rewards = client.registry.address, client.rewards.address
    assert (
        log_ranges(sent, rewards) == log_ranges(sent, registry) == [(since + window, head), (since, since + window - 1)]
    )

    # each later poll reads one older window until the deployment's first block, then totals are exact
    polls = [first]
    while not polls[-1]["history"]["complete"]:
        polls.append(overview.snapshot())
    windows = -(-(head - start + 1) // window)
    assert len(polls) == windows - 1  # the first poll read two windows, each later one one more
    assert [p["history"]["since"] for p in polls] == [max(start, since - i * window) for i in range(windows - 1)]
    snapshot = polls[-1]
    assert next(p for p in snapshot["pools"] if p["pool_id"] == pool_id)["units"] == 123
    assert provider.address in [p["address"] for p in snapshot["providers"]]  # registered in the oldest blocks
    rewards_row = next(r for r in snapshot["rewards"] if r["provider"] == provider.address)
    assert rewards_row["locked"] == str(123 * 10**9)
    for address in (registry, rewards):
        ranges = log_ranges(sent, address)
        assert ranges == sorted(ranges, reverse=True)  # newest first
        assert all(last - first_ < window for first_, last in ranges)
        blocks = [block for first_, last in ranges for block in range(first_, last + 1)]
        assert sorted(blocks) == list(range(start, head + 1))  # every block once

    # complete, at the same block: nothing rebuilt and no log asked for
    read = len(sent)
    assert overview.snapshot() is snapshot
    mine = overview.account(provider.address)
    assert mine["history"]["complete"] and mine["nodes"][0]["units"] == 123
    assert log_ranges(sent[read:], registry) == log_ranges(sent[read:], rewards) == []

    # a new block: the next snapshot shows the new work, asking only for the blocks after `head`
    del client.block_number
    wait_for_next_block_second(node)
    node.pool.submit_work(pool_id, make_work_key(pool_id, "apart", 9), 50)
    later = overview.snapshot()
    assert next(p for p in later["pools"] if p["pool_id"] == pool_id)["units"] == 173
    newer = log_ranges(sent[read:], registry) + log_ranges(sent[read:], rewards)
    assert newer and all(first_ > head for first_, _ in newer)


def test_the_page_says_from_which_block_it_shows_events_until_it_has_read_them_all(
    young_world, browser, monkeypatch, tmp_path: Path
):
    """On a deployment older than the first window the page says from which block on it shows
    providers, nodes, work and rewards; the older blocks fill in on the next polls, the line goes and
    the totals are the chain's; a reload reads no block again."""
    from hub.app.data import Overview

    provider, node, _, pool_id = _active_pool(young_world, "line", tmp_path, stake=5 * INJ, units=2, budget=INJ)
    client = young_world.client()
    start = client.deployment.start_block
    _submit_apart(client, node, pool_id, [40, 2], blocks_apart=5)
    # six or seven windows: the first poll reads two, so the line shows for four or five polls
    window = max(1, (client.block_number() - start) // 6)
    sent = record_requests(client.w3)
    overview = Overview(client, window=window, budget_s=0)

    with serving_app(client, tmp_path, runs_dir=tmp_path / "runs", overview=overview) as url:
        browser.get(url)
        _wait_for(browser, lambda: browser.find_element("tag name", "body").get_attribute("data-loaded") == "true")
        line = browser.find_element("id", "history").text
        found = re.fullmatch(
            r"showing since block (\d+): providers, nodes, work and rewards of the ([\d,]+) older blocks "
            rf"of this deployment \(from block {start}\) are still being read",
            line,
        )
        assert found, line
        since = int(found[1])
        assert start < since and int(found[2].replace(",", "")) == since - start
        AppPage(browser, url).screenshot("overview-reading-history")

        # the older blocks fill in on the next polls: the line goes, the provider (registered in the
        # oldest blocks) and the whole work show
        _wait_for(browser, lambda: not browser.find_element("id", "history").is_displayed(), timeout=60)
        _wait_for(browser, lambda: provider.address in {row[0] for row in _rows(browser, "providers")})
        pools = {row[0]: row for row in _rows(browser, "pools")}
        assert pools[f"#{pool_id}"][6] == "42"

        # a reload (or a second browser: the same server) asks the node only for newer blocks
        read_up_to = overview.history.last
        read = len(sent)
        browser.refresh()
        _wait_for(browser, lambda: browser.find_element("tag name", "body").get_attribute("data-loaded") == "true")
        assert not browser.find_element("id", "history").is_displayed()
        contracts = (client.registry.address, client.rewards.address)
        assert all(first > read_up_to for address in contracts for first, _ in log_ranges(sent[read:], address))


def test_a_claimed_or_invalidated_work_is_read_once(young_world, tmp_path: Path):
    """A work key leaves `submitted` only for good (claimed or invalidated), so the overview reads a
    settled key's state once and a pending key's on every rebuild (it turns claimable with time)."""
    from hub.app.data import Overview
    from tests.utils.waiting import wait_until

    provider, node, creator, pool_id = _active_pool(
        young_world, "settled", tmp_path, stake=5 * INJ, units=2, budget=INJ
    )
    settled, pending = (make_work_key(pool_id, "settled", i) for i in range(2))
    for key in (settled, pending):
        wait_for_next_block_second(node)
        node.pool.submit_work(pool_id, key, 10)
    creator.pool.invalidate_work(pool_id, node.address, settled)  # the creator manages the pool
    client = young_world.client()
    sent = record_requests(client.w3)
    overview = Overview(client)

    def reads_of(key: str) -> int:
        return sum(
            method == "eth_call" and key[2:] in str(params[0].get("data", "")).lower() for method, params in sent
        )

    first = overview.snapshot()
    row = next(r for r in first["rewards"] if r["provider"] == provider.address and r["pool_id"] == pool_id)
    assert (row["invalidated"], row["locked"]) == (str(10 * 10**9), str(10 * 10**9))
    assert (reads_of(settled), reads_of(pending)) == (1, 1)

    wait_until(lambda: client.block_number() > first["chain"]["block"], 30, "a new block")
    second = overview.snapshot()
    assert second["chain"]["block"] > first["chain"]["block"]
    assert next(r for r in second["rewards"] if r["provider"] == provider.address and r["pool_id"] == pool_id) == row
    assert (reads_of(settled), reads_of(pending)) == (1, 2)
