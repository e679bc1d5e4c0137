"""Bad inputs to `hub` and `trainer`, each run as a subprocess exactly as a user types it.

Every row must print one line on stderr naming the problem and a fix (`error: ... (hint: ...)`, or
one JSON object with `error` and `hint` under --json), nothing on stdout, exit non-zero, and change
nothing: the chain (nonces and balances of every actor), the keystores, the deployment manifests
and the working folder are compared before and after.

The hub rows run against the session chain and deployment that the chain tests share
(tests/session_chain.py), on a stage of their own: a provider with a node in an active pool that has
submitted work, and a keystore folder of its own (the rows plant corrupt keystores in it, which no
later test may see); `{name}` fields are filled in from that stage.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.hub.helpers import TEST_PASSWORD, node_and_pool, wait_for_next_block_second

if TYPE_CHECKING:
    from tests.session_chain import HubWorld

KEY_HEX = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
BAD_INJ = "inj1wzvhjux9rqfdcwspp37srdgwp5tac7wgplgfdq"  # the last character changed: bad checksum

# (id, command line as typed, what the line must name)
ROWS: list[tuple[str, str, str]] = [
    # -- numbers, ids and addresses
    ("negative pool id", "hub pool show -- -1", "greater than or equal to 0"),
    ("pool id not a number", "hub pool show abc", "Invalid value for 'pool_id'"),
    ("unknown pool", "hub pool show 999", "no pool 999"),
    ("unknown pool, as JSON", "hub --json pool show 999", "no pool 999"),
    ("short address", "hub provider show 0x123", "invalid provider '0x123'"),
    ("bad checksum", "hub provider show 0x70997970c51812dc3A010C7d01b50e0d17dc79C8", "bad checksum"),
    ("inj1 address with a typo", f"hub provider show {BAD_INJ}", "bad checksum"),
    ("amount not a number", "hub provider register --stake abc -a {provider}", "invalid stake 'abc'"),
    ("negative amount", "hub provider register --stake -5 -a {provider}", "invalid stake '-5'"),
    ("zero units", "hub node submit-work {pool} --units 0 --key-text x -a {node}", "greater than or equal to 1"),
    ("port out of range", "hub dashboard --port 99999", "less than or equal to 65535"),
    ("unknown role", "hub admin grant superuser {outsider_address} -a admin", "unknown role 'superuser'"),
    ("malformed work key", "hub node submit-work {pool} --units 10 --work-key 0x12 -a {node}", "invalid work key"),
    ("no work key", "hub node submit-work {pool} --units 10 -a {node}", "give exactly one of --work-key"),
    # -- the command line itself
    ("unknown command", "hub nosuchcmd", "No such command 'nosuchcmd'"),
    ("missing option", "hub pool create", "Missing option '--metadata'"),
    ("unknown network", "hub --network nosuch status", "unknown network 'nosuch'"),
    ("network that does not answer", "hub status --network http://127.0.0.1:9", "cannot reach network"),
    # -- accounts and passwords
    ("keystore containing {}", "hub account address empty", "is corrupt: no valid address field"),
    ("keystore not JSON", "hub account address garbled", "is corrupt: not JSON"),
    ("unlocking a corrupt keystore", "hub provider stake add 1 -a empty", "is corrupt"),
    ("empty HUB_PASSWORD", "HUB_PASSWORD= hub account check {provider}", "HUB_PASSWORD is set but empty"),
    ("no password and no terminal", "env -u HUB_PASSWORD hub account check {provider}", "--password-file"),
    ("empty password file", "hub account check {provider} --password-file empty-password", "is empty"),
    ("wrong password", "HUB_PASSWORD=wrong hub account check {provider}", "wrong password for account"),
    ("account name taken", "hub account new {provider}", "already exists"),
    ("account name with a space", "hub account new 'bad name'", "invalid account name"),
    ("private key as an argument", f"hub account import typed 0x{KEY_HEX}", "never taken on the command line"),
    ("no such dev account", "hub account import --dev 12 dev-twelve", "no dev account 12"),
    ("no such account", "hub provider stake add 1 -a nobody", "no account named 'nobody'"),
    # -- deployment manifests
    ("manifest with an empty ABI", "hub status --deployments-dir empty-abi", "has an empty ABI for ComputePool"),
    ("manifest with a wrong address", "hub pool list --deployments-dir wrong-address", "but the hub uses"),
    ("manifest not JSON", "hub status --deployments-dir not-json", "is not valid"),
    ("deploy with changed parameters", "hub deploy --min-stake 99 -a admin", "min_stake_per_compute_unit: deployed"),
    ("deploy with a zero unbonding period", "hub deploy --unbonding-period 0s -a admin", "at least 1 s"),
    # -- pools and their metadata
    (
        "metadata not JSON",
        "hub pool create --metadata notes.txt --budget 1 --reward-per-unit 1 -a {creator}",
        "notes.txt is not JSON",
    ),
    (
        "metadata with an unknown field",
        "hub pool create --metadata unknown.json --budget 1 --reward-per-unit 1 -a {creator}",
        "is invalid at model: unknown field",
    ),
    ("check metadata not JSON", "hub pool metadata check notes.txt", "is not JSON"),
    ("serve metadata not JSON", "hub pool metadata serve notes.txt --port 0", "is not JSON"),
    (
        "metadata URI that serves nothing",
        "hub pool create --metadata pool.json --metadata-uri "
        "http://127.0.0.1:9/pool.json --budget 1 --reward-per-unit 1 -a {creator}",
        "does not serve this file",
    ),
    (
        "metadata URI scheme",
        "hub pool create --metadata pool.json --metadata-uri ftp://host/pool.json --budget 1 "
        "--reward-per-unit 1 -a {creator}",
        "unsupported metadata URI",
    ),
    (
        "bad duration",
        "hub pool create --metadata pool.json --budget 1 --reward-per-unit 1 --challenge-window soon -a {creator}",
        "invalid challenge window 'soon'",
    ),
    # -- who signs
    (
        "work signed by the provider",
        "hub node submit-work {pool} --units 10 --key-text x -a {provider}",
        "is a provider, not a node key",
    ),
    (
        "claim of another provider's work",
        "hub rewards claim {pool} --work-key {key} -a {creator}",
        "belongs to provider {provider_address}",
    ),
    ("deregister without --yes and no terminal", "hub provider deregister -a {provider}", "pass --yes"),
    ("devnet reset without --yes and no terminal", "hub devnet reset --home no-devnet", "pass --yes"),
    ("blacklist without --yes", "hub validator blacklist {provider_address} -a validator", "pass --yes"),
    ("pool blacklist without --yes", "hub pool blacklist-node {pool} {node_address} -a {creator}", "pass --yes"),
    # -- the trainer
    ("trainer: negative GPU memory", "trainer doctor --gpu-memory-gb -1", "--gpu-memory-gb"),
    ("trainer: negative learning rate", "trainer train --lr -1", "lr"),
    ("trainer: unknown averaging", "trainer train --averaging foo", "averaging"),
    ("trainer: missing data file", "trainer train --data /nonexistent/corpus.txt", "does not exist"),
    ("trainer: join without a pool", "trainer join", "--pool-id"),
    ("trainer: generate without a checkpoint", "trainer generate", "--checkpoint"),
    ("trainer: progress without a run", "trainer progress", "--run-id"),
    ("trainer: unknown command", "trainer nosuchcmd", "No such command 'nosuchcmd'"),
]


@pytest.fixture(autouse=True)
def _isolated_user_dirs(isolated_user_dirs: None) -> None:
    """No row reads or writes the developer's keystores, config or devnet."""


@dataclass
class Stage:
    world: HubWorld  # the session deployment, with the stage's own keystore folder
    fill: dict[str, str]
    accounts: list[str]
    workdir: Path
    env: dict[str, str]


def _write_manifest(directory: Path, manifest: dict) -> None:
    directory.mkdir()
    (directory / "777.json").write_text(json.dumps(manifest))


@pytest.fixture(scope="module")
def stage(hub_world: HubWorld, tmp_path_factory) -> Stage:
    from hub.client import make_work_key

    workdir = tmp_path_factory.mktemp("bad-inputs")
    w = hub_world.with_own_keystores(tmp_path_factory.mktemp("bad-inputs-keystores"))
    setup = node_and_pool(w, "b", {"run_id": "bad-inputs", "train": {"model": "tiny"}}, workdir)
    setup.approve()
    setup.join_and_start()
    provider, creator, node = setup.provider, setup.creator, setup.node
    outsider = w.actor("b-outsider")
    wait_for_next_block_second(setup.as_node)  # the work-rate cap allows nothing in the join's second
    key = make_work_key(setup.pool_id, "peer", 1)
    setup.as_node.pool.submit_work(setup.pool_id, key, 10)

    # the files the rows name
    (workdir / "notes.txt").write_text("train the tiny model please")
    (workdir / "unknown.json").write_text('{"run_id": "x", "model": "tiny-llama"}')
    (workdir / "empty-password").write_text("\n")
    (w.keystore_dir / "empty.json").write_text("{}")
    (w.keystore_dir / "garbled.json").write_text("not a keystore")
    manifest = json.loads((w.deployments_dir / "777.json").read_text())
    broken = json.loads(json.dumps(manifest))
    broken["contracts"]["ComputePool"]["abi"] = []
    _write_manifest(workdir / "empty-abi", broken)
    wrong = json.loads(json.dumps(manifest))
    wrong["contracts"]["ComputePool"]["address"] = manifest["contracts"]["StakeManager"]["address"]
    _write_manifest(workdir / "wrong-address", wrong)
    (workdir / "not-json").mkdir()
    (workdir / "not-json" / "777.json").write_text("{")

    env = {
        **os.environ,
        **w.env,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    for name in ("HUB_DEBUG", "HUB_ACCOUNT", "HUB_NETWORK"):
        env.pop(name, None)
    fill = {
        "provider": provider.name,
        "provider_address": provider.address,
        "creator": creator.name,
        "node": node.name,
        "node_address": node.address,
        "outsider_address": outsider.address,
        "pool": str(setup.pool_id),
        "key": key if isinstance(key, str) else "0x" + key.hex(),
    }
    accounts = [a.address for a in (provider, creator, outsider, node, w.admin, w.validator)]
    return Stage(w, fill, accounts, workdir, env)


def _files(*roots: Path) -> dict[str, str]:
    found = {}
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def _state(stage: Stage) -> tuple:
    w3 = stage.world.client().w3
    chain = [(w3.eth.get_transaction_count(a, "pending"), w3.eth.get_balance(a)) for a in stage.accounts]
    return chain, _files(stage.workdir, stage.world.keystore_dir, stage.world.deployments_dir)


def test_the_table_is_long_enough() -> None:
    assert len(ROWS) >= 40
    assert sum(command.startswith("trainer") for _, command, _ in ROWS) >= 8


@pytest.mark.parametrize(("command", "expected"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_one_line_with_a_fix_nonzero_and_nothing_changed(stage: Stage, command: str, expected: str) -> None:
    typed = command.format(**stage.fill)
    before = _state(stage)
    result = subprocess.run(
        ["bash", "-c", typed],
        cwd=stage.workdir,
        env={**stage.env, "HUB_PASSWORD": TEST_PASSWORD},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode not in (0, None), f"{typed!r} succeeded: {result.stdout}"
    assert result.stdout == "", f"{typed!r} printed on stdout: {result.stdout!r}"
    lines = result.stderr.splitlines()
    assert len(lines) == 1, f"{typed!r} printed {len(lines)} lines:\n{result.stderr}"
    line = lines[0]
    if line.startswith("{"):
        error = json.loads(line)
        assert error["error"] and error["hint"] and error["exit_code"] == result.returncode
        line = f"error: {error['error']} (hint: {error['hint']})"
    assert line.startswith("error: ") and "(hint: " in line, line
    assert expected.format(**stage.fill) in line, line
    assert _state(stage) == before, f"{typed!r} changed something"
