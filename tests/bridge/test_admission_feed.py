"""The admission feed's clock and outage behaviour, with a scripted chain (the real chain's answers
are tested in tests/hub/test_audit_onchain.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from eth_account import Account

from hub.errors import HubError
from trainer.pool.admission_feed import AdmissionFeed
from trainer.pool.binding import sign_binding
from trainer.pool.evidence import EvidenceStore

POOL, CHAIN = 3, 777
NODES = [Account.from_key(bytes([n]) * 32) for n in (0x41, 0x42)]


@dataclass
class _Membership:
    ok: bool

    def problems(self) -> list[tuple[str, str]]:
        return [] if self.ok else [("node is not in pool 3", "join")]


@dataclass
class _Pool:
    members_now: list[str]
    out: set[str] = field(default_factory=set)
    down: bool = False
    reads: int = 0

    def members(self, pool_id: int) -> list[str]:
        self.reads += 1
        if self.down:
            raise HubError("the node stopped answering: connection refused")
        return list(self.members_now)

    def membership(self, pool_id: int, node: str) -> _Membership:
        return _Membership(node not in self.out)


@dataclass
class _Client:
    pool: _Pool


@dataclass
class _Record:
    recent: list
    node: str
    node_signature: str


@dataclass
class _Signed:
    peer_id: str
    record: _Record


def _feed(tmp_path, chain: _Pool, clock: list[float]) -> AdmissionFeed:
    evidence = EvidenceStore(tmp_path, CHAIN, POOL)
    evidence.remember(
        {
            f"QmPeer{i}": _Signed(f"QmPeer{i}", _Record([], n.address, sign_binding(n, CHAIN, POOL, f"QmPeer{i}")))
            for i, n in enumerate(NODES)
        }
    )
    return AdmissionFeed(_Client(chain), POOL, evidence, refresh_seconds=2.0, clock=lambda: clock[0])


def test_the_chain_is_read_at_most_once_per_refresh_and_a_removal_counts_after_it(tmp_path):
    chain, clock = _Pool([n.address for n in NODES]), [0.0]
    feed = _feed(tmp_path, chain, clock)
    assert feed() == {"QmPeer0", "QmPeer1"}
    chain.out.add(NODES[1].address)
    clock[0] = 1.0
    assert feed() == {"QmPeer0", "QmPeer1"} and chain.reads == 1
    clock[0] = 2.0
    assert feed() == {"QmPeer0"} and chain.reads == 2


def test_while_the_chain_is_away_the_last_answer_stands(tmp_path):
    chain, clock = _Pool([NODES[0].address]), [0.0]
    feed = _feed(tmp_path, chain, clock)
    assert feed() == {"QmPeer0"}
    chain.down, clock[0] = True, 5.0
    assert feed() == {"QmPeer0"}
    chain.down, chain.members_now, clock[0] = False, [n.address for n in NODES], 5.0
    assert feed() == {"QmPeer0", "QmPeer1"}  # the failed read did not count as a refresh
