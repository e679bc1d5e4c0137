"""The actions that were CLI-only, now in the browser with the actor's own wallet, against the real
local chain: a provider rebonds unbonding stake, a pool's creator hands it to another manager, and a
validator hard-invalidates fraudulent work with a slash, then slashes the provider again (and is
refused, before the wallet is asked, for a provider with nothing to slash)."""

from __future__ import annotations

from pathlib import Path

from hub.client import WorkState, make_work_key
from hub.metadata import publish_metadata
from tests.app.page import AppPage
from tests.hub.helpers import INJ, LOCKED_WINDOW_S, node_and_pool, wait_for_next_block_second


def test_provider_rebonds_unbonding_stake(world, served, browser, make_wallet):
    provider = world.actor("app-rebond")
    as_provider = world.client(provider)
    as_provider.hub.register_provider(5 * INJ)
    as_provider.hub.reclaim_stake(2 * INJ)

    make_wallet(browser, provider.account)
    page = AppPage(browser, served).open()
    page.connect(provider.address)
    page.tab("provider")
    state, message = page.submit("stake_rebond", amount="1.5")
    assert state == "confirmed", message
    assert as_provider.stake.stake_of(provider.address) == 4_500_000_000_000_000_000
    assert as_provider.stake.unbonding_of(provider.address) == INJ // 2
    # more than is unbonding: the CLI's sentence, and nothing sent
    state, message = page.submit("stake_rebond", amount="1")
    assert state == "refused" and "only 0.5 INJ is unbonding" in message, message


def test_creator_hands_the_pool_to_another_manager(world, served, browser, make_wallet, tmp_path: Path):
    setup = node_and_pool(world, "app-manager", {"run_id": "app-manager"}, tmp_path)
    successor = world.actor("app-successor", fund_wei=0)

    make_wallet(browser, setup.creator.account)
    page = AppPage(browser, served).open()
    page.connect(setup.creator.address)
    page.tab("operator")
    state, message = page.submit("pool_set_manager", pool_id=str(setup.pool_id), manager=successor.address)
    assert state == "confirmed", message
    assert setup.as_creator.pool.get(setup.pool_id).manager == successor.address


def test_validator_hard_invalidates_fraud_and_slashes(world, served, browser, make_wallet, tmp_path: Path):
    from hub.client.scenario import ClientSteps, NodePlan, PoolPlan, ProviderPlan, Scenario, run

    provider, node = world.actor("app-fraud-provider"), world.actor("app-fraud-node", fund_wei=INJ)
    as_provider, as_node = world.client(provider), world.client(node)
    as_creator = world.client(world.actor("app-fraud-creator"))
    clean = world.actor("app-clean")
    meta = tmp_path / "pool.json"
    meta.write_text('{"run_id": "app-fraud"}')
    # the work stays locked however long the page takes to open (tests/hub/helpers.py)
    pool = PoolPlan(1, publish_metadata(meta), budget=INJ, reward_per_unit=10**9, challenge_window=LOCKED_WINDOW_S)
    scenario = Scenario((ProviderPlan(6 * INJ, (NodePlan(2),)),), (pool,))
    (pool_id,) = run(scenario, ClientSteps([as_provider], [[as_node]], as_creator, world.client(world.validator)))
    wallet = make_wallet(browser, world.validator.account)
    page = AppPage(browser, served).open()
    page.connect(world.validator.address)
    page.tab("validator")
    # the work is submitted once the validator's page is ready: it acts inside the window
    wait_for_next_block_second(as_node)
    key = make_work_key(pool_id, "peer", 1)
    as_node.pool.submit_work(pool_id, key, 1_000)
    stake = as_provider.stake.stake_of(provider.address)
    state, message = page.submit(
        "work_hard_invalidate", pool_id=str(pool_id), node=node.address, work_key=key, slash="1", reason="fraud"
    )
    assert state == "confirmed", message
    assert as_provider.rewards.work(pool_id, node.address, key).state == WorkState.INVALIDATED
    assert as_provider.pool.active_pool_of(node.address) == 0  # ejected
    assert as_provider.stake.stake_of(provider.address) == stake - INJ

    state, message = page.submit("slash", provider=provider.address, amount="2", reason="repeat fraud")
    assert state == "confirmed", message
    assert as_provider.stake.stake_of(provider.address) == stake - 3 * INJ

    sends = wallet.asked.count("eth_sendTransaction")
    state, message = page.submit("slash", provider=clean.address, amount="1", reason="nothing there")
    assert state == "refused" and f"{clean.address} has nothing to slash" in message, message
    assert wallet.asked.count("eth_sendTransaction") == sends
