"""Reading a contract's history in bounded eth_getLogs windows, against real local nodes: a claim
reads only the blocks where its pool could take work (never the deployment's whole history), and a
window the node refuses as too large (its `block-range-cap` or `logs-cap` in app.toml) is split
until the node answers, with every log found once."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hub.client import WorkState, make_work_key
from tests.hub.helpers import node_and_pool, wait_for_chain_time, wait_for_next_block_second
from tests.utils.rpc_log import log_ranges, record_connections, record_requests
from tests.utils.waiting import wait_until

WINDOW = 20  # blocks per eth_getLogs in these tests: a few seconds of the local chain's 100 ms blocks


def _wait_blocks(client, blocks: int) -> None:
    here = client.block_number()
    wait_until(lambda: client.block_number() >= here + blocks, 60, f"{blocks} more blocks")


def _submit(setup, units: list[int], *, blocks_apart: int = 0) -> list[str]:
    """Each of `units` as one work key of the setup's node, `blocks_apart` blocks after the one before."""
    keys = []
    for i, amount in enumerate(units):
        if i and blocks_apart:
            _wait_blocks(setup.as_node, blocks_apart)
        wait_for_next_block_second(setup.as_node)  # the rate cap allows nothing in the same second
        key = make_work_key(setup.pool_id, "windows", i)
        setup.as_node.pool.submit_work(setup.pool_id, key, amount)
        keys.append(key)
    return keys


def _claimable(setup, keys: list[str]) -> None:
    """Wait until chain time has passed every key's challenge window."""
    works = [setup.as_provider.rewards.work(setup.pool_id, setup.node.address, k) for k in keys]
    wait_for_chain_time(setup.as_provider, max(w.unlocks_at for w in works))


def test_a_claim_reads_only_the_blocks_its_pool_took_work_in(world, tmp_path: Path, monkeypatch):
    """On a deployment whose history is many windows long, `rewards.claim(pool)` asks for logs
    only from the first block of the second its pool started on (after the provider's
    registration), in consecutive windows, up to the last block whose work has unlocked: the
    deployment's older blocks are never read."""
    observer = world.client()
    _wait_blocks(observer, 6 * WINDOW)  # history before the provider, whatever ran before this test
    registered_after = observer.block_number()
    setup = node_and_pool(world, "windows", {"run_id": "windows"}, tmp_path, units=3, reward_per_unit=10**6)
    setup.approve()
    setup.join_and_start()
    keys = _submit(setup, [1_000, 200, 30], blocks_apart=2 * WINDOW)
    _claimable(setup, keys)

    monkeypatch.setattr("hub.client.base.LOG_CHUNK", WINDOW)
    provider = world.client(setup.provider)
    sent = record_requests(provider.w3)
    result = provider.rewards.claim(setup.pool_id)
    head = provider.block_number()

    assert result.amount == 1_230 * 10**6
    assert sorted(result.work_keys) == sorted(keys)
    assert all(provider.rewards.work(setup.pool_id, setup.node.address, k).state == WorkState.CLAIMED for k in keys)
    ranges = log_ranges(sent)
    assert ranges == log_ranges(sent, provider.rewards.address)  # only the rewards contract's logs
    first, last = ranges[0][0], ranges[-1][1]
    assert first > registered_after
    # consecutive windows of WINDOW blocks (the last may be shorter), each block read once
    assert all(b - a + 1 == WINDOW for a, b in ranges[:-1]) and ranges[-1][1] - ranges[-1][0] < WINDOW
    assert all(ranges[i][1] + 1 == ranges[i + 1][0] for i in range(len(ranges) - 1))
    # the range holds every submission (found by a read that is not bounded by the pool)
    submitted = provider.rewards.work_submitted(
        provider=setup.provider.address, from_block=world.client().deployment.start_block, to_block=head
    )
    assert {e.work_key for e in submitted} == set(keys)
    assert all(first <= e.block_number <= last for e in submitted)
    # the pool started in the second of its first block: no block of an earlier second is read
    started_at = provider.pool.get(setup.pool_id).started_at
    assert provider.w3.eth.get_block(first)["timestamp"] == started_at
    assert provider.w3.eth.get_block(first - 1)["timestamp"] < started_at
    deployment_windows = -(-(head - provider.deployment.start_block + 1) // WINDOW)
    assert len(ranges) <= deployment_windows - 6  # the old way: one request per window since the deployment


def test_a_claim_of_every_pool_reads_each_block_once(world, tmp_path: Path, monkeypatch):
    """`hub rewards claim` without a pool, as typed: the claimable keys are found in one read of
    the logs since the deployment, and each pool is claimed from it, so no block's logs are asked
    for twice (the claim once read every block, then each pool's blocks again)."""
    from tests.hub.helpers import hub_json

    setup = node_and_pool(world, "every-pool", {"run_id": "every-pool"}, tmp_path, units=3, reward_per_unit=10**6)
    setup.approve()
    setup.join_and_start()
    keys = _submit(setup, [40, 2])
    _claimable(setup, keys)

    sent = record_connections(monkeypatch)
    claimed = hub_json("rewards", "claim", "--account", setup.provider.name)
    rewards = setup.as_provider.rewards
    assert claimed["amount"] == str(42 * 10**6)
    assert [(c["pool_id"], sorted(c["work_keys"])) for c in claimed["claims"]] == [(setup.pool_id, sorted(keys))]
    assert all(rewards.work(setup.pool_id, setup.node.address, k).state == WorkState.CLAIMED for k in keys)
    ranges = log_ranges(sent, rewards.address)
    assert ranges[0][0] == setup.as_provider.deployment.start_block
    # consecutive windows, each block once
    assert all(ranges[i][1] + 1 == ranges[i + 1][0] for i in range(len(ranges) - 1)), ranges


def test_a_claim_in_a_pool_that_never_started_reads_no_logs(world, tmp_path: Path):
    setup = node_and_pool(world, "unstarted", {"run_id": "unstarted"}, tmp_path)
    sent = record_requests(setup.as_provider.w3)
    with pytest.raises(Exception, match=f"nothing to claim in pool {setup.pool_id}"):
        setup.as_provider.rewards.claim(setup.pool_id)
    assert log_ranges(sent) == []


def _capped_chain(make_devnet, *, logs_cap: int, range_cap: int):
    """A chain of this test's own whose JSON-RPC caps eth_getLogs at `logs_cap` results and a
    [from, to] distance of `range_cap` blocks (injectived's app.toml, [json-rpc] section)."""
    chain = make_devnet("capped")
    chain.start()  # writes the node's home from the template
    chain.stop()
    app_toml = chain.node_home / "config" / "app.toml"
    text = app_toml.read_text()
    json_rpc = text.index("[json-rpc]")
    head, section = text[:json_rpc], text[json_rpc:]
    # the first of each key after [json-rpc] is that section's ([json-rpc-debug] has its own)
    section = re.sub(r"(?m)^logs-cap = \d+", f"logs-cap = {logs_cap}", section, count=1)
    section = re.sub(r"(?m)^block-range-cap = \d+", f"block-range-cap = {range_cap}", section, count=1)
    app_toml.write_text(head + section)
    chain.start()
    return chain


def test_windows_the_node_refuses_as_too_large_are_split_and_every_log_read_once(
    make_devnet, contracts_built, tmp_path_factory, tmp_path: Path
):
    """A node capped at 3 logs and a distance of 200 blocks per eth_getLogs: the client's
    10,000-block window is refused for its range ("maximum [from, to] blocks distance: 200") and
    halved until the node takes it (156 blocks); a window holding more than 3 of the 7 submissions
    (made a second apart, so two such windows hold them all) is refused ("query returned more than 3
    results") and split. The logs read both ways (one event; the app's two events per request) are
    every submission once, in order, and the claim pays every key."""
    from tests.session_chain import deploy_world

    chain = _capped_chain(make_devnet, logs_cap=3, range_cap=200)
    world = deploy_world(chain, tmp_path_factory)
    setup = node_and_pool(world, "capped", {"run_id": "capped"}, tmp_path, units=3, reward_per_unit=10**6)
    setup.approve()
    setup.join_and_start()
    units = [100, 200, 300, 400, 500, 600, 700]
    keys = _submit(setup, units)
    _claimable(setup, keys)

    provider = world.client(setup.provider)
    sent = record_requests(provider.w3)
    head = provider.block_number()
    start = provider.deployment.start_block
    submitted = provider.rewards.work_submitted(setup.pool_id, from_block=start, to_block=head)
    assert [e.work_key for e in submitted] == keys
    assert [e.units for e in submitted] == units
    ranges = log_ranges(sent)
    assert ranges[0] == (start, min(start + 10_000 - 1, head))  # the first try: the whole window
    settled = next(i for i, (a, b) in enumerate(ranges) if b - a <= 200)
    assert all(b - a <= 200 for a, b in ranges[settled:])  # never wider once the node took one
    # a window refused for its logs is followed by its first half
    assert any(a == c and d < b for (a, b), (c, d) in zip(ranges[settled:], ranges[settled + 1 :], strict=False))

    # the node's own words for both refusals (what the client recognises)
    with pytest.raises(Exception, match=r"maximum \[from, to\] blocks distance: 200"):
        provider.w3.eth.get_logs({"fromBlock": start, "toBlock": start + 201})
    if submitted[3].block_number - submitted[0].block_number <= 200:
        with pytest.raises(Exception, match="query returned more than 3 results"):
            provider.w3.eth.get_logs(
                {
                    "address": provider.rewards.address,
                    "fromBlock": submitted[0].block_number,
                    "toBlock": submitted[3].block_number,
                }
            )

    sent.clear()
    pairs, invalidated = provider.rewards.work_events(start, head)  # the app's read: both events at once
    assert [e.work_key for e in pairs] == keys and invalidated == []
    assert all(b - a <= 200 for a, b in log_ranges(sent))  # the binding kept the window the node took

    result = provider.rewards.claim(setup.pool_id)
    assert result.amount == sum(units) * 10**6
    assert all(provider.rewards.work(setup.pool_id, setup.node.address, k).state == WorkState.CLAIMED for k in keys)


def test_the_governance_hand_over_finds_a_role_holder_on_a_node_that_refuses_long_ranges(
    make_devnet, contracts_built, tmp_path_factory, monkeypatch: pytest.MonkeyPatch
):
    """`hub deploy --governance` refuses to hand over while a key besides the deployer and the
    federator holds the federator role, found from every RoleGranted log since the deployment. On
    a node that refuses an eth_getLogs range over 200 blocks, with the grant more than 200 blocks
    after the deployment, the check reads the logs in the windows the node takes and still finds
    the key, before anything is sent; once it is revoked, the hand-over finishes and governance
    alone holds the admin and federator roles."""
    from hub.devkeys import dev_account
    from tests.hub.helpers import run_hub
    from tests.session_chain import deploy_world

    chain = _capped_chain(make_devnet, logs_cap=10_000, range_cap=200)
    world = deploy_world(chain, tmp_path_factory)
    for name, value in world.env.items():
        monkeypatch.setenv(name, value)
    client = world.client()
    start = client.deployment.start_block
    wait_until(lambda: client.block_number() > start + 200, 120, "200 blocks after the deployment")
    other = dev_account(5).address
    run_hub("admin", "grant", "federator", other, "--account", "admin")
    # the node refuses the deployment's blocks in one request, as it would refuse a 10,000-block window
    with pytest.raises(Exception, match=r"maximum \[from, to\] blocks distance: 200"):
        client.w3.eth.get_logs({"fromBlock": start, "toBlock": client.block_number()})

    hand_over = ("deploy", "--account", "admin", "--governance", "--voting-period", "10s")
    refused = run_hub(*hand_over, ok=False)
    assert refused.exit_code == 1, refused.output
    assert f"{other} also holds the federator role" in refused.output
    assert "hub admin revoke federator ADDRESS" in refused.output
    # refused before anything was sent: the deployment is still the finished one, which the
    # revoke the refusal names needs
    assert world.client().deployment.governance is None

    run_hub("admin", "revoke", "federator", other, "--account", "admin")
    run_hub(*hand_over)
    after = world.client()
    governance = after.deployment.address("Governance")
    assert after.hub.role_holders("federator") == {governance}
    assert after.hub.role_holders("admin") == {governance}
