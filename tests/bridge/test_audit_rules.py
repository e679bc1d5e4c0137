"""The audit's rules, the node-peer binding and the pool metadata, without a chain or a swarm."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from eth_account import Account

from trainer.errors import TrainerError
from trainer.pool.audit import Claim, judge, match_epochs, peers_by_node
from trainer.pool.binding import bound_node, sign_binding
from trainer.pool.run_config import AuditPolicy, parse_metadata, train_config
from trainer.pool.work_queue import work_key

POOL, CHAIN, PEER = 7, 777, "QmPeerOne"
NODE = Account.from_key(b"\x31" * 32)
POLICY = AuditPolicy(tolerance=0.05, hard_factor=1.5, slash=10**18, grace_seconds=0)


@dataclass
class _Work:
    epoch: int
    tokens: int


@dataclass
class _Record:
    recent: list
    time: float = 0.0
    epoch: int = 0
    node: str | None = None
    node_signature: str | None = None


@dataclass
class _Signed:
    peer_id: str
    record: _Record


def _signed(tokens: dict[int, int], peer=PEER, node=NODE) -> _Signed:
    record = _Record(
        [_Work(e, t) for e, t in tokens.items()],
        epoch=max(tokens),
        node=node.address,
        node_signature=sign_binding(node, CHAIN, POOL, peer),
    )
    return _Signed(peer, record)


def _claim(first: int, last: int, units: int, peer=PEER) -> Claim:
    return Claim(work_key(POOL, peer, first, last), NODE.address, "0xprovider", units, 100, 700)


def test_work_key_binds_pool_peer_and_range():
    keys = {
        work_key(POOL, PEER, 1, 1),
        work_key(POOL + 1, PEER, 1, 1),
        work_key(POOL, "QmOther", 1, 1),
        work_key(POOL, PEER, 1, 2),
        work_key(POOL, PEER, 2, 2),
    }
    assert len(keys) == 5 and all(k.startswith("0x") and len(k) == 66 for k in keys)


def test_binding_recovers_the_node_and_only_for_its_text():
    signature = sign_binding(NODE, CHAIN, POOL, PEER)
    assert bound_node(signature, CHAIN, POOL, PEER) == NODE.address
    assert bound_node(signature, CHAIN, POOL, "QmOther") != NODE.address
    assert bound_node(signature, CHAIN + 1, POOL, PEER) != NODE.address
    assert bound_node("0x1234", CHAIN, POOL, PEER) is None


def test_peers_by_node_drops_forged_bindings():
    honest = _signed({1: 100})
    thief = _signed({1: 100}, peer="QmThief")
    thief.record.node_signature = honest.record.node_signature  # copied from the honest peer's record
    bound = peers_by_node({PEER: honest, "QmThief": thief}, CHAIN, POOL)
    assert bound == {NODE.address: honest}


def test_match_epochs_finds_single_and_range_keys():
    reported = {3: 10, 4: 10, 5: 10}
    assert match_epochs(POOL, PEER, work_key(POOL, PEER, 4, 4), reported) == (4, 4)
    assert match_epochs(POOL, PEER, work_key(POOL, PEER, 3, 5), reported) == (3, 5)
    assert match_epochs(POOL, PEER, work_key(POOL, PEER, 9, 9), reported) is None


@pytest.mark.parametrize(
    "units,verdict",
    [(1000, "accept"), (1050, "accept"), (1051, "soft"), (1500, "soft"), (1501, "hard"), (10**9, "hard")],
)
def test_judge_thresholds(units, verdict):
    decision = judge(_claim(2, 2, units), _signed({1: 7, 2: 1000}), POOL, POLICY)
    assert (decision.verdict, decision.reported, decision.claimed, decision.epochs) == (verdict, 1000, units, [2])


def test_judge_range_claim_sums_its_epochs():
    decision = judge(_claim(1, 3, 3000), _signed({1: 1000, 2: 1000, 3: 1000}), POOL, POLICY)
    assert (decision.verdict, decision.reported, decision.epochs) == ("accept", 3000, [1, 2, 3])


def test_judge_without_any_record_is_hard():
    decision = judge(_claim(1, 1, 5), None, POOL, POLICY)
    assert (decision.verdict, decision.reported) == ("hard", 0)


def test_judge_claim_for_epochs_never_reported_is_hard():
    decision = judge(_claim(9, 9, 5), _signed({1: 1000}), POOL, POLICY)
    assert decision.verdict == "hard" and "matches no epoch" in decision.reason


def _metadata(**changes) -> bytes:
    doc = {
        "run_id": "pool-7",
        "bootstrap_peers": ["/ip4/127.0.0.1/tcp/4000/p2p/QmAux"],
        "train": {"model": "tiny", "seq_len": 64, "target_batch_size": 16, "lr": 0.002},
        "audit": {"tolerance": 0.1, "slash": "5"},
    }
    doc.update(changes)
    return json.dumps(doc).encode()


def test_metadata_becomes_the_nodes_train_config(tmp_path):
    meta = parse_metadata(_metadata(), POOL)
    assert meta.audit.slash == 5 and meta.audit.tolerance == 0.1
    config = train_config(meta, checkpoint_dir=tmp_path, initial_peers=["/ip4/10.0.0.1/tcp/1/p2p/QmMine"])
    assert (config.run_id, config.model, config.seq_len, config.target_batch_size) == ("pool-7", "tiny", 64, 16)
    assert config.initial_peers == ["/ip4/10.0.0.1/tcp/1/p2p/QmMine", "/ip4/127.0.0.1/tcp/4000/p2p/QmAux"]
    assert config.checkpoint_dir == tmp_path


@pytest.mark.parametrize(
    "data,message",
    [
        (b"not json", "is not JSON"),
        (_metadata(run_id="bad id!"), "invalid at run_id"),
        (_metadata(train={"checkpoint_dir": "/tmp/x"}), "training settings a pool cannot set: checkpoint_dir"),
        (_metadata(audit={"hard_factor": 0.5}), "invalid at audit.hard_factor"),
    ],
)
def test_bad_metadata_is_one_line(data, message):
    with pytest.raises(TrainerError, match=message):
        parse_metadata(data, POOL)
