"""The trainer's work receipts against the real chain: sent once, found again after a crash at
any point, kept while the chain is away, merged when they pile up."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.hub.helpers import INJ, TEST_PASSWORD, node_and_pool, wait_for_next_block_second
from trainer.pool.work_queue import WorkQueue, work_key

PEER = "QmTestPeer"


@pytest.fixture
def member(world, tmp_path: Path):
    """A node key in an active pool, as the client the trainer uses."""
    setup = node_and_pool(world, "q", {"run_id": "queue"}, tmp_path)
    setup.approve()
    setup.join_and_start()
    wait_for_next_block_second(setup.as_node)  # the work-rate rule allows nothing in the second the node joined
    return setup.as_node, setup.pool_id


def _nonce(client) -> int:
    return client.w3.eth.get_transaction_count(client.address)


def test_a_receipt_reaches_the_chain_once(member, tmp_path: Path):
    client, pool_id = member
    queue = WorkQueue(tmp_path / "work.json")
    receipt = queue.add(pool_id, PEER, 1, 1, 500)
    assert [r.key for r in queue.flush(client)] == [receipt.key]
    assert client.rewards.work(pool_id, client.address, receipt.key).units == 500
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
    assert client.rewards.work(pool_id, client.address, work_key(pool_id, PEER, 4, 6)).units == 300


def test_a_claim_the_chain_refuses_for_good_is_not_retried(member, world, tmp_path: Path):
    client, pool_id = member
    world.client(world.validator).hub.invalidate_node(client.address)  # out of the pool
    queue = WorkQueue(tmp_path / "work.json")
    queue.add(pool_id, PEER, 7, 7, 100)
    assert queue.flush(client) == []
    [receipt] = WorkQueue(tmp_path / "work.json").receipts
    assert receipt.status == "rejected" and "node not in pool" in receipt.error


# --- the pool's work-rate cap: a node that trains faster than it may claim --------------------------

WALKTHROUGH_RATE = 1000  # `hub deploy`'s default --max-rate
WALKTHROUGH_UNITS = 4  # `hub node attest --units 4` in hub/README.md
WALKTHROUGH_REWARD = 10**14  # --reward-per-unit 0.0001


@pytest.fixture(scope="module")
def walkthrough_domain(hub_world) -> int:
    """A domain whose validation contract has the walkthrough's rate (the session's is far higher)."""
    from hub.build import load_artifact
    from hub.deployer import _encode_constructor

    admin = hub_world.client(hub_world.admin)
    validator = admin.transactor.send(
        None, _encode_constructor(load_artifact("WorkRateValidator"), [WALKTHROUGH_RATE]), action="deploy validator"
    ).contract_address
    return admin.hub.create_domain("walkthrough-rate", validator).domain_id


@pytest.fixture
def walkthrough_member(world, walkthrough_domain, tmp_path: Path):
    """A 4-unit node in an active pool of the walkthrough's domain, with its metadata and run."""
    corpus = Path(__file__).resolve().parents[2] / "trainer" / "training" / "assets" / "corpus.txt"
    setup = node_and_pool(
        world,
        "w",
        lambda node: {
            "run_id": f"walkthrough-{node.address[2:10].lower()}",
            "train": {
                "model": "tiny",
                "data": str(corpus),
                "seq_len": 64,
                "batch_size": 4,
                "target_batch_size": 64,
                "lr": 0.003,
                "warmup_steps": 2,
                "data_shards": 4,
            },
        },
        tmp_path,
        units=WALKTHROUGH_UNITS,
        stake=10 * INJ,
        domain_id=walkthrough_domain,
        budget=10 * INJ,
        reward_per_unit=WALKTHROUGH_REWARD,
    )
    setup.approve()
    setup.join_and_start()
    return {"node": setup.as_node, "provider": setup.as_provider, "pool_id": setup.pool_id, "actor": setup.node}


def _wait_chain_time(client, timestamp: int) -> None:
    """Until a block at or after `timestamp` exists (the chain's clock, not ours)."""
    while client.now() < timestamp:
        time.sleep(0.5)


def test_the_cap_is_read_from_the_pool(walkthrough_member):
    from trainer.pool.work_queue import read_cap

    client, pool_id = walkthrough_member["node"], walkthrough_member["pool_id"]
    cap = read_cap(client, pool_id)
    assert (cap.compute_units, cap.max_rate, cap.per_second) == (4, 1000, 4000)
    assert cap.pool_started_at == client.pool.get(pool_id).started_at > 0


def test_work_beyond_the_cap_is_claimed_up_to_it_and_the_rest_carried(walkthrough_member, tmp_path: Path):
    from trainer.pool.work_queue import read_cap

    client, pool_id = walkthrough_member["node"], walkthrough_member["pool_id"]
    cap = read_cap(client, pool_id)
    # the cap allows nothing in the pool's first second, and counts to a second before the latest block
    _wait_chain_time(client, cap.pool_started_at + 2)
    queue = WorkQueue(tmp_path / "work.json")
    first = queue.add(pool_id, PEER, 1, 1, 10**9)  # far more than 4,000 tokens/s allow
    second = queue.add(pool_id, PEER, 2, 2, 10**9)
    [claimed] = queue.flush(client, cap)
    assert claimed.key == first.key
    on_chain = client.rewards.work(pool_id, client.address, first.key)
    assert on_chain.units == claimed.units == 10**9 - claimed.dropped
    assert 0 < on_chain.units <= cap.per_second * (on_chain.submitted_at - cap.pool_started_at)
    reread = {r.key: r for r in WorkQueue(tmp_path / "work.json").receipts}
    assert reread[first.key].dropped == claimed.dropped and reread[first.key].status == "confirmed"
    assert reread[second.key].status == "pending" and reread[second.key].units == 10**9  # carried, not cut yet


def test_the_carried_backlog_is_bounded_and_says_what_it_dropped(walkthrough_member, tmp_path: Path):
    from trainer.pool.work_queue import MAX_CARRY_EPOCHS, read_cap

    client, pool_id = walkthrough_member["node"], walkthrough_member["pool_id"]
    cap = read_cap(client, pool_id)
    _wait_chain_time(client, cap.pool_started_at + 2)
    queue = WorkQueue(tmp_path / "work.json")
    receipts = [queue.add(pool_id, PEER, epoch, epoch, 10**8) for epoch in range(1, MAX_CARRY_EPOCHS + 4)]
    [claimed] = queue.flush(client, cap)
    by_key = {r.key: r for r in WorkQueue(tmp_path / "work.json").receipts}
    dropped = [by_key[r.key] for r in receipts[:3]]
    assert all(r.status == "dropped" and r.dropped == 10**8 and r.units == 0 and r.error for r in dropped)
    assert claimed.first_epoch == 4 and by_key[claimed.key].status == "confirmed"
    assert [by_key[r.key].status for r in receipts[4:]] == ["pending"] * (MAX_CARRY_EPOCHS - 1)


def test_a_run_that_ends_on_its_own_waits_for_chain_time_to_claim_its_last_epochs(walkthrough_member, tmp_path: Path):
    """The last pass of a run that ended by itself (max epochs) right after a claim: the work-rate
    rule allows nothing in that block second and little in the next, so a pass that does not wait
    leaves the last receipt for a `trainer join` that may never come, or cuts it (a clean-clone CI run
    found the first). It waits for chain time and claims the last epochs whole."""
    import threading

    from trainer.pool.join import Submitter
    from trainer.pool.work_queue import read_cap

    client, pool_id = walkthrough_member["node"], walkthrough_member["pool_id"]
    cap = read_cap(client, pool_id)
    _wait_chain_time(client, cap.pool_started_at + 2)
    # `every` far above the receipts added: the background thread never sends; finish() does
    submitter = Submitter(client, tmp_path / "work.json", every=100, stop_training=threading.Event(), cap=cap)
    submitter.start()
    first = submitter.queue.add(pool_id, PEER, 1, 1, 1000)
    assert [r.key for r in submitter.queue.flush(client, cap)] == [first.key]
    last = submitter.queue.add(pool_id, PEER, 2, 2, 3 * cap.per_second)  # three block seconds' worth
    submitter.finish()
    saved = {r.key: r for r in WorkQueue(tmp_path / "work.json").receipts}
    assert saved[last.key].status == "confirmed" and saved[last.key].dropped == 0
    before = client.rewards.work(pool_id, client.address, first.key)
    after = client.rewards.work(pool_id, client.address, last.key)
    assert after.units == 3 * cap.per_second
    assert after.submitted_at >= before.submitted_at + 3


def test_a_node_with_the_walkthrough_settings_is_paid_for_what_it_trained(walkthrough_member, tmp_path: Path):
    """Real training (tiny LLaMA, one peer) in a pool whose cap the node may exceed: every token
    trained is claimed, dropped with a reason, or waiting in the receipts file; claims are paid."""
    from trainer.pool.join import join_pool

    client, pool_id = walkthrough_member["node"], walkthrough_member["pool_id"]
    summary = join_pool(
        client,
        pool_id,
        tmp_path / "work",
        device="cpu",
        max_epochs=4,
        progress_bar=False,
        host_maddrs=["/ip4/127.0.0.1/tcp/0"],
        num_threads=1,
        checkpoint_every=0,
    )
    trained = summary.training.tokens
    assert trained > 0 and summary.confirmed >= 1 and summary.rejected == []
    assert summary.claimed_tokens + summary.dropped_tokens + summary.waiting_tokens == trained
    works = client.rewards.work_submitted(pool_id, node=client.address)
    assert sum(w.units for w in works) == summary.claimed_tokens > 0
    _wait_chain_time(client, max(w.unlocks_at for w in works))
    provider = walkthrough_member["provider"]
    paid = provider.rewards.claim(pool_id)
    assert paid.amount == summary.claimed_tokens * WALKTHROUGH_REWARD


def test_one_sigint_stops_trainer_join_cleanly_with_the_receipts_saved(walkthrough_member, world, tmp_path: Path):
    """`trainer join` as a user runs it: the first Ctrl+C ends training, the last claim pass runs
    once (no retry loop), the receipts file is complete and the process exits 0 on its own."""
    import os
    import signal
    import subprocess
    import sys

    password = tmp_path / "password"
    password.write_text(TEST_PASSWORD)
    workdir = tmp_path / "work"
    trainer = str(Path(sys.executable).with_name("trainer"))
    env = {
        **os.environ,
        "HUB_KEYSTORE_DIR": str(world.keystore_dir),
        "HF_HUB_OFFLINE": "1",
        "OMP_NUM_THREADS": "1",
        "INJECTIVE_AI_HUB_CACHE": str(tmp_path / "cache"),
    }
    args = [
        trainer,
        "join",
        "--pool-id",
        str(walkthrough_member["pool_id"]),
        "--node-key",
        walkthrough_member["actor"].name,
        "--network",
        world.devnet.rpc_url,
        "--deployments-dir",
        str(world.deployments_dir),
        "--password-file",
        str(password),
        "--workdir",
        str(workdir),
        "--device",
        "cpu",
        "--host-maddrs",
        "/ip4/127.0.0.1/tcp/0",
        "--no-progress-bar",
        "--checkpoint-every",
        "0",
    ]
    log = tmp_path / "join.log"
    with log.open("wb") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env)
        try:
            receipts = (
                workdir / f"work-{world.client().chain_id}-{walkthrough_member['pool_id']}-"
                f"{walkthrough_member['node'].address}.json"
            )
            while not (
                receipts.exists()
                and any(r["status"] == "confirmed" for r in json.loads(receipts.read_text())["receipts"])
            ):
                assert process.poll() is None, log.read_text()
                time.sleep(0.5)  # waiting for an event (a confirmed claim), not for time to pass
            process.send_signal(signal.SIGINT)
            code = process.wait(timeout=180)  # a hang guard only: one signal must be enough
        finally:
            if process.poll() is None:
                process.kill()
    output = log.read_text()
    assert code == 0, output
    assert "stopping after the current step" in output and "Traceback" not in output
    saved = json.loads(receipts.read_text())["receipts"]
    assert saved and {r["status"] for r in saved} <= {"confirmed", "pending", "dropped"}
    on_chain = walkthrough_member["node"].rewards.work_submitted(
        walkthrough_member["pool_id"], node=walkthrough_member["node"].address
    )
    assert sum(w.units for w in on_chain) == sum(r["units"] for r in saved if r["status"] == "confirmed")
