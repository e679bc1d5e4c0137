"""The pool audit and the admission feed against the real local chain.

The aux peer's evidence is written here as its reducer and its DHT reads write it (observation
lines, signed records with node bindings); claims are real `submitWork` transactions, and the
auditor acts with the validator key. Checked: honest nodes are never invalidated or slashed (a
20-epoch claim, a claim made while the aux peer was down and the DHT had forgotten the records, a
node that rejoined after a crash), and a consistent liar is hard-invalidated and its provider
slashed; the admission feed admits exactly the peers of the pool's active nodes.

An outage of an hour cannot be played on a real chain (its clock cannot be warped, and a claim's
challenge window must stay shorter than the chain's unbonding period): the test reproduces the
state such an outage leaves instead, an aux peer with no rounds for the claim's epochs and a DHT
that returns no records.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

from hub.metadata import AuditPolicy, publish_metadata
from tests.hub.helpers import INJ, LOCKED_WINDOW_S, wait_for_next_block_second
from trainer.pool.admission_feed import AdmissionFeed
from trainer.pool.audit import Auditor
from trainer.pool.binding import sign_binding
from trainer.pool.evidence import EvidenceStore
from trainer.pool.work_queue import work_key
from trainer.training.observations import Observation

SEQ, EPOCH, HONEST = 16, 64, 16  # tokens per sample, samples per epoch, samples per honest round
SLASH = INJ // 10
POLICY = AuditPolicy(tolerance=0.05, hard_factor=1.5, slash=SLASH, grace_seconds=0)
STAKE = 5 * INJ


@dataclass
class _Work:
    epoch: int
    tokens: int


@dataclass
class _Record:
    recent: list
    node: str
    node_signature: str


@dataclass
class _Signed:
    peer_id: str
    record: _Record


@dataclass
class Member:
    client: object  # the node key's HubClient
    provider: object
    peer_id: str

    def record(self, pool_id: int, epochs: Iterable[int]) -> _Signed:
        """Its signed progress record as the aux peer reads it from the DHT (its last 16 epochs)."""
        signature = sign_binding(self.client.account, self.client.chain_id, pool_id, self.peer_id)
        recent = [_Work(e, HONEST * SEQ) for e in list(epochs)[-16:]]
        return _Signed(self.peer_id, _Record(recent, self.client.address, signature))

    def claim(self, pool_id: int, first: int, last: int, units: int) -> str:
        key = work_key(pool_id, self.peer_id, first, last)
        wait_for_next_block_second(self.client)  # the work-rate rule counts from the last claim's second
        self.client.pool.submit_work(pool_id, key, units)
        return key


@pytest.fixture
def pool(world, tmp_path: Path):
    """An active pool with two nodes of two providers, and the validator's client."""
    from hub.client.scenario import ClientSteps, NodePlan, PoolPlan, ProviderPlan, Scenario, run

    names = ("honest", "liar")
    providers = [world.client(world.actor(f"a-{name}-provider")) for name in names]
    nodes = [world.client(world.actor(f"a-{name}-node", fund_wei=INJ)) for name in names]
    validator = world.client(world.validator)
    meta = tmp_path / "pool.json"
    meta.write_text(json.dumps({"run_id": "audit"}))
    pool = PoolPlan(1, publish_metadata(meta), budget=INJ, reward_per_unit=10**6, challenge_window=LOCKED_WINDOW_S)
    scenario = Scenario(tuple(ProviderPlan(STAKE, (NodePlan(2),)) for _ in names), (pool,))
    creator = world.client(world.actor("a-creator"))
    (pool_id,) = run(scenario, ClientSteps(providers, [[node] for node in nodes], creator, validator))
    members = [
        Member(node, provider, f"Qm{name.capitalize()}Peer{node.address[2:8]}")
        for name, provider, node in zip(names, providers, nodes, strict=True)
    ]
    return {"id": pool_id, "validator": validator, "honest": members[0], "liar": members[1]}


def _auditor(pool, tmp_path: Path) -> Auditor:
    evidence = EvidenceStore(tmp_path / "aux", pool["validator"].chain_id, pool["id"])
    return Auditor(
        pool["validator"],
        pool["id"],
        POLICY,
        evidence,
        tokens_per_sample=SEQ,
        epoch_samples=EPOCH,
        log_file=tmp_path / "aux" / "audit.jsonl",
    )


def _rounds(auditor: Auditor, epochs: Iterable[int], *contributors: str) -> None:
    """The reducer's lines for these rounds: each contributor accepted with an honest share."""
    auditor.evidence.observations.append(
        Observation(e, peer, HONEST, HONEST, 1.0, 0.1, 0.9, "accepted") for e in epochs for peer in contributors
    )


def _untouched(client, pool_id: int, node: str, key: str) -> bool:
    work = client.rewards.work(pool_id, node, key)
    return work.state.value == "locked" and not work.voided


def test_honest_claims_are_never_invalidated_and_a_consistent_liar_is_slashed(pool, tmp_path: Path):
    pool_id, validator = pool["id"], pool["validator"]
    honest, liar = pool["honest"], pool["liar"]
    auditor = _auditor(pool, tmp_path)
    # epochs 1-20: the honest peer contributes to every round; the liar to none, yet signs records
    _rounds(auditor, range(1, 21), honest.peer_id, "QmBystander")
    for end in range(1, 21):
        auditor.tick({p.peer_id: p.record(pool_id, range(1, end + 1)) for p in (honest, liar)})
    # epochs 21-40: the aux peer is down; the peers train on; when it is back the DHT has forgotten
    # every record (they expire after an hour), and it reduces rounds again from epoch 41. The
    # honest node crashed after epoch 42 and rejoined at 45: rounds 43-44 went on without it.
    _rounds(auditor, range(41, 46), "QmBystander")
    _rounds(auditor, (41, 42, 45), honest.peer_id)
    decisions = {}
    claims = {
        "twenty epochs": honest.claim(pool_id, 1, 20, 20 * HONEST * SEQ),
        "aux down": honest.claim(pool_id, 21, 40, 20 * HONEST * SEQ),
    }
    decisions.update({d.work_key: d for d in auditor.tick({})})
    auditor.tick({honest.peer_id: honest.record(pool_id, (41, 42, 45))})
    claims["rejoined"] = honest.claim(pool_id, 41, 45, 3 * HONEST * SEQ)
    stake_before = validator.stake.stake_of(liar.provider.address)
    lie = liar.claim(pool_id, 1, 20, 20 * HONEST * SEQ)
    decisions.update({d.work_key: d for d in auditor.tick({})})

    assert decisions[claims["twenty epochs"]].verdict == "accept"
    assert decisions[claims["rejoined"]].verdict == "accept"
    assert decisions[claims["aux down"]].verdict in ("accept", "unverified")
    for key in claims.values():
        assert _untouched(validator, pool_id, honest.client.address, key)
    assert validator.stake.stake_of(honest.provider.address) == STAKE

    assert decisions[lie].verdict == "hard" and decisions[lie].verified == 0
    assert validator.rewards.work(pool_id, liar.client.address, lie).voided
    assert validator.stake.stake_of(liar.provider.address) == stake_before - SLASH
    assert validator.pool.active_pool_of(liar.client.address) == 0

    logged = [json.loads(line) for line in (tmp_path / "aux" / "audit.jsonl").read_text().splitlines()]
    assert {item["work_key"] for item in logged} == {*claims.values(), lie}
    scores = json.loads((tmp_path / "aux" / "scores.json").read_text())["peers"]
    assert scores[liar.peer_id]["score"] == 0.0 and scores[liar.peer_id]["claims"]["hard"] == 1
    assert scores[honest.peer_id]["score"] > 0.5 and scores[honest.peer_id]["claims"]["hard"] == 0


def test_a_peer_whose_first_round_closed_without_it_waits_for_evidence_then_is_paid(pool, tmp_path: Path):
    """Its first round closed before it joined (a state download, a slow start): the reducer has
    neither accepted it nor found it silent, so its claim is not judged on that alone; once a round
    accepts it, the missed one is excused and the claim accepted, on chain untouched."""
    pool_id, validator, late = pool["id"], pool["validator"], pool["liar"]  # an honest late starter here
    auditor = _auditor(pool, tmp_path)
    _rounds(auditor, [1], "QmBystander")
    auditor.tick({late.peer_id: late.record(pool_id, [1])})
    key = late.claim(pool_id, 1, 1, HONEST * SEQ)
    assert [d for d in auditor.tick({}) if d.work_key == key] == []  # deferred, nothing sent
    assert _untouched(validator, pool_id, late.client.address, key)
    _rounds(auditor, [2], late.peer_id, "QmBystander")
    decisions = auditor.tick({late.peer_id: late.record(pool_id, [1, 2])})
    assert [d.verdict for d in decisions if d.work_key == key] == ["accept"]
    assert _untouched(validator, pool_id, late.client.address, key)


def test_the_admission_feed_admits_the_peers_of_active_members_only(pool, tmp_path: Path):
    pool_id, validator = pool["id"], pool["validator"]
    honest, liar = pool["honest"], pool["liar"]
    evidence = EvidenceStore(tmp_path / "aux", validator.chain_id, pool_id)
    feed = AdmissionFeed(validator, pool_id, evidence, refresh_seconds=0)
    assert feed() == frozenset()  # members, but no peer has shown its binding yet
    evidence.remember({p.peer_id: p.record(pool_id, range(1, 2)) for p in (honest, liar)})
    assert feed() == {honest.peer_id, liar.peer_id}
    validator.hub.invalidate_node(liar.client.address)  # out of the pool on chain
    assert feed() == {honest.peer_id}
