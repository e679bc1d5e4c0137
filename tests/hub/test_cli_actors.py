"""Every actor's `hub` commands on the real local chain, each checked against chain state and balances.

One session deployment (`hub_world`, tests/session_chain.py); every test makes fresh funded actors, so tests do not
depend on each other. Durations are real and tests wait: the provider's withdraw runs on the deployment
whose unbonding is SHORT_UNBONDING_S (tests/hub/helpers.py).
"""

from __future__ import annotations

from pathlib import Path

from eth_utils import keccak

from hub.client import PoolStatus, WorkState
from hub.devkeys import LOCAL_CHAIN_ID
from hub.metadata import fetch_metadata
from tests.hub.helpers import (
    INJ,
    LOCKED_WINDOW_S,
    SHORT_UNBONDING_S,
    hub_json,
    node_and_pool,
    run_hub,
    wait_for_next_block_second,
)
from tests.utils.waiting import wait_until

GWEI = 10**9


def _paid(result: dict) -> int:
    return int(result["fee_wei"])  # wei are decimal strings in JSON


def test_provider_cycle(short_unbonding_world, tmp_path: Path) -> None:
    world = short_unbonding_world  # the withdraw waits for the unbond to mature
    client = world.client()
    provider = world.actor("provider")
    node1 = world.actor("node", fund_wei=0)
    node2 = world.actor("node", fund_wei=0)
    p = provider.address
    acct = ["--account", provider.name]

    start = client.balance(p)
    tx = hub_json("provider", "register", "--stake", "5", *acct)
    record = client.registry.provider(p)
    assert record.registered and not record.whitelisted and client.stake.stake_of(p) == 5 * INJ
    assert client.balance(p) == start - 5 * INJ - _paid(tx)

    tx = hub_json("provider", "stake", "add", "2", *acct)
    assert client.stake.stake_of(p) == 7 * INJ

    # node 1: the node key signs an attestation file, the provider adds it
    attestation = tmp_path / "attestation.json"
    run_hub(
        "node",
        "attest",
        "--provider",
        p,
        "--units",
        "2",
        "--specs",
        "ipfs://specs",
        "--account",
        node1.name,
        "--out",
        attestation,
    )
    run_hub("provider", "node", "add", "--attestation", attestation, *acct)
    node = client.registry.node(node1.address)
    assert (node.provider, node.compute_units, node.validated) == (p, 2, False)
    assert client.registry.node_nonce(node1.address) == 1
    # node 2: its keystore is here, so the provider's command signs with it directly
    run_hub("provider", "node", "add", "--node-account", node2.name, "--units", "3", *acct)
    assert client.registry.node(node2.address).provider == p
    assert client.registry.provider(p).total_compute == 5

    validator = ["--account", world.validator.name]
    run_hub("validator", "validate-node", node1.address, *validator)
    assert client.registry.node(node1.address).validated
    run_hub("validator", "invalidate-node", node1.address, *validator)
    assert not client.registry.node(node1.address).validated
    run_hub("validator", "whitelist", p, *validator)
    assert client.registry.provider(p).whitelisted

    # minimum is (5 units + 1) x 1 INJ = 6 INJ: 1 of the 7 may go
    run_hub("provider", "stake", "reclaim", "1", *acct)
    assert (client.stake.stake_of(p), client.stake.unbonding_of(p)) == (6 * INJ, 1 * INJ)
    run_hub("provider", "stake", "rebond", "0.5", *acct)
    assert (client.stake.stake_of(p), client.stake.unbonding_of(p)) == (6_500_000_000_000_000_000, INJ // 2)

    run_hub("provider", "fund-node", node1.address, "0.25", *acct)
    assert client.balance(node1.address) == INJ // 4

    shown = hub_json("provider", "show", *acct)
    assert shown["registered"] and shown["whitelisted"] and shown["stake"] == "6500000000000000000"
    assert shown["minimum_stake"] == str(6 * INJ) and shown["unbonding"] == str(INJ // 2)
    assert {n["address"] for n in shown["nodes"]} == {node1.address, node2.address}

    run_hub("provider", "node", "remove", node2.address, *acct)
    run_hub("provider", "node", "remove", node1.address, *acct)
    assert client.registry.node(node2.address).provider is None and client.registry.provider(p).node_count == 0
    run_hub("provider", "deregister", "--yes", *acct)
    assert not client.registry.provider(p).registered
    assert (client.stake.stake_of(p), client.stake.unbonding_of(p)) == (0, 7 * INJ)

    wait_until(lambda: client.stake.withdrawable_of(p) == 7 * INJ, SHORT_UNBONDING_S + 60, "the unbonded stake")
    before = client.balance(p)
    tx = hub_json("provider", "stake", "withdraw", *acct)
    assert tx["amount"] == str(7 * INJ)
    assert client.balance(p) == before + 7 * INJ - _paid(tx)
    assert client.stake.unbonding_of(p) == 0


def _ready_provider(world, nodes: int) -> tuple:
    """A registered, whitelisted provider with `nodes` validated, gas-funded nodes (set up with the client)."""
    provider = world.actor("provider")
    keys = [world.actor("node", fund_wei=INJ) for _ in range(nodes)]
    client = world.client(provider)
    client.hub.register_provider(20 * INJ)
    validator = world.client(world.validator)
    for key in keys:
        client.hub.add_compute_node(world.client(key).hub.attest_node(provider.address, 2, ""))
        validator.hub.validate_node(key.address)
    validator.hub.whitelist_provider(provider.address)
    return provider, keys


def test_pool_operator_nodes_validator_and_rewards(world, tmp_path: Path) -> None:
    client = world.client()
    creator = world.actor("creator")
    manager = world.actor("manager", fund_wei=INJ)
    provider, (node_a, node_b) = _ready_provider(world, 2)
    metadata = tmp_path / "pool.json"
    metadata.write_bytes(b'{"run_id": "cli-test", "train": {"model": "tiny"}}\n')
    as_creator = ["--account", creator.name]
    as_validator = ["--account", world.validator.name]

    # create: budget escrowed, metadata published as file:// with its keccak256. The work here is
    # invalidated while locked, so its window outlasts the test; the claim is the second pool's
    before = client.balance(creator.address)
    tx = hub_json(
        "pool",
        "create",
        "--metadata",
        metadata,
        "--budget",
        "10",
        "--reward-per-unit",
        f"{GWEI}wei",
        "--challenge-window",
        f"{LOCKED_WINDOW_S}s",
        "--compute-limit",
        "100",
        *as_creator,
    )
    pool_id = tx["pool_id"]
    pool = client.pool.get(pool_id)
    assert pool.status == PoolStatus.PENDING and pool.creator == pool.manager == creator.address
    assert pool.metadata_uri == metadata.resolve().as_uri() == tx["metadata_uri"]
    assert pool.metadata_hash == "0x" + keccak(metadata.read_bytes()).hex() and pool.compute_limit == 100
    assert client.pool.metadata(pool_id) == metadata.read_bytes()
    budget = client.rewards.budget(pool_id)
    assert (budget.funded, budget.available, budget.reward_per_unit, budget.challenge_window) == (
        10 * INJ,
        10 * INJ,
        GWEI,
        LOCKED_WINDOW_S,
    )
    assert client.balance(creator.address) == before - 10 * INJ - _paid(tx)

    # invites: node A joins itself, node B is joined by its provider
    invite_a, invite_b = tmp_path / "a.json", tmp_path / "b.json"
    run_hub("pool", "invite", pool_id, node_a.address, "--out", invite_a, *as_creator)
    run_hub("pool", "invite", pool_id, node_b.address, "--out", invite_b, *as_creator)
    run_hub("node", "join", "--invite", invite_a, "--account", node_a.name)
    run_hub("node", "join", "--invite", invite_b, "--account", provider.name)
    assert client.pool.active_pool_of(node_a.address) == client.pool.active_pool_of(node_b.address) == pool_id
    assert client.pool.get(pool_id).total_compute == 4
    run_hub("pool", "start", pool_id, *as_creator)
    assert client.pool.get(pool_id).status == PoolStatus.ACTIVE
    assert hub_json("node", "status", pool_id, "--account", node_a.name)["ready"]

    # work: a claim may not exceed the node's rate since its last submission, so wait a second
    wait_for_next_block_second(client)
    keys = {}
    for name, node in (("a1", node_a), ("b1", node_b)):
        keys[name] = hub_json(
            "node", "submit-work", pool_id, "--units", 100, "--key-text", name, "--account", node.name
        )["work_key"]
    wait_for_next_block_second(client)
    for name, node in (("a2", node_a), ("b2", node_b), ("a3", node_a)):
        if name == "a3":
            wait_for_next_block_second(client)
        keys[name] = hub_json(
            "node", "submit-work", pool_id, "--units", 100, "--key-text", name, "--account", node.name
        )["work_key"]
    logged = client.rewards.work_submitted(pool_id)
    assert {w.work_key for w in logged} == set(keys.values()) and all(w.provider == provider.address for w in logged)
    assert client.rewards.budget(pool_id).committed == 5 * 100 * GWEI
    shown = hub_json("rewards", "--account", provider.name, "--pool", pool_id)
    assert {w["state"] for w in shown["work"]} == {"locked"}

    # soft invalidations: by a validator, and by the pool's manager
    run_hub("validator", "invalidate-work", pool_id, node_a.address, keys["a2"], *as_validator)
    run_hub("pool", "invalidate-work", pool_id, node_a.address, keys["a3"], *as_creator)
    assert client.rewards.work(pool_id, node_a.address, keys["a2"]).state == WorkState.INVALIDATED
    assert client.rewards.budget(pool_id).committed == 3 * 100 * GWEI
    # hard invalidation: node B is ejected and barred, its other locked work voided, its provider slashed
    slashed_before = client.stake.slashed_pending()
    run_hub(
        "validator",
        "invalidate-work",
        pool_id,
        node_b.address,
        keys["b1"],
        "--hard",
        "--slash",
        "1",
        "--reason",
        "fraud",
        *as_validator,
    )
    assert client.pool.active_pool_of(node_b.address) == 0
    assert client.pool.contract.functions.nodeBlacklisted(pool_id, node_b.address).call()
    assert client.rewards.work(pool_id, node_b.address, keys["b2"]).state == WorkState.VOIDED
    assert client.stake.stake_of(provider.address) == 19 * INJ
    assert client.stake.slashed_pending() == slashed_before + INJ

    assert client.rewards.work(pool_id, node_a.address, keys["a1"]).state == WorkState.LOCKED

    tx = hub_json("pool", "release-voided", pool_id, "--account", creator.name)
    assert tx["amount"] == str(100 * GWEI)
    assert client.rewards.work(pool_id, node_b.address, keys["b2"]).state == WorkState.INVALIDATED

    treasury = client.hub.treasury()
    before = client.balance(treasury)
    pending = client.stake.slashed_pending()
    tx = hub_json("admin", "sweep-slashed", "--account", creator.name)
    assert tx["amount"] == str(pending) and client.stake.slashed_pending() == 0
    assert client.balance(treasury) == before + pending

    run_hub("pool", "top-up", pool_id, "1", *as_creator)
    assert client.rewards.budget(pool_id).funded == 11 * INJ
    run_hub("pool", "eject", pool_id, node_a.address, *as_creator)
    assert client.pool.active_pool_of(node_a.address) == 0
    run_hub("pool", "end", pool_id, *as_creator)
    assert client.pool.get(pool_id).status == PoolStatus.COMPLETED
    available = client.rewards.budget(pool_id).available
    before = client.balance(creator.address)
    tx = hub_json("pool", "refund", pool_id, *as_creator)
    assert int(tx["amount"]) == available == 11 * INJ - 100 * GWEI  # a1's reward stays committed
    assert client.balance(creator.address) == before + available - _paid(tx)

    shown = hub_json("pool", "show", pool_id)
    assert shown["status"] == "completed" and shown["budget"]["paid"] == "0" and shown["members"] == []

    # a second pool, metadata inside a data: URI, run by a separate manager key
    small = tmp_path / "small.json"
    small.write_bytes(b'{"run_id": "inline"}')
    second = hub_json(
        "pool",
        "create",
        "--metadata",
        small,
        "--inline",
        "--budget",
        "1",
        "--reward-per-unit",
        "0.000001",
        "--challenge-window",
        "9s",
        *as_creator,
    )["pool_id"]
    uri = client.pool.get(second).metadata_uri
    assert uri.startswith("data:application/json;base64,")
    assert fetch_metadata(uri, client.pool.get(second).metadata_hash) == small.read_bytes()
    run_hub("pool", "set-manager", second, manager.address, *as_creator)
    assert client.pool.get(second).manager == manager.address
    invite = tmp_path / "second.json"
    run_hub("pool", "invite", second, node_a.address, "--out", invite, "--account", manager.name)
    run_hub("node", "join", "--invite", invite, "--account", node_a.name)
    assert client.pool.members(second) == [node_a.address]
    run_hub("pool", "start", second, *as_creator)

    # the claim, once this pool's 9 s window has passed on chain: only this work is paid, to the
    # provider (a1 in the first pool is locked, a2 and a3 invalidated)
    wait_for_next_block_second(client)
    paid = hub_json("node", "submit-work", second, "--units", 100, "--key-text", "c1", "--account", node_a.name)
    reward = 100 * 10**12  # 0.000001 INJ per unit
    wait_until(
        lambda: client.rewards.work(second, node_a.address, paid["work_key"]).state == WorkState.CLAIMABLE,
        60,
        "a claimable work",
    )
    before = client.balance(provider.address)
    claimed = hub_json("rewards", "claim", "--account", provider.name)
    assert claimed["amount"] == str(reward)
    assert [(c["pool_id"], c["work_keys"]) for c in claimed["claims"]] == [(second, [paid["work_key"]])]
    assert client.rewards.work(second, node_a.address, paid["work_key"]).state == WorkState.CLAIMED
    assert client.balance(provider.address) == before + reward - claimed["claims"][0]["fee"]
    run_hub("node", "leave", second, "--account", node_a.name)
    assert client.pool.active_pool_of(node_a.address) == 0
    run_hub("pool", "blacklist-node", second, node_a.address, "--yes", "--account", manager.name)
    assert client.pool.contract.functions.nodeBlacklisted(second, node_a.address).call()
    run_hub("pool", "blacklist-provider", second, provider.address, "--yes", "--account", manager.name)
    assert client.pool.contract.functions.providerBlacklisted(second, provider.address).call()

    listed = {p["pool_id"]: p for p in hub_json("pool", "list")}
    assert listed[pool_id]["status"] == "completed" and listed[second]["status"] == "active"


def test_admin_and_federator(world) -> None:
    client = world.client()
    someone = world.actor("someone", fund_wei=0)
    as_admin = ["--account", world.admin.name]

    run_hub("admin", "grant", "validator", someone.address, *as_admin)
    assert hub_json("admin", "roles", someone.address)["roles"] == ["validator"]
    run_hub("admin", "revoke", "validator", someone.address, *as_admin)
    assert client.hub.roles_of(someone.address) == []

    run_hub("admin", "set-treasury", someone.address, *as_admin)
    assert client.hub.treasury() == someone.address
    run_hub("admin", "set-treasury", world.admin.address, *as_admin)
    assert client.hub.treasury() == world.admin.address

    tx = hub_json("federator", "create-domain", "llama-tiny", "--uri", "https://example.org/domain.json", *as_admin)
    domain = client.domains.get(tx["domain_id"])
    assert (domain.name, domain.uri) == ("llama-tiny", "https://example.org/domain.json")
    assert domain.validation_logic == client.deployment.address("WorkRateValidator")

    minimum = client.hub.min_stake_per_compute_unit()
    run_hub("federator", "set-stake-minimum", "2.5", *as_admin)
    assert client.hub.min_stake_per_compute_unit() == 2_500_000_000_000_000_000
    run_hub("federator", "set-stake-minimum", f"{minimum}wei", *as_admin)
    assert client.hub.min_stake_per_compute_unit() == minimum


def test_validator_slash_and_blacklist(world) -> None:
    client = world.client()
    provider = world.actor("provider")
    world.client(provider).hub.register_provider(4 * INJ)
    as_validator = ["--account", world.validator.name]
    pending = client.stake.slashed_pending()
    # a provider with no nodes is bonded for one unit (1 INJ): a slash takes at most that (SPEC 3.3)
    tx = hub_json("validator", "slash", provider.address, "1.5", "--reason", "downtime", "--yes", *as_validator)
    assert tx["slashed"] == INJ
    assert client.stake.stake_of(provider.address) == 3 * INJ
    assert client.stake.slashed_pending() == pending + INJ
    run_hub("validator", "blacklist", provider.address, "--yes", *as_validator)
    record = client.registry.provider(provider.address)
    assert record.blacklisted and not record.whitelisted


def test_anyone_releases_a_blacklisted_providers_node(world, tmp_path: Path) -> None:
    # a blacklisting releases at most 64 listed nodes; this one lists none of the provider's nodes,
    # so its node stays in its pool as the 65th would
    setup = node_and_pool(world, "cli-release", {"run_id": "cli-release"}, tmp_path)
    setup.approve()
    setup.join_and_start()
    node = setup.node.address
    client = world.client()
    world.client(world.validator).hub.blacklist_provider(setup.provider.address, nodes=[])
    assert client.pool.active_pool_of(node) == setup.pool_id

    bystander = ["--account", world.actor("cli-release-bystander").name]
    tx = hub_json("pool", "release-blacklisted", node, *bystander)
    assert (tx["pool_id"], tx["node"], tx["provider"]) == (setup.pool_id, node, setup.provider.address)
    assert client.pool.active_pool_of(node) == 0
    again = run_hub("pool", "release-blacklisted", node, *bystander, ok=False)
    assert again.exit_code != 0 and "not in a pool" in again.output and "Traceback" not in again.output


def test_status_views(world) -> None:
    status = hub_json("status", "--account", world.admin.name)
    assert status["chain_id"] == LOCAL_CHAIN_ID and status["contracts"] == {
        name: r.address for name, r in world.client().deployment.contracts.items()
    }
    assert status["account"]["roles"] == ["admin", "federator"] and status["domains"][0]["name"] == "default"
    table = run_hub("status").stdout
    assert world.client().deployment.address("InjectiveAiHub") in table and "unbonding period" in table
    assert "no work submitted by" in run_hub("rewards", "show", "--provider", world.admin.address).stdout
