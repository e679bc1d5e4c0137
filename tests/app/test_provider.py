"""The provider's work in the browser with its own wallet, against the real local chain: register
with stake, add a node from the file `hub node attest` wrote, fund the node key, and claim the
rewards of a pool the node worked in."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.client import WorkState, make_work_key
from hub.metadata import publish_metadata
from tests.app.page import AppPage
from tests.hub.helpers import INJ, wait_for_next_block_second
from tests.utils.rpc_log import log_ranges, record_requests
from tests.utils.serving import serving_app


@pytest.fixture(scope="module")
def hub_world(devnet, contracts_built, tmp_path_factory):
    """This module's own deployment, whose unbonds mature within a test (SHORT_UNBONDING_S): the
    provider withdraws a matured unbond. Its pools' challenge windows (3 s here) are shorter."""
    from tests.hub.helpers import SHORT_UNBONDING_S
    from tests.session_chain import deploy_world

    return deploy_world(devnet, tmp_path_factory, unbonding_s=SHORT_UNBONDING_S)


@pytest.fixture
def served_recorded(world, tmp_path, runs_dir):
    """The app served as `served` is, over a client whose requests to the node are recorded:
    (the page's address, the (method, params) sent so far)."""
    client = world.client()
    sent = record_requests(client.w3)
    with serving_app(client, tmp_path, runs_dir=runs_dir) as url:
        yield url, sent


def test_provider_registers_adds_a_node_and_claims(world, served_recorded, browser, make_wallet, tmp_path: Path):
    """The Claim button sends the node and keys the page was given: building the claim reads no
    logs of the blocks the work is in (meanwhile the server only follows new blocks)."""
    served, sent = served_recorded
    provider = world.actor("app-provider")
    node = world.actor("app-node", fund_wei=0)
    creator = world.actor("app-creator")
    as_provider, as_node, as_creator, as_validator = (
        world.client(a) for a in (provider, node, creator, world.validator)
    )
    # what `hub node attest --provider P --units 3 --out FILE` writes, made with the node key
    attestation = as_node.hub.attest_node(provider.address, 3, "ipfs://app-node").model_dump_json(indent=2)
    wallet = make_wallet(browser, provider.account)
    page = AppPage(browser, served).open()
    page.connect(provider.address)
    page.tab("provider")

    state, message = page.submit("register", stake="5")
    assert state == "confirmed", message
    record = as_provider.registry.provider(provider.address)
    assert record.registered and as_provider.stake.stake_of(provider.address) == 5 * INJ
    page.wait(lambda: page.attribute("body", "data-registered") == "true", "the provider registered")

    state, message = page.submit("node_add", attestation=attestation)
    assert state == "confirmed", message
    added = as_provider.registry.node(node.address)
    assert (added.provider, added.compute_units, added.validated) == (provider.address, 3, False)

    state, message = page.submit("node_fund", node=node.address, amount="2")
    assert state == "confirmed", message
    assert as_node.balance() == 2 * INJ
    page.wait(lambda: any(r[0] == node.address for r in page.rows("my-nodes")), "the node in 'your nodes'")

    # the rest of the network does its part: a validator, a pool operator, the node training
    as_validator.hub.validate_node(node.address)
    as_validator.hub.whitelist_provider(provider.address)
    meta = tmp_path / "pool.json"
    meta.write_text('{"run_id": "app-provider"}')
    pool_id = as_creator.pool.create(
        1, publish_metadata(meta), budget=2 * INJ, reward_per_unit=10**9, challenge_window=3
    ).pool_id
    as_node.pool.join(as_creator.pool.invite(pool_id, node.address))
    as_creator.pool.start(pool_id)
    wait_for_next_block_second(as_node)
    key = make_work_key(pool_id, "peer", 1)
    submitted_in = as_node.pool.submit_work(pool_id, key, 2_000).block_number
    page.wait(
        lambda: any(r[0] == node.address and r[3] == f"#{pool_id}" for r in page.rows("my-nodes")),
        "the node's pool",
    )
    page.screenshot("provider")

    # the claim button shows once the challenge window has passed on chain
    balance = as_provider.balance()
    page.wait(lambda: browser.find_elements("css selector", 'button[data-action="claim"]'), "the Claim button")
    before = len(sent)
    state, message = page.click_action("claim", pool_id=str(pool_id))
    assert state == "confirmed", message
    assert all(first > submitted_in for first, _ in log_ranges(sent[before:]))
    assert any(method == "eth_estimateGas" for method, _ in sent[before:])  # the claim was built here
    assert as_provider.rewards.work(pool_id, node.address, key).state == WorkState.CLAIMED
    assert len(wallet.sent) == 4  # register, add node, fund, claim: each signed once by the wallet
    claim_tx = as_provider.w3.eth.get_transaction(wallet.sent[-1])
    price = as_provider.w3.eth.get_transaction_receipt(wallet.sent[-1])["effectiveGasPrice"]
    # Injective charges the whole gas limit the server priced
    assert as_provider.balance() == balance + 2_000 * 10**9 - claim_tx["gas"] * price


def test_provider_removes_its_node_reclaims_withdraws_and_deregisters(world, served, browser, make_wallet):
    provider = world.actor("app-leaver")
    node = world.actor("app-leaver-node", fund_wei=0)
    as_provider, as_node = world.client(provider), world.client(node)
    as_provider.hub.register_provider(4 * INJ)
    as_provider.hub.add_compute_node(as_node.hub.attest_node(provider.address, 2, "ipfs://leaver"))
    make_wallet(browser, provider.account)
    page = AppPage(browser, served).open()
    page.connect(provider.address)
    page.tab("provider")

    # 4 INJ staked, 3 needed for 2 compute units: reclaiming 2 is refused with the numbers
    state, message = page.submit("stake_reclaim", amount="2")
    assert state == "refused"
    assert "would leave 2 INJ, below the minimum 3 INJ" in message
    state, message = page.submit("stake_reclaim", amount="1")
    assert state == "confirmed", message
    assert as_provider.stake.info(provider.address).unbonding == INJ
    page.wait(lambda: [r[0] for r in page.rows("unbonds")] == ["1.000000"], "the unbond")

    state, message = page.click_action("node_remove", node=node.address)
    assert state == "confirmed", message
    assert as_provider.registry.node(node.address).provider is None
    state, message = page.submit("deregister")
    assert state == "confirmed", message
    assert not as_provider.registry.provider(provider.address).registered
    assert as_provider.stake.info(provider.address).unbonding == 4 * INJ

    # the first unbond matures after the unbonding period of chain time: the page says so
    page.wait(lambda: "matured" in [r[1] for r in page.rows("unbonds")], "a matured unbond", timeout=90)
    balance = as_provider.balance()
    state, message = page.submit("stake_withdraw")
    assert state == "confirmed", message
    assert as_provider.balance() > balance + INJ // 2  # at least the first 1 INJ, less the gas
