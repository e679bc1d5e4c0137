"""The trainer's work receipts against the real chain: sent once, found again after a crash at
any point, kept while the chain is away, merged when they pile up."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from hub.metadata import publish_metadata
from tests.hub.helpers import INJ, wait_for_next_block_second
from trainer.work_queue import WorkQueue, work_key

PEER = "QmTestPeer"


@pytest.fixture
def member(world, tmp_path: Path):
    """A node key in an active pool, as the client the trainer uses."""
    provider, node, creator = world.actor("q-provider"), world.actor("q-node", fund_wei=INJ), world.actor("q-creator")
    as_provider, as_node, as_creator = (world.client(a) for a in (provider, node, creator))
    validator = world.client(world.validator)
    as_provider.hub.register_provider(5 * INJ)
    as_provider.hub.add_compute_node(as_node.hub.attest_node(provider.address, 2, "ipfs://specs"))
    validator.hub.validate_node(node.address)
    validator.hub.whitelist_provider(provider.address)
    meta = tmp_path / "pool.json"
    meta.write_text(json.dumps({"run_id": "queue"}))
    pool_id = as_creator.pool.create(1, publish_metadata(meta), budget=INJ, reward_per_unit=10**6,
                                     challenge_window=60).value
    as_node.pool.join(as_creator.pool.invite(pool_id, node.address))
    as_creator.pool.start(pool_id)
    wait_for_next_block_second(as_node)  # the work-rate rule allows nothing in the second the node joined
    return as_node, pool_id


def _nonce(client) -> int:
    return client.w3.eth.get_transaction_count(client.address)


def test_a_receipt_reaches_the_chain_once(member, tmp_path: Path):
    client, pool_id = member
    queue = WorkQueue(tmp_path / "work.json")
    receipt = queue.add(pool_id, PEER, 1, 1, 500)
    assert [r.key for r in queue.flush(client)] == [receipt.key]
    assert client.rewards.work(pool_id, receipt.key).units == 500
    nonce = _nonce(client)
    again = WorkQueue(tmp_path / "work.json")  # a restart reads the same file
    assert again.unsettled() == [] and again.flush(client) == []
    assert _nonce(client) == nonce


def test_sent_but_unrecorded_work_is_found_on_chain_not_resent(member, tmp_path: Path):
    client, pool_id = member
    queue = WorkQueue(tmp_path / "work.json")
    receipt = queue.add(pool_id, PEER, 2, 2, 400)
    client.pool.submit_work(pool_id, receipt.key, 400)  # sent, then the process died before recording it
    nonce = _nonce(client)
    assert [r.key for r in WorkQueue(tmp_path / "work.json").flush(client)] == [receipt.key]
    assert _nonce(client) == nonce


def test_recorded_but_unbroadcast_work_is_sent_from_its_record(member, tmp_path: Path):
    client, pool_id = member
    queue = WorkQueue(tmp_path / "work.json")
    receipt = queue.add(pool_id, PEER, 3, 3, 300)
    data = client.pool.contract.encode_abi("submitWork", args=[pool_id, bytes.fromhex(receipt.key[2:]), 300])
    prepared = client.transactor.prepare(client.pool.address, data, action="submit work")
    receipt.status, receipt.tx_hash, receipt.nonce, receipt.raw = "sent", prepared.tx_hash, prepared.nonce, prepared.raw
    queue.save()  # recorded, then the process died before broadcasting
    nonce = _nonce(client)
    done = WorkQueue(tmp_path / "work.json").flush(client)
    assert [r.tx_hash for r in done] == [prepared.tx_hash]
    assert _nonce(client) == nonce + 1


def test_receipts_wait_while_the_chain_is_away_and_merge(member, tmp_path: Path, monkeypatch):
    client, pool_id = member
    queue = WorkQueue(tmp_path / "work.json")
    for epoch in (4, 5, 6):
        queue.add(pool_id, PEER, epoch, epoch, 100)

    def unreachable(*args, **kwargs):
        from hub.errors import HubError

        raise HubError("the node stopped answering: connection refused")

    monkeypatch.setattr(type(client.rewards), "work", unreachable)
    assert queue.flush(client) == []
    monkeypatch.undo()
    pending = WorkQueue(tmp_path / "work.json").unsettled()
    assert [(r.first_epoch, r.last_epoch, r.units, r.status) for r in pending] == [(4, 6, 300, "pending")]
    done = WorkQueue(tmp_path / "work.json").flush(client)
    assert [(r.first_epoch, r.last_epoch) for r in done] == [(4, 6)]
    assert client.rewards.work(pool_id, work_key(pool_id, PEER, 4, 6)).units == 300


def test_a_claim_the_chain_refuses_for_good_is_not_retried(member, world, tmp_path: Path):
    client, pool_id = member
    world.client(world.validator).hub.invalidate_node(client.address)  # out of the pool
    queue = WorkQueue(tmp_path / "work.json")
    queue.add(pool_id, PEER, 7, 7, 100)
    assert queue.flush(client) == []
    [receipt] = WorkQueue(tmp_path / "work.json").receipts
    assert receipt.status == "rejected" and "node not in pool" in receipt.error
