"""The validator's work in the browser: the queue of nodes waiting for validation, validating one,
whitelisting its provider, then blacklisting it."""

from __future__ import annotations

from tests.app.page import AppPage
from tests.hub.helpers import INJ


def test_validator_validates_from_the_queue_and_whitelists(world, served, browser, make_wallet):
    provider = world.actor("app-val-provider")
    node = world.actor("app-val-node", fund_wei=0)
    as_provider, as_node, as_validator = (world.client(a) for a in (provider, node, world.validator))
    as_provider.hub.register_provider(3 * INJ)
    as_provider.hub.add_compute_node(as_node.hub.attest_node(provider.address, 2, "ipfs://val-node"))

    make_wallet(browser, world.validator.account)
    page = AppPage(browser, served).open()
    page.connect(world.validator.address)
    page.tab("validator")
    page.wait(lambda: any(r[0] == node.address for r in page.rows("queue")), "the node in the queue")
    page.screenshot("validator")

    state, message = page.click_action("validate_node", node=node.address)
    assert state == "confirmed", message
    assert as_validator.registry.node(node.address).validated
    page.wait(lambda: all(r[0] != node.address for r in page.rows("queue")), "the node leaving the queue")

    state, message = page.click_action("whitelist_provider", provider=provider.address)
    assert state == "confirmed", message
    assert as_validator.registry.provider(provider.address).whitelisted

    # a network blacklist releases the provider's nodes (the binding finds them from the logs)
    state, message = page.click_action("blacklist_provider", provider=provider.address)
    assert state == "confirmed", message
    assert as_validator.registry.provider(provider.address).blacklisted
