"""Bad inputs: each gives one line naming the problem (and the fix), a non-zero exit, and sends nothing.

A module-scoped stage (a provider with two validated nodes, one in an active pool with a locked work
key) gives every case something real to fail against. Around each case the nonces and balances of
every actor, the provider's stake and the pool's budget are compared: nothing may move.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from hub import signatures
from hub.client import PoolInvite
from hub.metadata import publish_metadata
from hub.signatures import NO_DEADLINE
from tests.hub.helpers import INJ, LOCKED_WINDOW_S, run_hub, wait_for_next_block_second

ZERO = "0x" + "0" * 40


@dataclass
class Stage:
    provider: object
    node: object
    node2: object
    outsider: object
    poor: object
    creator: object
    pool_id: int
    work_key: str
    files: dict[str, Path]

    def actors(self) -> list:
        return [self.provider, self.node, self.node2, self.outsider, self.poor, self.creator]


@pytest.fixture(scope="module")
def stage(hub_world, tmp_path_factory) -> Stage:
    world = hub_world
    files_dir = tmp_path_factory.mktemp("failure-files")
    provider = world.actor("f-provider")
    node, node2 = world.actor("f-node", fund_wei=INJ), world.actor("f-node", fund_wei=INJ)
    outsider, poor = world.actor("f-outsider"), world.actor("f-poor", fund_wei=0)
    creator = world.actor("f-creator")
    as_provider = world.client(provider)
    validator = world.client(world.validator)
    as_provider.hub.register_provider(5 * INJ)
    for key in (node, node2):
        as_provider.hub.add_compute_node(world.client(key).hub.attest_node(provider.address, 2, ""))
        validator.hub.validate_node(key.address)
    validator.hub.whitelist_provider(provider.address)

    meta = files_dir / "meta.json"
    meta.write_text('{"run_id": "failures"}')
    pools = world.client(creator).pool
    pool_id = pools.create(
        1, publish_metadata(meta), budget=INJ, reward_per_unit=10**9, challenge_window=LOCKED_WINDOW_S
    ).pool_id
    pools.start(pool_id)
    as_provider.pool.join(pools.invite(pool_id, node.address))
    wait_for_next_block_second(world.client())
    work_key = "0x" + "ab" * 32
    world.client(node).pool.submit_work(pool_id, work_key, 10)

    files = {"meta": meta}
    big = files_dir / "big.json"
    big.write_text(json.dumps({"run_id": "big", "description": "x" * 400}))
    files["big"] = big
    # a node key attests 100 compute units: far more than the provider's stake covers
    greedy = world.actor("f-greedy-node", fund_wei=0)
    files["greedy"] = _write(files_dir / "greedy.json", world.client(greedy).hub.attest_node(provider.address, 100, ""))
    fresh = world.actor("f-fresh-node", fund_wei=0)
    files["foreign"] = _write(files_dir / "foreign.json", world.client(fresh).hub.attest_node(provider.address, 1, ""))
    now = world.client().now()
    files["expired"] = _write(files_dir / "expired.json", pools.invite(pool_id, node2.address, deadline=now - 10))
    # an invite for node2 signed by the outsider instead of the pool's manager
    nonce = pools.invite_nonce(node2.address)
    typed = signatures.pool_invite(pools.client.chain_id, pools.address, pool_id, node2.address, nonce, NO_DEADLINE)
    bad = PoolInvite(
        chain_id=pools.client.chain_id,
        pool_contract=pools.address,
        pool_id=pool_id,
        node=node2.address,
        nonce=nonce,
        deadline=NO_DEADLINE,
        signature="0x" + signatures.sign(outsider.account, typed).hex(),
    )
    files["forged"] = _write(files_dir / "forged.json", bad)
    garbage = files_dir / "garbage.txt"
    garbage.write_text("not an invite")
    files["garbage"] = garbage
    files["empty_dir"] = files_dir / "no-deployments"
    # the node's next submission is past its rate limit, so only the work key is wrong
    wait_for_next_block_second(world.client())
    return Stage(provider, node, node2, outsider, poor, creator, pool_id, work_key, files)


def _write(path: Path, message) -> Path:
    path.write_text(message.model_dump_json())
    return path


def _flip_case(address: str) -> str:
    body = address[2:]
    flipped = "".join(c.lower() if c.isupper() else c.upper() for c in body)
    return "0x" + flipped if flipped != body.lower() and flipped != body.upper() else "0x" + body.swapcase()


# (id, argv, expected text, env) with {placeholders} filled from the stage
CASES = [
    ("amount not a number", "provider stake add lots -a {provider}", "invalid stake 'lots'", None),
    ("amount too precise", "provider stake add 0.0000000000000000001 -a {provider}", "at most 18 decimals", None),
    ("amount zero", "provider stake add 0 -a {provider}", "stake must be more than zero", None),
    ("fractional wei", "provider stake add 1.5wei -a {provider}", "wei are whole numbers", None),
    ("short address", "validator whitelist 0x1234 -a validator", "invalid provider '0x1234'", None),
    ("bad checksum", "validator whitelist {flipped} -a validator", "bad checksum", None),
    ("zero address", f"validator whitelist {ZERO} -a validator", "the zero address", None),
    ("unknown network", "status --network nowhere", "unknown network 'nowhere'", None),
    ("unreachable rpc", "status --network http://127.0.0.1:9", "cannot reach network", None),
    ("wrong chain id", "status --network injective-testnet", "chain id mismatch", None),
    ("missing deployment", "status --deployments-dir {empty_dir}", "no deployment for chain 777", None),
    ("wrong password", "provider stake add 1 -a {provider}", "wrong password for account", {"HUB_PASSWORD": "nope"}),
    ("no such account", "provider stake add 1 -a ghost", "no account named 'ghost'", None),
    ("inj1 address with a typo", "provider show inj1wzvhjux9rqfdcwspp37srdgwp5tac7wgplgfdq", "bad checksum", None),
    (
        "submit-work signed by the provider",
        "node submit-work {pool} --units 10 --key-text x -a {provider}",
        "is a provider, not a node key",
        None,
    ),
    ("insufficient balance", "provider register --stake 1 -a {poor}", "insufficient balance", None),
    ("stake below minimum", "provider register --stake 0.5 -a {outsider}", "is below the minimum 1 INJ", None),
    ("node stake too low", "provider node add --attestation {greedy} -a {provider}", "needed with 100 more", None),
    ("missing role (revert)", "validator validate-node {node2} -a {outsider}", "AccessControl: missing role", None),
    ("reclaim below minimum", "provider stake reclaim 4 -a {provider}", "below the minimum 5 INJ", None),
    ("nothing to withdraw", "provider stake withdraw -a {provider}", "has nothing unbonding", None),
    ("attestation for another", "provider node add --attestation {foreign} -a {outsider}", "names provider", None),
    ("expired invite", "node join --invite {expired} -a {provider}", "has expired", None),
    ("forged invite (revert)", "node join --invite {forged} -a {provider}", "not signed by the pool manager", None),
    ("invite by non-manager", "pool invite {pool} {node2} -a {provider}", "only the pool's manager", None),
    (
        "work by a node key outside the pool",
        "node submit-work {pool} --units 10 --key-text x -a {node2}",
        "is a node key but not a member of pool",
        None,
    ),
    (
        "duplicate work key (revert)",
        "node submit-work {pool} --units 10 --work-key {key} -a {node}",
        "work key already used",
        None,
    ),
    (
        "malformed work key",
        "validator invalidate-work {pool} {node_address} 0x1234 -a validator",
        "invalid work key",
        None,
    ),
    ("nothing to claim", "rewards claim -a {outsider}", "nothing to claim", None),
    (
        "missing metadata file",
        "pool create --metadata /nonexistent.json --budget 1 --reward-per-unit 1 -a {creator}",
        "cannot read metadata file",
        None,
    ),
    (
        "window out of range",
        "pool create --metadata {meta} --budget 1 --reward-per-unit 1 --challenge-window 31d -a {creator}",
        "challenge window must be 1 s to 30 days",
        None,
    ),
    (
        "bad duration",
        "pool create --metadata {meta} --budget 1 --reward-per-unit 1 --challenge-window soon -a {creator}",
        "invalid challenge window 'soon'",
        None,
    ),
    (
        "data uri too long",
        "pool create --metadata {big} --inline --budget 1 --reward-per-unit 1 -a {creator}",
        "a pool stores at most 256",
        None,
    ),
    ("unknown role", "admin grant superuser {outsider_address} -a admin", "unknown role 'superuser'", None),
    ("unknown pool", "pool show 999", "no pool 999", None),
    ("deregister with nodes", "provider deregister --yes -a {provider}", "still has 2 node(s)", None),
    ("invite not json", "node join --invite {garbage} -a {provider}", "is not a valid pool invite", None),
    ("start by non-creator", "pool start {pool} -a {outsider}", "is not the creator of pool", None),
    (
        "hard invalidation by manager (revert)",
        "validator invalidate-work {pool} {node_address} {key} --hard -a {creator}",
        "caller is not a validator",
        None,
    ),
    ("usage error", "pool show abc", "Invalid value for 'pool_id'", None),
]


def _snapshot(world, stage: Stage) -> tuple:
    client = world.client()
    w3 = client.w3
    accounts = [a.address for a in stage.actors()] + [world.admin.address, world.validator.address]
    return (
        [
            (w3.eth.get_transaction_count(a), w3.eth.get_transaction_count(a, "pending"), w3.eth.get_balance(a))
            for a in accounts
        ],
        client.stake.info(stage.provider.address),
        client.rewards.budget(stage.pool_id),
        client.pool.get(stage.pool_id),
        client.registry.provider(stage.provider.address),
    )


def test_the_table_has_enough_cases() -> None:
    assert len(CASES) >= 25


@pytest.mark.parametrize(("argv", "expected", "env"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_nonzero_and_sends_nothing(world, stage: Stage, argv, expected, env) -> None:
    fill = {
        "provider": stage.provider.name,
        "outsider": stage.outsider.name,
        "poor": stage.poor.name,
        "creator": stage.creator.name,
        "node": stage.node.name,
        "node_address": stage.node.address,
        "node2": stage.node2.address,
        "outsider_address": stage.outsider.address,
        "flipped": _flip_case(stage.provider.address),
        "pool": stage.pool_id,
        "key": stage.work_key,
        **{name: str(path) for name, path in stage.files.items()},
    }
    if argv.startswith("node submit-work") and "{node2}" in argv:
        fill["node2"] = stage.node2.name
    before = _snapshot(world, stage)
    result = run_hub(*argv.format(**fill).split(), ok=False, env=env)
    assert result.exit_code != 0
    assert result.output.startswith("error: ") and result.output.count("\n") == 1, result.output
    assert expected in result.output
    assert result.stdout == ""
    assert _snapshot(world, stage) == before


def test_a_group_alone_shows_its_help_not_an_error() -> None:
    result = run_hub("provider", ok=False)
    assert "Usage: hub provider" in result.output and "register" in result.output
    assert not result.output.startswith("error:")
