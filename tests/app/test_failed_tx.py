"""A transaction mined and then reverted, for real: the page built it against one state, and another
account changed that state before the wallet sent it. The page shows it as failed, with the sentence
`hub` prints for a mined revert and the transaction's hash, and shows nothing as done."""

from __future__ import annotations

from tests.app.page import AppPage
from tests.hub.helpers import INJ


def test_a_transaction_that_reverts_after_mining_is_shown_failed(world, served, browser, make_wallet):
    provider = world.actor("app-race-provider")
    node = world.actor("app-race-node", fund_wei=0)
    as_provider, as_node, as_validator = (world.client(a) for a in (provider, node, world.validator))
    as_provider.hub.register_provider(3 * INJ)
    as_provider.hub.add_compute_node(as_node.hub.attest_node(provider.address, 2, "ipfs://race-node"))

    wallet = make_wallet(browser, world.validator.account)
    page = AppPage(browser, served).open()
    page.connect(world.validator.address)
    page.tab("validator")
    page.wait(lambda: any(r[0] == node.address for r in page.rows("queue")), "the node in the queue")

    # the validator's transaction is built (the estimate passes); while the wallet asks for the
    # confirmation, the provider removes the node, so the mined transaction reverts
    wallet.before_send = lambda: as_provider.hub.remove_compute_node(node.address)
    state, message = page.click_action("validate_node", node=node.address)
    assert state == "failed", message
    tx_hash = wallet.sent[-1]
    receipt = as_validator.w3.eth.get_transaction_receipt(tx_hash)
    assert receipt["status"] == 0  # mined, reverted: the fee is paid and nothing changed
    assert message.startswith("failed on chain: ComputeRegistry: ") and tx_hash in message, message
    assert f"block {receipt['blockNumber']}" in message
    assert "(hint: " in message
    assert as_validator.registry.node(node.address).provider is None  # removed, never validated
    # nothing is shown as done: the one transaction of the page is failed, and no table lists the node
    states = browser.execute_script("return [...document.querySelectorAll('#txlog li')].map(li => li.dataset.state)")
    assert states == ["failed"]
    page.wait(lambda: all(r[0] != node.address for r in page.rows("queue")), "the removed node leaving the queue")
    assert all(r[0] != node.address for r in page.rows("nodes"))
