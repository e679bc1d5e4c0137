"""What the page does around the wallet: it refuses to send on the wrong chain (and switches the
wallet when the wallet agrees), a request rejected in the wallet leaves nothing half done, and a
transaction that would revert is stopped before the wallet is asked, with the sentence `hub` prints."""

from __future__ import annotations

from pathlib import Path

from hub.devkeys import LOCAL_CHAIN_ID
from tests.app.page import AppPage
from tests.hub.helpers import INJ, run_hub


def test_a_wallet_on_another_chain_is_refused_until_it_switches(world, served, browser, make_wallet):
    provider = world.actor("app-chain")
    wallet = make_wallet(browser, provider.account)
    wallet.chain_id = 1  # Ethereum mainnet
    wallet.allow_switch = False
    page = AppPage(browser, served).open()
    page.connect(provider.address)
    assert page.attribute("#account", "data-chain") == "1"
    assert "wrong chain 1" in page.driver.find_element("id", "account").text
    page.tab("provider")

    state, message = page.submit("register", stake="2")
    assert state == "refused"
    assert f"the wallet is on chain 1, not this hub's chain {LOCAL_CHAIN_ID}" in message
    assert "nothing was sent" in message
    assert "wallet_switchEthereumChain" in wallet.asked
    assert "eth_sendTransaction" not in wallet.asked
    assert not world.client().registry.provider(provider.address).registered

    wallet.allow_switch = True
    state, message = page.submit("register", stake="2")
    assert state == "confirmed", message
    assert wallet.chain_id == LOCAL_CHAIN_ID
    page.wait(lambda: page.attribute("#account", "data-chain") == str(LOCAL_CHAIN_ID), "the switched chain")
    assert world.client().registry.provider(provider.address).registered


def test_a_rejection_in_the_wallet_leaves_nothing_half_done(world, served, browser, make_wallet, tmp_path: Path):
    operator = world.actor("app-reject")
    wallet = make_wallet(browser, operator.account)
    wallet.reject = {"eth_sendTransaction", "eth_signTypedData_v4"}
    client = world.client()
    pools_before = client.pool.count()
    balance = client.balance(operator.address)
    page = AppPage(browser, served).open()
    page.connect(operator.address)

    page.tab("provider")
    state, message = page.submit("register", stake="2")
    assert (state, message) == ("rejected", "rejected: rejected in the wallet: nothing was sent")
    assert not client.registry.provider(operator.address).registered

    page.tab("operator")
    state, message = page.submit(
        "pool_create", run_id="rejected", budget="1", reward_per_unit="1000wei", challenge_window="20s"
    )
    assert state == "rejected", message
    assert client.pool.count() == pools_before

    # a pool to invite into, made by the same account outside the page
    wallet.reject = {"eth_signTypedData_v4"}
    state, message = page.submit(
        "pool_create", run_id="kept", budget="1", reward_per_unit="1000wei", challenge_window="20s"
    )
    assert state == "confirmed", message
    pool_id = client.pool.count()
    state, message = page.submit("pool_invite", pool_id=str(pool_id), node=world.validator.address)
    assert state == "rejected", message
    assert page.driver.find_element("id", "invite-out").get_attribute("hidden") is not None  # no invite shown
    assert wallet.signed == []
    assert len(wallet.sent) == 1  # only the pool that was confirmed
    assert client.balance(operator.address) < balance - INJ  # its budget, and nothing else moved twice


def test_a_revert_shows_the_sentence_hub_prints_and_asks_no_wallet(world, served, browser, make_wallet):
    outsider = world.actor("app-revert")
    provider = world.actor("app-revert-provider")
    node = world.actor("app-revert-node", fund_wei=0)
    as_provider, as_node = world.client(provider), world.client(node)
    as_provider.hub.register_provider(2 * INJ)
    as_provider.hub.add_compute_node(as_node.hub.attest_node(provider.address, 1, "ipfs://revert"))
    wallet = make_wallet(browser, outsider.account)
    page = AppPage(browser, served).open()
    page.connect(outsider.address)
    page.tab("validator")

    state, message = page.submit("validate_node", node=node.address)
    assert state == "refused"
    cli = run_hub("validator", "validate-node", node.address, "--account", outsider.name, ok=False)
    sentence = cli.output.strip().removeprefix("error: ")
    assert "AccessControl: missing role" in sentence
    assert message == f"refused: {sentence}"
    assert "eth_sendTransaction" not in wallet.asked
    assert not as_provider.registry.node(node.address).validated
