"""The validator's work in the browser: the queue of nodes waiting for validation, validating one,
whitelisting its provider, then blacklisting it; anyone releasing a blacklisted provider's node that
the blacklisting left in its pool."""

from __future__ import annotations

from tests.app.page import AppPage
from tests.hub.helpers import INJ, node_and_pool


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


def test_anyone_releases_a_blacklisted_providers_pooled_node(world, served, browser, make_wallet, tmp_path):
    # a blacklisting releases at most 64 listed nodes; setting up 65 is too slow here, so the
    # blacklisting lists none of the provider's nodes: its one node stays in its pool the same way
    setup = node_and_pool(world, "app-release", {"run_id": "app-release"}, tmp_path)
    setup.approve()
    setup.join_and_start()
    node = setup.node.address
    as_validator = world.client(world.validator)
    released = as_validator.hub.blacklist_provider(setup.provider.address, nodes=[])
    assert released.released == ()
    assert as_validator.pool.active_pool_of(node) == setup.pool_id

    bystander = world.actor("app-release-bystander")
    make_wallet(browser, bystander.account)
    page = AppPage(browser, served).open()
    page.connect(bystander.address)
    page.wait(
        lambda: any(r[0] == node and r[4].startswith(f"#{setup.pool_id}") for r in page.rows("nodes")),
        "the blacklisted provider's node in its pool",
    )

    state, message = page.click_action("release_blacklisted_node", node=node)
    assert state == "confirmed", message
    assert as_validator.pool.active_pool_of(node) == 0
    page.wait(lambda: any(r[0] == node and r[4] == "-" for r in page.rows("nodes")), "the node out of its pool")
    page.tab("validator")
    page.wait(
        lambda: not page.driver.find_elements("css selector", f'button[data-params=\'{{"node":"{node}"}}\']'),
        "no release left for the node",
    )
