"""`trainer join` refuses, in one line with the fixing command, a node that may not train in the
pool, and metadata whose bytes differ from the pool's on-chain hash. Real chain, no training."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub.metadata import publish_metadata
from tests.hub.helpers import INJ, TEST_PASSWORD, node_and_pool
from trainer.cli import app as trainer_app


@pytest.fixture
def pool_setup(world, tmp_path: Path):
    setup = node_and_pool(world, "j", {"run_id": "refusals", "train": {"model": "tiny"}}, tmp_path)
    return {
        "world": world,
        "node": setup.node,
        "provider": setup.provider,
        "creator": setup.as_creator,
        "pool_id": setup.pool_id,
        "meta": setup.metadata,
        "as_node": setup.as_node,
    }


def _join(setup, tmp_path: Path):
    password = tmp_path / "password"
    password.write_text(TEST_PASSWORD)
    world = setup["world"]
    return CliRunner().invoke(
        trainer_app,
        [
            "join",
            "--pool-id",
            str(setup["pool_id"]),
            "--node-key",
            setup["node"].name,
            "--network",
            world.devnet.rpc_url,
            "--deployments-dir",
            str(world.deployments_dir),
            "--password-file",
            str(password),
            "--workdir",
            str(tmp_path / "work"),
        ],
        env={"HUB_KEYSTORE_DIR": str(world.keystore_dir)},
    )


def _one_line_error(result) -> str:
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


def test_unvalidated_node_is_told_who_validates(pool_setup, tmp_path: Path):
    line = _one_line_error(_join(pool_setup, tmp_path))
    node = pool_setup["node"].address
    assert line == (
        f"error: cannot train in pool {pool_setup['pool_id']}: node {node} is not validated "
        "(hint: a validator runs `hub validator validate-node`)"
    )


def test_node_outside_the_pool_is_told_how_to_join(pool_setup, tmp_path: Path):
    world = pool_setup["world"]
    validator = world.client(world.validator)
    validator.hub.validate_node(pool_setup["node"].address)
    validator.hub.whitelist_provider(pool_setup["provider"].address)
    pool_setup["creator"].pool.start(pool_setup["pool_id"])
    line = _one_line_error(_join(pool_setup, tmp_path))
    assert line == (
        f"error: cannot train in pool {pool_setup['pool_id']}: node {pool_setup['node'].address} is not "
        f"in pool {pool_setup['pool_id']} (hint: join with an invite: `hub node join --invite FILE`)"
    )


def test_pending_pool_is_named(pool_setup, tmp_path: Path):
    world = pool_setup["world"]
    validator = world.client(world.validator)
    validator.hub.validate_node(pool_setup["node"].address)
    validator.hub.whitelist_provider(pool_setup["provider"].address)
    creator, as_node = pool_setup["creator"], pool_setup["as_node"]
    as_node.pool.join(creator.pool.invite(pool_setup["pool_id"], as_node.address))
    line = _one_line_error(_join(pool_setup, tmp_path))
    assert line == (
        f"error: cannot train in pool {pool_setup['pool_id']}: pool {pool_setup['pool_id']} has not "
        "started (hint: its creator runs `hub pool start`)"
    )


def test_metadata_hash_mismatch_is_refused(pool_setup, tmp_path: Path):
    world = pool_setup["world"]
    validator = world.client(world.validator)
    validator.hub.validate_node(pool_setup["node"].address)
    validator.hub.whitelist_provider(pool_setup["provider"].address)
    creator, as_node = pool_setup["creator"], pool_setup["as_node"]
    as_node.pool.join(creator.pool.invite(pool_setup["pool_id"], as_node.address))
    creator.pool.start(pool_setup["pool_id"])
    pool_setup["meta"].write_text(json.dumps({"run_id": "someone-else", "train": {"model": "tiny"}}))
    line = _one_line_error(_join(pool_setup, tmp_path))
    assert line.startswith(f"error: pool {pool_setup['pool_id']}'s metadata: ")
    assert "hash" in line
    assert not (tmp_path / "work").exists() or not any((tmp_path / "work").iterdir())


def test_the_walkthrough_metadata_the_hub_accepts_is_the_nodes_run(tmp_path: Path):
    """One schema: the document hub/README.md's walkthrough creates its pool with becomes a run."""
    import re

    from trainer.pool.run_config import parse_metadata, train_config

    readme = (Path(__file__).resolve().parents[2] / "hub" / "README.md").read_text()
    document = re.search(r"cat > pool.json <<'EOF'\n(.*?)\nEOF", readme, re.S).group(1)
    config = train_config(parse_metadata(document.encode(), 1), checkpoint_dir=tmp_path)
    assert (config.run_id, config.model, config.seq_len) == ("walkthrough", "tiny", 64)


def test_metadata_served_over_http_is_fetched_and_checked(pool_setup, tmp_path: Path):
    """A node on another machine reads the pool's document from an http:// URI (here `hub pool
    metadata serve`'s server), verified against the on-chain hash."""
    from hub.metadata import make_metadata_server, metadata_hash
    from tests.utils.serving import serving
    from trainer.pool.join import pool_metadata

    meta = tmp_path / "served.json"
    meta.write_text(json.dumps({"run_id": "served", "train": {"model": "tiny"}}))
    with serving(make_metadata_server(meta, host="127.0.0.1", port=0)) as origin:
        uri = f"{origin}/0x{metadata_hash(meta.read_bytes()).hex()}.json"
        creator = pool_setup["creator"]
        pool_id = creator.pool.create(
            1, publish_metadata(meta, uri=uri), budget=INJ, reward_per_unit=10**6, challenge_window=2
        ).pool_id
        assert pool_metadata(pool_setup["as_node"], pool_id).run_id == "served"
