"""The pool operator's work in the browser with its own wallet: create a pool from the form (its
metadata published and the hash recorded as `hub pool create` does), sign an invite with the wallet
(EIP-712), start the pool once a node joined with that invite, end it and take back the budget."""

from __future__ import annotations

import json

from hub.client import PoolInvite, PoolStatus
from hub.metadata import metadata_hash, parse_pool_metadata
from tests.app.page import AppPage
from tests.hub.helpers import INJ, LOCKED_WINDOW_S


def test_operator_creates_a_pool_invites_starts_and_ends_it(world, served, browser, make_wallet):
    operator = world.actor("app-operator")
    provider = world.actor("app-op-provider")
    node = world.actor("app-op-node")
    as_operator, as_provider, as_node, as_validator = (
        world.client(a) for a in (operator, provider, node, world.validator)
    )
    as_provider.hub.register_provider(4 * INJ)
    as_provider.hub.add_compute_node(as_node.hub.attest_node(provider.address, 2, "ipfs://op-node"))
    as_validator.hub.validate_node(node.address)
    as_validator.hub.whitelist_provider(provider.address)

    wallet = make_wallet(browser, operator.account)
    page = AppPage(browser, served).open()
    page.connect(operator.address)
    page.tab("operator")
    state, message = page.submit(
        "pool_create",
        run_id="app-run",
        description="made in the browser",
        budget="3",
        reward_per_unit="1000wei",
        challenge_window="20s",
        train='{"seq_len": 64}',
    )
    assert state == "confirmed", message
    pool_id = int(page.attribute('form[data-action="pool_create"] .result', "data-pool"))
    pool = as_operator.pool.get(pool_id)
    assert (pool.creator, pool.manager, pool.status) == (operator.address, operator.address, PoolStatus.PENDING)
    assert as_operator.rewards.budget(pool_id).funded == 3 * INJ
    # the recorded hash is the published document's, and the trainer can read and check it
    document = as_operator.pool.metadata(pool_id)
    assert "0x" + metadata_hash(document).hex() == pool.metadata_hash
    parsed = parse_pool_metadata(document)
    assert (parsed.run_id, parsed.description, parsed.train) == ("app-run", "made in the browser", {"seq_len": 64})

    state, message = page.submit("pool_invite", pool_id=str(pool_id), node=node.address, hours="2")
    assert state == "signed", message
    assert [typed["primaryType"] for typed in wallet.signed] == ["PoolInvite"]
    invite = PoolInvite.model_validate_json(page.driver.find_element("id", "invite-json").get_attribute("value"))
    assert (invite.pool_id, invite.node, invite.pool_contract) == (pool_id, node.address, as_operator.pool.address)
    link = page.attribute("#invite-link", "href")
    assert "#invite=" in link
    page.screenshot("operator")

    # the provider opens the invite link and joins its node with its own wallet
    provider_page = AppPage(browser, served).open(link)
    wallet.account = provider.account
    provider_page.connect(provider.address)
    assert json.loads(provider_page.form("node_join").find_element("name", "invite").get_attribute("value")) == (
        invite.model_dump(mode="json")
    )
    state, message = provider_page.submit("node_join")
    assert state == "confirmed", message
    assert as_operator.pool.active_pool_of(node.address) == pool_id

    page = AppPage(browser, served).open()
    wallet.account = operator.account
    page.connect(operator.address)
    page.tab("operator")
    state, message = page.click_action("pool_start", pool_id=str(pool_id))
    assert state == "confirmed", message
    assert as_operator.pool.get(pool_id).status == PoolStatus.ACTIVE

    state, message = page.submit("pool_top_up", pool_id=str(pool_id), amount="1")
    assert state == "confirmed", message
    assert as_operator.rewards.budget(pool_id).funded == 4 * INJ

    state, message = page.click_action("pool_end", pool_id=str(pool_id))
    assert state == "confirmed", message
    assert as_operator.pool.get(pool_id).status == PoolStatus.COMPLETED
    assert as_operator.pool.active_pool_of(node.address) == 0  # ending released the node

    balance = as_operator.balance()
    state, message = page.click_action("pool_refund", pool_id=str(pool_id))
    assert state == "confirmed", message
    assert as_operator.rewards.budget(pool_id).available == 0
    assert as_operator.balance() > balance + 3 * INJ  # 4 INJ back, less one transaction's gas


def test_operator_invalidates_work_ejects_and_blacklists_and_the_audit_log_shows_it(
    world, served, browser, make_wallet, tmp_path
):
    from hub.client import WorkState, make_work_key
    from hub.client.scenario import ClientSteps, NodePlan, PoolPlan, ProviderPlan, Scenario, run
    from hub.metadata import publish_metadata
    from tests.hub.helpers import wait_for_next_block_second

    # an active pool of the operator's with the two 1-unit nodes of one provider (clients stand for
    # their actors: `.address`, `.account`)
    operator, provider = world.client(world.actor("app-police")), world.client(world.actor("app-police-provider"))
    nodes = [world.client(world.actor(f"app-police-node{i}")) for i in range(2)]
    meta = tmp_path / "pool.json"
    meta.write_text('{"run_id": "police"}')
    # the work stays locked however long the page takes to open and connect (tests/hub/helpers.py)
    pool = PoolPlan(1, publish_metadata(meta), budget=INJ, reward_per_unit=1000, challenge_window=LOCKED_WINDOW_S)
    scenario = Scenario((ProviderPlan(6 * INJ, (NodePlan(1), NodePlan(1))),), (pool,))
    (pool_id,) = run(scenario, ClientSteps([provider], [nodes], operator, world.client(world.validator)))
    wait_for_next_block_second(nodes[0])
    key = make_work_key(pool_id, "peer", 1)
    nodes[0].pool.submit_work(pool_id, key, 500)

    make_wallet(browser, operator.account)
    page = AppPage(browser, served).open()
    page.connect(operator.address)
    page.tab("operator")
    state, message = page.submit("work_invalidate", pool_id=str(pool_id), node=nodes[0].address, work_key=key)
    assert state == "confirmed", message
    assert operator.rewards.work(pool_id, nodes[0].address, key).state == WorkState.INVALIDATED

    state, message = page.submit("pool_eject", pool_id=str(pool_id), node=nodes[0].address)
    assert state == "confirmed", message
    assert operator.pool.active_pool_of(nodes[0].address) == 0
    state, message = page.submit("pool_blacklist_node", pool_id=str(pool_id), node=nodes[1].address)
    assert state == "confirmed", message
    assert operator.pool.active_pool_of(nodes[1].address) == 0
    # the node is out of the pool now: ejecting it again would revert, and the page says why
    state, message = page.submit("pool_eject", pool_id=str(pool_id), node=nodes[1].address)
    assert state == "refused"
    assert "eject node would fail: ComputePool: node not in pool" in message

    page.tab("validator")
    found = page.wait(
        lambda: [r for r in page.rows("audit") if r[1] == nodes[0].address], "the invalidation in the audit log"
    )
    assert (found[0][0], found[0][3], found[0][4]) == (f"#{pool_id}", "500", "soft")
