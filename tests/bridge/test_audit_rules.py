"""The audit's rules, the evidence store, the node-peer binding and the pool metadata, without a
chain or a swarm: observations are written as the pool's reducer writes them."""

from __future__ import annotations

import dataclasses
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account import Account

from trainer.errors import TrainerError
from trainer.pool.audit import Claim, judge
from trainer.pool.binding import bound_node, sign_binding
from trainer.pool.evidence import (
    AHEAD_EPOCHS,
    EPOCH_LEAD,
    OBSERVATIONS_FILE,
    PLACED_EPOCHS,
    RECORDS_FILE,
    SILENT_ROUNDS,
    EvidenceStore,
    epoch_liars,
    sign_flippers,
)
from trainer.pool.run_config import AuditPolicy, parse_metadata, train_config
from trainer.pool.work_queue import work_key
from trainer.training.observations import ATTEMPTS_FILE, JoinAttempt, Observation
from trainer.training.vouched_state import StateCheck

POOL, CHAIN, PEER = 7, 777, "QmPeerOne"
NODE = Account.from_key(b"\x31" * 32)
POLICY = AuditPolicy(tolerance=0.05, hard_factor=1.5, slash=10**18, grace_seconds=0)
SEQ = 10  # tokens per sample
EPOCH = 100  # samples in an epoch (the run's target batch)
HONEST = 25  # samples an honest peer adds to an epoch (a quarter: four peers)


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


def _obs(epoch: int, peer: str = PEER, samples: float = HONEST, verdict: str = "accepted") -> Observation:
    dropped = verdict in ("dropped_nonfinite", "dropped_norm", "not_admitted")
    return Observation(epoch, peer, samples, 0.0 if dropped else samples, 1.0, None, None, verdict)


def _store(tmp_path, records: dict[int, int], rounds: dict[int, list[Observation]]) -> EvidenceStore:
    """An aux peer's evidence: the peer's signed records (fed 16 epochs at a time, as the DHT holds
    them) and the reducer's rounds, each with an honest bystander so every listed round exists."""
    store = EvidenceStore(tmp_path, CHAIN, POOL)
    epochs = sorted(records)
    for end in range(len(epochs)):
        store.remember({PEER: _signed({e: records[e] for e in epochs[max(0, end - 15) : end + 1]})})
    for epoch, observations in sorted(rounds.items()):
        store.observations.append([_obs(epoch, "QmBystander"), *observations])
    store.refresh()
    return store


def _claim(first: int, last: int, units: int, peer=PEER) -> Claim:
    return Claim(work_key(POOL, peer, first, last), NODE.address, "0xprovider", units, 100, 700)


def _judge(store: EvidenceStore, claim: Claim):
    [peer] = store.peers_of(claim.node)
    span = store.match(peer, claim.work_key)
    found = None if span is None else store.range_evidence(peer, *span, EPOCH)
    return judge(claim, found, POLICY, SEQ, EPOCH * SEQ)


def _honest(first: int, last: int) -> tuple[dict[int, int], dict[int, list[Observation]]]:
    epochs = range(first, last + 1)
    return {e: HONEST * SEQ for e in epochs}, {e: [_obs(e)] for e in epochs}


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


def test_the_store_keeps_only_bindings_that_verify(tmp_path):
    honest = _signed({1: 100})
    thief = _signed({1: 100}, peer="QmThief")
    thief.record.node_signature = honest.record.node_signature  # copied from the honest peer's record
    store = EvidenceStore(tmp_path, CHAIN, POOL)
    store.remember({PEER: honest, "QmThief": thief})
    assert store.bindings() == {PEER: NODE.address}


def test_keys_of_single_epochs_and_of_ranges_longer_than_a_dht_record_are_found(tmp_path):
    store = _store(tmp_path, *_honest(1, 40))
    assert store.match(PEER, work_key(POOL, PEER, 4, 4)) == (4, 4)
    assert store.match(PEER, work_key(POOL, PEER, 3, 25)) == (3, 25)
    assert store.match(PEER, work_key(POOL, PEER, 1, 40)) == (1, 40)
    assert store.match(PEER, work_key(POOL, PEER, 41, 41)) is None


def test_evidence_survives_a_restart_of_the_aux_peer(tmp_path):
    _store(tmp_path, *_honest(1, 20))
    again = EvidenceStore(tmp_path, CHAIN, POOL)  # nothing from the DHT: its records expired
    again.refresh()
    assert again.peers_of(NODE.address) == [PEER]
    decision = _judge(again, _claim(1, 20, 20 * HONEST * SEQ))
    assert (decision.verdict, decision.verified, decision.reported) == ("accept", 20 * HONEST * SEQ, 20 * HONEST * SEQ)


@pytest.mark.parametrize(
    "units,verdict",
    [(250, "accept"), (325, "accept"), (326, "soft"), (375, "soft"), (376, "hard"), (10**9, "hard")],
)
def test_a_fully_observed_claim_is_judged_by_what_the_reducer_accepted(tmp_path, units, verdict):
    """250 tokens verified: accepted up to 5% tolerance plus a quarter for samples fed while the
    round formed (325); above, the reward is withheld; above 1.5x what the peer's own signed record
    states (375), it contradicts its signer: hard."""
    store = _store(tmp_path, {1: 70, 2: 250}, {1: [_obs(1)], 2: [_obs(2)]})
    decision = _judge(store, _claim(2, 2, units))
    assert (decision.verdict, decision.verified, decision.claimed, decision.epochs) == (verdict, 250, units, [2])


def test_an_honest_claim_of_twenty_epochs_is_accepted(tmp_path):
    """submit_every_epochs >= 17, or a chain outage: longer than the 16 epochs a DHT record holds."""
    store = _store(tmp_path, *_honest(1, 20))
    decision = _judge(store, _claim(1, 20, 20 * HONEST * SEQ))
    assert decision.verdict == "accept" and decision.epochs == list(range(1, 21))


def test_a_claim_the_aux_peer_saw_no_round_of_is_never_slashed(tmp_path):
    """The aux peer was down for every epoch of the claim. Its stored records of the peer back the
    claim; over epochs it holds no record of (the DHT forgot them), nothing is done."""
    records, rounds = _honest(1, 30)
    down = {e: r for e, r in rounds.items() if e <= 5}
    store = _store(tmp_path / "a", records, down)
    assert _judge(store, _claim(6, 30, 25 * HONEST * SEQ)).verdict == "accept"
    # it read records up to epoch 8, went down, and came back when the DHT held epochs 15-30 only
    store = _store(tmp_path / "b", {e: t for e, t in records.items() if e <= 8}, down)
    store.remember({PEER: _signed({e: records[e] for e in range(15, 31)})})
    decision = _judge(store, _claim(6, 30, 25 * HONEST * SEQ))
    assert decision.verdict == "unverified" and "no evidence" in decision.reason
    # and a key it cannot even match (no record of the range's last epoch) is left alone too
    assert _judge(store, _claim(6, 31, 26 * HONEST * SEQ)).verdict == "unverified"


def test_without_rounds_a_claim_above_the_peers_own_records_is_invalidated(tmp_path):
    """A pool without robust aggregation (no reducer observations): the claimant's own signed
    records are the evidence, and a claim three times above them contradicts its signer."""
    records, _ = _honest(1, 4)
    store = _store(tmp_path, records, {})
    assert _judge(store, _claim(1, 4, 4 * HONEST * SEQ)).verdict == "accept"
    assert _judge(store, _claim(1, 1, int(1.2 * HONEST * SEQ))).verdict == "soft"
    assert _judge(store, _claim(2, 2, 3 * HONEST * SEQ)).verdict == "hard"


def test_epochs_the_aux_peer_missed_count_as_whole_epochs(tmp_path):
    """Down in the middle of a claim (epochs 4-17): the claim is accepted; one far above what the
    peer's own records state is still hard."""
    records, rounds = _honest(1, 20)
    store = _store(tmp_path, records, {e: r for e, r in rounds.items() if not 4 <= e <= 17})
    assert _judge(store, _claim(1, 20, 20 * HONEST * SEQ)).verdict == "accept"
    impossible = _judge(store, _claim(1, 20, 6 * HONEST * SEQ + 14 * EPOCH * SEQ * 2))
    assert impossible.verdict == "hard"


def test_a_missed_round_or_a_late_admission_does_not_count_against_a_claim(tmp_path):
    records, rounds = _honest(1, 6)
    rounds[2] = []  # a matchmaking timeout: the round closed without this peer
    rounds[1] = [_obs(1, verdict="not_admitted")]  # its binding had not reached the aux peer yet
    store = _store(tmp_path, records, rounds)
    assert _judge(store, _claim(1, 6, 6 * HONEST * SEQ)).verdict == "accept"


def test_a_node_that_rejoined_after_a_crash_is_paid_for_what_it_trained(tmp_path):
    """Epochs 1-3 trained, unsent; crashed during 4-12 (rounds went on without it); back at 13: its
    receipts merge into one claim over 1-14 that names only the epochs it trained."""
    records, rounds = _honest(1, 14)
    records = {e: t for e, t in records.items() if not 4 <= e <= 12}
    for epoch in range(4, 13):
        rounds[epoch] = []
    store = _store(tmp_path, records, rounds)
    decision = _judge(store, _claim(1, 14, sum(records.values())))
    assert decision.verdict == "accept" and decision.evidence["silent_epochs"] == list(range(4, 13))


def test_a_consistent_liar_that_never_contributed_is_hard(tmp_path):
    """It signs records for work it did not do and claims exactly that: the reducer never saw it."""
    records = {e: HONEST * SEQ for e in range(1, 5)}
    store = _store(tmp_path, records, {e: [] for e in range(1, 5)})
    decision = _judge(store, _claim(1, 1, HONEST * SEQ))
    assert SILENT_ROUNDS <= 4
    assert decision.verdict == "hard" and "never accepted" in decision.reason
    assert decision.reported == decision.claimed and decision.verified == 0


def _timed_store(
    tmp_path, read_at: dict[int, float], rounds: dict[int, float], sent: set[int] = frozenset()
) -> EvidenceStore:
    """An aux peer that read the peer's signed record of each epoch of `read_at` at that time (its
    ledger so far, 16 epochs at most, as the DHT holds it) and reduced a round of each epoch of
    `rounds` at that time, with an honest bystander and, in the epochs of `sent`, the peer."""
    store = EvidenceStore(tmp_path, CHAIN, POOL)
    done: list[int] = []
    for epoch, at in sorted(read_at.items(), key=lambda item: item[1]):
        done.append(epoch)
        signed = _signed({e: HONEST * SEQ for e in done[-16:]})
        signed.record.time = at
        store.remember({PEER: signed}, now=at)
    for epoch, at in sorted(rounds.items(), key=lambda item: item[1]):
        observations = [_obs(epoch, "QmBystander"), *([_obs(epoch)] if epoch in sent else [])]
        store.observations.append([dataclasses.replace(obs, time=at) for obs in observations])
    store.refresh()
    return store


def test_a_peer_that_trained_alone_before_the_swarms_rounds_is_never_slashed(tmp_path):
    """Issue 16: it saw no other peer, ran epochs 0-7 alone in seconds (no averaging: a group of
    one) and stopped; the swarm then reduced rounds 0-7 without it. Those rounds closed while its
    records placed it past them: no silence, its claims are at worst soft (not paid), never hard.
    By epoch number alone (the same evidence without round times) it looked like a liar."""
    lone = {e: 1.0 + e for e in range(8)}
    swarm = {e: 100.0 + 10 * e for e in range(8)}
    store = _timed_store(tmp_path / "timed", lone, swarm)
    assert store.silent_epochs(PEER) == frozenset()
    for epoch in range(8):
        assert _judge(store, _claim(epoch, epoch, HONEST * SEQ)).verdict in ("soft", "unverified")
    # what the aux peer keeps on disk places it the same after a restart
    assert EvidenceStore(tmp_path / "timed", CHAIN, POOL).silent_epochs(PEER) == frozenset()
    untimed = _store(tmp_path / "untimed", {e: HONEST * SEQ for e in range(8)}, {e: [] for e in range(8)})
    assert _judge(untimed, _claim(3, 3, HONEST * SEQ)).verdict == "hard"


def test_a_peer_that_trained_alone_after_the_swarms_rounds_is_never_slashed(tmp_path):
    """The other order: rounds 0-7 closed before its first record, so nothing placed it in them."""
    store = _timed_store(tmp_path, {e: 500.0 + e for e in range(8)}, {e: 100.0 + 10 * e for e in range(8)})
    assert store.silent_epochs(PEER) == frozenset()
    assert all(_judge(store, _claim(e, e, HONEST * SEQ)).verdict != "hard" for e in range(8))


@pytest.mark.parametrize("lead", [1.0, -1.0], ids=["signs-after-each-round", "signs-just-before-each-round"])
def test_a_liar_whose_records_overlap_the_rounds_it_missed_is_hard(tmp_path, lead):
    """It signs the swarm's epochs as they go by (just after each round closes, or in the
    transition race just before) and sends nothing: its own records place it in those rounds."""
    swarm = {e: 100.0 + 10 * e for e in range(1, 9)}
    store = _timed_store(tmp_path, {e: at + lead for e, at in swarm.items()}, swarm)
    silent = store.silent_epochs(PEER)
    # signing after a round, it is placed in a round only once a record of the epoch before is read
    assert silent == frozenset(range(1 if lead < 0 else 2, 9))
    for epoch in sorted(silent):
        decision = _judge(store, _claim(epoch, epoch, HONEST * SEQ))
        assert decision.verdict == "hard" and "never accepted" in decision.reason, decision


def test_a_liar_a_step_ahead_of_the_rounds_it_missed_is_hard(tmp_path):
    """It never waits for a round: it steps as soon as the swarm's samples reach the target, and
    the honest senders' round of that epoch closes seconds later, so it has signed the next epoch
    by then. Still moving on with the swarm, it is placed in those rounds (`AHEAD_EPOCHS`)."""
    swarm = {e: 100.0 + 10 * e for e in range(1, 9)}
    store = _timed_store(tmp_path, {e + AHEAD_EPOCHS: at - 3.0 for e, at in swarm.items()}, swarm)
    # not the last round: its last record (epoch 9) goes on to nothing later
    assert store.silent_epochs(PEER) == frozenset(range(1, 8))
    decision = _judge(store, _claim(3, 3, HONEST * SEQ))
    assert decision.verdict == "hard" and "never accepted" in decision.reason, decision


def test_a_peer_that_stopped_a_step_ahead_is_silent_in_no_round_after_it_stopped(tmp_path):
    """A step ahead of the rounds is placement only while the peer's records go on: once it
    stopped, its last record places it in `PLACED_EPOCHS` rounds at most, fewer than make silence.
    Here it ran a step ahead of rounds 1-4 without sending (silence), signed epoch 6 and stopped;
    the swarm went on to round 12."""
    swarm = {e: 100.0 + 10 * e for e in range(1, 13)}
    store = _timed_store(tmp_path, {e + 1: swarm[e] - 3.0 for e in range(1, 6)}, swarm)
    assert store.silent_epochs(PEER) == frozenset(range(1, 5))
    # it sent rounds 1-4: nothing after it stopped counts, as for any stopped peer
    sent = _timed_store(tmp_path / "sent", {e + 1: swarm[e] - 3.0 for e in range(1, 6)}, swarm, sent={1, 2, 3, 4})
    assert sent.silent_epochs(PEER) == frozenset()


def test_a_stopped_peer_is_placed_in_fewer_rounds_than_make_silence():
    """The bound the rule rests on: the last record of a peer that stopped stays in the DHT, and it
    places the peer in `PLACED_EPOCHS` consecutive rounds at most."""
    assert PLACED_EPOCHS < SILENT_ROUNDS


def test_a_peer_that_rejoined_is_silent_only_where_its_records_place_it(tmp_path):
    """It sent rounds 1-3, crashed during 4-12 (rounds went on, its last record said epoch 3) and
    came back at 13, sending 13-14: no silence in 4-12, and its claim over 1-14 is paid. Back, it
    then signed 15-18 while sending nothing: those rounds are silence (its own records put it
    there), though not hard, as the reducer has accepted its work."""
    swarm = {e: 100.0 + 10 * e for e in range(1, 19)}
    trained = [1, 2, 3, 13, 14, 15, 16, 17, 18]
    store = _timed_store(tmp_path, {e: swarm[e] + 1 for e in trained}, swarm, sent={1, 2, 3, 13, 14})
    assert store.silent_epochs(PEER) == frozenset(range(15, 19))
    assert _judge(store, _claim(1, 14, 5 * HONEST * SEQ)).verdict == "accept"
    assert _judge(store, _claim(15, 18, 4 * HONEST * SEQ)).verdict == "soft"


def test_an_honest_peer_whose_first_rounds_all_closed_without_it_is_never_penalized(tmp_path):
    """As the liar above, the reducer never accepted anything from it; unlike the liar, it asked to
    join each of those rounds (the group closed first on a loaded machine): no silence, no penalty."""
    records = {e: HONEST * SEQ for e in range(1, 5)}
    store = _store(tmp_path, records, {e: [] for e in range(1, 5)})
    for epoch in range(1, 5):
        store.attempts.append(JoinAttempt(PEER, epoch, float(epoch)))
    store.refresh()
    assert store.silent_epochs(PEER) == frozenset()
    for first in range(1, 5):
        decision = _judge(store, _claim(first, first, HONEST * SEQ))
        assert decision.verdict == "accept", decision
    # its requests name its own peer id only: the liar beside it gains nothing from them
    liar = "QmLiar"
    store.remember({liar: _signed(records, peer=liar, node=Account.from_key(b"\x32" * 32))})
    store.refresh()
    assert store.silent_epochs(liar) == frozenset(range(1, 5))


def test_claims_for_rounds_whose_contributions_were_dropped_are_hard(tmp_path):
    records, _ = _honest(1, 3)
    rounds = {e: [_obs(e, verdict="dropped_nonfinite")] for e in range(1, 4)}
    store = _store(tmp_path, records, rounds)
    decision = _judge(store, _claim(1, 3, 3 * HONEST * SEQ))
    assert decision.verdict == "hard" and decision.verified == 0


def test_contributions_the_clip_all_but_removed_are_not_credited(tmp_path):
    """A flipped or noisy gradient lands far outside CenteredClip's radius: it is kept at a small
    scale, i.e. it did not reach the model, and claims for it are backed by nothing."""
    records, _ = _honest(1, 5)
    rounds = {e: [Observation(e, PEER, HONEST, HONEST, 1.0, 9.0, -1.0, "clipped", scale=0.02)] for e in range(1, 4)}
    rounds[5] = [Observation(5, PEER, HONEST, HONEST, 1.0, 0.4, 0.9, "clipped", scale=0.6)]
    store = _store(tmp_path, records, rounds)
    assert _judge(store, _claim(5, 5, HONEST * SEQ)).verdict == "accept"
    decision = _judge(store, _claim(1, 2, 2 * HONEST * SEQ))
    assert decision.verdict != "accept" and decision.verified == 0


def _opposed(*counts: int, compared: int = 3, mode: str = "gradient") -> dict[int, list[Observation]]:
    """One accepted contribution per epoch from 1 on, compared with `compared` other screened-in
    senders and pointing against `counts[i]` of them in epoch i + 1."""
    return {
        e: [
            Observation(
                e, PEER, HONEST, HONEST, 1.0, 0.5, 0.1, "accepted", mode=mode, compared=compared, opposed=opposed
            )
        ]
        for e, opposed in enumerate(counts, 1)
    }


@pytest.mark.parametrize(
    ("opposed", "compared", "flagged"),
    [
        ((3, 3, 3), 3, True),  # three rounds against every other sender
        ((3, 3), 3, False),  # too few rounds to tell
        ((3, 3, 1), 3, False),  # two of three: not more than 2/3
        ((3, 2, 3, 0), 3, True),  # three of four against most others (2 of 3 is most)
        ((1, 0, 2, 1, 0), 3, False),  # an honest peer: opposes the attacker, once drifted past a second peer
        ((1, 1, 1, 1), 1, False),  # rounds of two senders: each opposes the other alike, nothing to tell
    ],
)
def test_a_sign_flipper_points_against_most_other_senders_in_over_two_thirds_of_three_or_more_rounds(
    tmp_path, opposed, compared, flagged
):
    records = {e: HONEST * SEQ for e in range(1, len(opposed) + 1)}
    store = _store(tmp_path, records, _opposed(*opposed, compared=compared))
    rounds = len(opposed) if compared >= 2 else 0
    against = sum(2 * o > compared for o in opposed) if compared >= 2 else 0
    assert (PEER in sign_flippers(store.observations.read())) == flagged
    assert (PEER in store.sign_flippers()) == flagged  # what scores.json publishes
    evidence = store.range_evidence(PEER, 1, len(opposed), EPOCH)
    assert evidence.flipped == ((against, rounds) if flagged else None)
    decision = _judge(store, _claim(1, len(opposed), len(opposed) * HONEST * SEQ))
    if flagged:
        assert decision.verdict == "hard" and "sign flip" in decision.reason
        assert decision.verified == (len(opposed) - against) * HONEST * SEQ  # its rounds against: not credited
    else:
        # an honest peer whose weights drifted is paid all its rounds, those it opposed a peer in too
        assert decision.verdict == "accept" and decision.verified == len(opposed) * HONEST * SEQ


def test_diloco_rounds_never_make_a_sign_flipper(tmp_path):
    """A clean-clone run: an honest DiLoCo peer that applied an outer step alone before it saw the
    swarm pointed against both other honest senders in 3 of 3 rounds (its outer weights stay apart
    from theirs). Pseudo-gradients from different outer weights are not comparable: paid in full."""
    store = _store(tmp_path, {e: HONEST * SEQ for e in range(1, 4)}, _opposed(2, 2, 2, compared=2, mode="diloco"))
    assert PEER not in sign_flippers(store.observations.read()) and PEER not in store.sign_flippers()
    decision = _judge(store, _claim(1, 3, 3 * HONEST * SEQ))
    assert decision.verdict == "accept" and decision.verified == 3 * HONEST * SEQ


def test_a_flippers_claim_over_rounds_with_the_swarm_is_not_hard_for_the_flip(tmp_path):
    store = _store(tmp_path, {e: HONEST * SEQ for e in range(1, 5)}, _opposed(3, 3, 3, 0))
    decision = _judge(store, _claim(4, 4, HONEST * SEQ))
    assert decision.verdict == "accept" and decision.evidence["sign_flipper"] == [3, 4]


def test_an_honest_peer_cut_off_from_the_reducer_is_never_hard(tmp_path):
    """It contributed, then trained alone for several rounds and claims them: the swarm never got
    that work, so the claim's reward is withheld, but nothing shows it lied: no slash."""
    records, rounds = _honest(1, 8)
    for epoch in range(4, 9):
        rounds[epoch] = []
    store = _store(tmp_path, records, rounds)
    decision = _judge(store, _claim(4, 8, 5 * HONEST * SEQ))
    assert decision.verdict == "soft"


def test_a_faster_peer_is_credited_its_declared_samples_up_to_an_epoch(tmp_path):
    """The reducer caps the weight of a declaration above the round's median; the audit credits what
    the peer declared for contributions that reached the model, never more than a whole epoch."""
    records = {1: 3 * HONEST * SEQ, 2: 10 * EPOCH * SEQ}
    rounds = {
        1: [Observation(1, PEER, 3 * HONEST, HONEST, 1.0, None, None, "clipped")],
        2: [Observation(2, PEER, 10 * EPOCH, HONEST, 1.0, None, None, "clipped")],
    }
    store = _store(tmp_path, records, rounds)
    assert _judge(store, _claim(1, 1, 3 * HONEST * SEQ)).verdict == "accept"
    # ten epochs' worth in one round: more than can be credited, but nothing shows a lie (its
    # record says the same, and a peer whose epoch does not advance keeps accumulating): withheld
    assert _judge(store, _claim(2, 2, 10 * EPOCH * SEQ)).verdict == "soft"


def test_an_inflated_all_reduce_weight_is_hard_even_with_an_honest_claim(tmp_path):
    """It declares 1000x its samples to the reducer (capped there) but signs its true work: one of
    its two signed statements is a lie."""
    records, _ = _honest(1, 2)
    rounds = {e: [Observation(e, PEER, 1000 * HONEST, HONEST, 1.0, 0.1, 0.9, "clipped")] for e in (1, 2)}
    store = _store(tmp_path, records, rounds)
    decision = _judge(store, _claim(1, 2, 2 * HONEST * SEQ))
    assert decision.verdict == "hard" and "declared" in decision.reason


def test_a_round_labelled_one_epoch_off_never_looks_inflated(tmp_path):
    """A peer back from a crash trains one sample in epoch 5, then a full share in epoch 6; a
    reducer that labels the round of its epoch-6 work as epoch 5 still matches a signed epoch."""
    records = {5: 1 * SEQ, 6: HONEST * SEQ}
    store = _store(tmp_path, records, {5: [_obs(5)], 6: [_obs(6, samples=1)]})
    assert _judge(store, _claim(5, 6, (HONEST + 1) * SEQ)).verdict == "accept"


def test_a_round_the_reducer_numbered_one_epoch_off_still_backs_the_claim(tmp_path):
    """After a round a trainer gave up on, the aux peer's epoch lags the trainers' by one."""
    records = {3: 48 * SEQ, 4: 16 * SEQ}
    rounds = {2: [_obs(2, samples=48)], 3: [_obs(3, samples=16)]}
    store = _store(tmp_path, records, rounds)
    assert _judge(store, _claim(3, 3, 48 * SEQ)).verdict == "accept"
    assert _judge(store, _claim(4, 4, 16 * SEQ)).verdict == "accept"


def test_a_key_that_matches_no_range_of_the_nodes_peers_is_left_alone(tmp_path):
    store = _store(tmp_path, *_honest(1, 3))
    decision = _judge(store, _claim(9, 9, 5))
    assert decision.verdict == "unverified" and "matches no epoch range" in decision.reason


def test_a_node_whose_peer_never_showed_itself_to_a_reducing_aux_peer_is_not_paid():
    """Admission needs the binding: none of its work reached a round. Withheld, never slashed."""
    claim = _claim(1, 1, 100)
    assert judge(claim, None, POLICY, SEQ, EPOCH * SEQ, unbound_while_reducing=True).verdict == "soft"
    assert judge(claim, None, POLICY, SEQ, EPOCH * SEQ).verdict == "unverified"  # no rounds: no evidence


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


def test_with_robust_aggregation_the_bootstrap_peers_are_the_trusted_reducers(tmp_path):
    meta = parse_metadata(_metadata(train={"model": "tiny", "robust_aggregation": True}), POOL)
    config = train_config(meta, checkpoint_dir=tmp_path)
    assert config.robust_aggregation and config.trusted_reducers == ["QmAux"]
    named = parse_metadata(
        _metadata(train={"model": "tiny", "robust_aggregation": True, "trusted_reducers": ["QmOther"]}), POOL
    )
    assert train_config(named, checkpoint_dir=tmp_path).trusted_reducers == ["QmOther"]
    assert train_config(parse_metadata(_metadata(), POOL), checkpoint_dir=tmp_path).trusted_reducers == []


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


def test_a_round_credits_up_to_two_epochs_of_samples(tmp_path):
    # a peer keeps training while a round forms: the bench saw honest peers bring up to 1.5 epochs
    # of samples to one round. Up to two epochs per round reach the claim (ROUND_CREDIT_EPOCHS);
    # more than that does not, however much the peer declared
    store = _store(tmp_path, {1: 150 * SEQ, 2: 300 * SEQ}, {1: [_obs(1, samples=150)], 2: [_obs(2, samples=300)]})
    found = store.range_evidence(PEER, 1, 2, EPOCH)
    assert found.accepted == {1: 150, 2: 200}
    decision = _judge(store, _claim(1, 1, 150 * SEQ))
    assert decision.verdict == "accept", decision


# -- the aux peer's own evidence: inflated epochs and bad state served to its downloads

SWARM = 40  # the epoch most peers are in


def test_an_epoch_far_ahead_of_the_swarm_and_of_the_peers_own_ledger_is_a_lie():
    ledgers = {"QmA": SWARM, "QmB": SWARM - 1, "QmC": SWARM, "QmX": SWARM}
    stated = {"QmA": SWARM, "QmB": SWARM, "QmC": SWARM + 1, "QmX": SWARM + 1000}
    assert epoch_liars(stated, ledgers) == {"QmX": (SWARM + 1000, SWARM, SWARM)}
    # two peers: the honest one is the majority's epoch; one record alone is never outvoted
    assert epoch_liars({"QmA": SWARM, "QmX": SWARM + 1000}, ledgers) == {"QmX": (SWARM + 1000, SWARM, SWARM)}
    assert epoch_liars({"QmX": SWARM + 1000}, ledgers) == {}
    # exactly the bound ahead of both is not flagged; one more is
    lead = {"QmA": SWARM, "QmB": SWARM, "QmX": SWARM + EPOCH_LEAD}
    assert epoch_liars(lead, ledgers) == {}
    assert epoch_liars({**lead, "QmX": SWARM + EPOCH_LEAD + 1}, ledgers) == {
        "QmX": (SWARM + EPOCH_LEAD + 1, SWARM, SWARM)
    }


@pytest.mark.parametrize(
    "pattern",
    [
        "transition race",  # the first peer into the next epoch, its ledger one behind
        "rejoined",  # crashed at epoch 3, downloaded the swarm's state: ledger far behind, epoch the swarm's
        "lagging majority",  # most peers lag (slow machines): it is ahead by the rounds it closed, all in its ledger
        "alone",  # a partition: it closed 100 rounds alone, every one in its ledger
        "aux ahead",  # the others have not published since the aux peer moved on
        "new peer",  # no ledger yet, at the swarm's epoch after its first download
    ],
)
def test_honest_lag_and_rejoin_patterns_are_never_an_epoch_lie(pattern):
    stated, ledgers, aux = {"QmA": SWARM, "QmB": SWARM}, {"QmA": SWARM, "QmB": SWARM}, None
    if pattern == "transition race":
        stated["QmH"], ledgers["QmH"] = SWARM + 1, SWARM
    elif pattern == "rejoined":
        stated["QmH"], ledgers["QmH"] = SWARM, 3
    elif pattern == "lagging majority":
        stated.update(QmA=5, QmB=6, QmH=SWARM)
        ledgers.update(QmA=5, QmB=6, QmH=SWARM)
    elif pattern == "alone":
        stated["QmH"], ledgers["QmH"] = SWARM + 100, SWARM + 100
    elif pattern == "aux ahead":
        stated.update(QmA=3, QmB=3, QmH=SWARM)
        ledgers["QmH"], aux = 3, SWARM
    else:
        stated["QmH"] = SWARM
    assert epoch_liars(stated, ledgers, aux) == {}


def _bound_store(tmp_path, peers: dict[str, Account], last: int = 4) -> EvidenceStore:
    store = EvidenceStore(tmp_path, CHAIN, POOL)
    store.remember(
        {peer: _signed({e: HONEST * SEQ for e in range(1, last + 1)}, peer, node) for peer, node in peers.items()}
    )
    for epoch in range(1, last + 1):
        store.observations.append([_obs(epoch, peer) for peer in peers])
    store.refresh()
    return store


ATTACKER = Account.from_key(b"\x32" * 32)


def _judge_node(store: EvidenceStore, node: Account, peer: str, first: int = 1, last: int = 4):
    claim = Claim(
        work_key(POOL, peer, first, last), node.address, "0xprovider", (last - first + 1) * HONEST * SEQ, 100, 700
    )
    span = store.match(peer, claim.work_key)
    return judge(claim, store.range_evidence(peer, *span, EPOCH), POLICY, SEQ, EPOCH * SEQ)


def test_a_signed_inflated_epoch_makes_every_later_claim_of_its_node_hard_and_survives_a_restart(tmp_path):
    store = _bound_store(tmp_path, {PEER: NODE, "QmHonest2": Account.from_key(b"\x33" * 32), "QmX": ATTACKER})
    assert _judge_node(store, ATTACKER, "QmX").verdict == "accept", "its work alone is fine"
    # an unbound peer's record is nobody's statement the pool can act on: not recorded
    stated = {PEER: 4, "QmHonest2": 5, "QmX": 4 + 1000, "QmUnbound": 4 + 1000}
    assert store.note_epochs(stated, aux_epoch=4) == ["QmX"]
    assert store.note_epochs(stated, aux_epoch=4) == [], "recorded once per peer"
    decision = _judge_node(store, ATTACKER, "QmX")
    assert decision.verdict == "hard" and "epoch 1004 while the swarm was at 5" in decision.reason
    assert decision.evidence["misconduct"] == [decision.reason]
    assert _judge_node(store, NODE, PEER).verdict == "accept"
    again = EvidenceStore(tmp_path, CHAIN, POOL)  # the aux peer restarted; the DHT forgot the record
    again.refresh()
    assert _judge_node(again, ATTACKER, "QmX").verdict == "hard"


def test_bad_state_served_to_the_aux_peers_own_download_is_hard_and_nothing_else_is(tmp_path):
    store = _bound_store(tmp_path, {PEER: NODE, "QmX": ATTACKER})
    store.state_checks.extend(
        [
            StateCheck(PEER, 2, "ok", 1.0),
            # a donor that did not answer, sent nothing, or sat at another epoch is no evidence
            StateCheck(PEER, -1, "failed", 2.0),
            StateCheck(PEER, -1, "no_state", 3.0),
            StateCheck(PEER, 9, "epoch", 4.0),
            StateCheck("QmX", 3, "nonfinite", 5.0),
        ]
    )
    store.refresh()
    assert _judge_node(store, NODE, PEER).verdict == "accept"
    decision = _judge_node(store, ATTACKER, "QmX")
    assert decision.verdict == "hard" and "served bad state to 1 of the aux peer's own downloads" in decision.reason


# The aux peer's evidence files from a clean-clone `hub demo --attacker liar --epochs 5` run (ci21, of
# 59de86f) in which an honest node's epoch-2 claim was soft-invalidated, and the claims its nodes
# sent: (node, peer, first epoch, last epoch, tokens). The demo pool: 64-token sequences, a target
# batch of 1024 samples, its audit policy.
DEMO_RUN = Path(__file__).parent / "data" / "demo_liar_ci21"
DEMO_POLICY = AuditPolicy(tolerance=0.05, hard_factor=1.5, slash=2 * 10**18, grace_seconds=4)
DEMO_HONEST = {"0xC24d5a2c9239723Ab790EA91b2c53bbFDd9a8051", "0xAB8d33dB1BB2902C442c17f0Ee9473006E370F7A"}
DEMO_CLAIMS = [
    ("0xC24d5a2c9239723Ab790EA91b2c53bbFDd9a8051", "QmaSbPFcXxYMRWvZpMs1Tfaki4pvKTtrqoboP1mTyqZJ5m", 0, 0, 42496),
    ("0xC24d5a2c9239723Ab790EA91b2c53bbFDd9a8051", "QmaSbPFcXxYMRWvZpMs1Tfaki4pvKTtrqoboP1mTyqZJ5m", 1, 1, 45056),
    ("0xC24d5a2c9239723Ab790EA91b2c53bbFDd9a8051", "QmaSbPFcXxYMRWvZpMs1Tfaki4pvKTtrqoboP1mTyqZJ5m", 2, 2, 68096),
    ("0xC24d5a2c9239723Ab790EA91b2c53bbFDd9a8051", "QmaSbPFcXxYMRWvZpMs1Tfaki4pvKTtrqoboP1mTyqZJ5m", 3, 3, 1536),
    ("0xC24d5a2c9239723Ab790EA91b2c53bbFDd9a8051", "QmaSbPFcXxYMRWvZpMs1Tfaki4pvKTtrqoboP1mTyqZJ5m", 4, 4, 41984),
    ("0xAB8d33dB1BB2902C442c17f0Ee9473006E370F7A", "QmNb6Cvv6nLHvJdMteXHxtWngGNdGV96i5eQuBrQqEuKsH", 0, 0, 21504),
    ("0xAB8d33dB1BB2902C442c17f0Ee9473006E370F7A", "QmNb6Cvv6nLHvJdMteXHxtWngGNdGV96i5eQuBrQqEuKsH", 1, 1, 26880),
    ("0xAB8d33dB1BB2902C442c17f0Ee9473006E370F7A", "QmNb6Cvv6nLHvJdMteXHxtWngGNdGV96i5eQuBrQqEuKsH", 2, 2, 30976),
    ("0xAB8d33dB1BB2902C442c17f0Ee9473006E370F7A", "QmNb6Cvv6nLHvJdMteXHxtWngGNdGV96i5eQuBrQqEuKsH", 3, 3, 78336),
    ("0xAB8d33dB1BB2902C442c17f0Ee9473006E370F7A", "QmNb6Cvv6nLHvJdMteXHxtWngGNdGV96i5eQuBrQqEuKsH", 4, 4, 20736),
    ("0x1830bA113ae70E0AD99F0D52bFDBF2F5abaE27A9", "QmeBRZvF9Lygt7Wq3AhnJR3JazWiV3PDpACxtNq8Vbzbw7", 0, 0, 256),
    ("0x1830bA113ae70E0AD99F0D52bFDBF2F5abaE27A9", "QmeBRZvF9Lygt7Wq3AhnJR3JazWiV3PDpACxtNq8Vbzbw7", 1, 1, 256),
    ("0x1830bA113ae70E0AD99F0D52bFDBF2F5abaE27A9", "QmeBRZvF9Lygt7Wq3AhnJR3JazWiV3PDpACxtNq8Vbzbw7", 2, 2, 256),
]


def test_the_demo_run_whose_honest_node_was_soft_invalidated_has_every_honest_claim_accepted(tmp_path):
    """Its epoch-2 round: the other trainer closed epoch 2 with the aux peer and moved on, so node
    0xC24d's progress tracker showed it alone in epoch 2; hivemind skipped its pre-scheduled round
    ("no other peers") and stepped with its 1064 samples locally. The skipped round was already in
    matchmaking with the aux peer and ran anyway as a zero-weight tag-along (declared 0 samples,
    `RobustAveragerMixin.schedule_step`), which the reducer logged as an accepted contribution of 0
    samples: the audit took that for "the reducer accepted none of epoch 2" and withheld the claim.
    A tag-along is the peer asking to join a round, not work: the round is a missed one, which the
    claim is never judged by. The liar beside it stays hard."""
    judged = _judge_demo_run(DEMO_RUN, tmp_path, DEMO_CLAIMS)
    for (node, _, first, last, units), decision in zip(DEMO_CLAIMS, judged, strict=True):
        expected = "accept" if node in DEMO_HONEST else "hard"
        assert decision.verdict == expected, (node, first, last, units, decision.reason, decision.evidence)


def _judge_demo_run(run: Path, tmp_path: Path, claims: list[tuple[str, str, int, int, int]]) -> list:
    """Each claim (node, peer, first epoch, last epoch, tokens) judged on the evidence files a demo
    run's aux peer kept (pool 1 on chain 777: 64-token sequences, a target batch of 1024)."""
    for name in (OBSERVATIONS_FILE, RECORDS_FILE, ATTEMPTS_FILE):
        shutil.copy(run / name, tmp_path / name)
    store = EvidenceStore(tmp_path, 777, 1)
    store.refresh()
    epoch_tokens = int(max(1024, *store.round_samples().values()) * 64)
    decisions = []
    for node, peer, first, last, units in claims:
        assert store.peers_of(node) == [peer]
        claim = Claim(work_key(1, peer, first, last), node, "0xprovider", units, 100, 700)
        found = store.range_evidence(peer, *store.match(peer, claim.work_key), 1024)
        decisions.append(judge(claim, found, DEMO_POLICY, 64, epoch_tokens))
    return decisions


DEMO_CI33 = Path(__file__).parent / "data" / "demo_liar_ci33"
DEMO_CI33_CLAIMS = [  # (node, peer, epoch, tokens, verdict): every claim of that run but the liar's last
    (
        "0x2629B46B403e528d60b4205FE5Fee67497382990",
        "QmW4bovR6T2GUmG8hKYdU72RhhSDhZmVXd7BviVQZgMQUJ",
        0,
        52992,
        "accept",
    ),
    (
        "0x2629B46B403e528d60b4205FE5Fee67497382990",
        "QmW4bovR6T2GUmG8hKYdU72RhhSDhZmVXd7BviVQZgMQUJ",
        1,
        67072,
        "accept",
    ),
    (
        "0x2629B46B403e528d60b4205FE5Fee67497382990",
        "QmW4bovR6T2GUmG8hKYdU72RhhSDhZmVXd7BviVQZgMQUJ",
        4,
        16640,
        "accept",
    ),
    ("0x6Cf9fA0f4b5f71f05B270239ED2ceb6FF509e8EE", "QmaFi86tD1D77tfeHp1kJFxg7L6hUR5owaUEfViXmcZT2u", 0, 9216, "accept"),
    (
        "0x6Cf9fA0f4b5f71f05B270239ED2ceb6FF509e8EE",
        "QmaFi86tD1D77tfeHp1kJFxg7L6hUR5owaUEfViXmcZT2u",
        2,
        73728,
        "accept",
    ),
    (
        "0x6Cf9fA0f4b5f71f05B270239ED2ceb6FF509e8EE",
        "QmaFi86tD1D77tfeHp1kJFxg7L6hUR5owaUEfViXmcZT2u",
        3,
        74752,
        "accept",
    ),
    (
        "0x6Cf9fA0f4b5f71f05B270239ED2ceb6FF509e8EE",
        "QmaFi86tD1D77tfeHp1kJFxg7L6hUR5owaUEfViXmcZT2u",
        4,
        67072,
        "accept",
    ),
    ("0xe06205142f0Acbdef70D6aF8DbAa92f7829C8047", "QmYkGvmh8EPbNZUDQSw3RRaNFVvhuJZXnDDbKvDRM5Bgma", 0, 256, "hard"),
    ("0xe06205142f0Acbdef70D6aF8DbAa92f7829C8047", "QmYkGvmh8EPbNZUDQSw3RRaNFVvhuJZXnDDbKvDRM5Bgma", 1, 256, "hard"),
    # no round of epoch 2 was reduced: its own records are the only evidence on that claim (its
    # first hard decision voids every reward of the node still locked, this one's included)
    ("0xe06205142f0Acbdef70D6aF8DbAa92f7829C8047", "QmYkGvmh8EPbNZUDQSw3RRaNFVvhuJZXnDDbKvDRM5Bgma", 2, 256, "accept"),
    ("0xe06205142f0Acbdef70D6aF8DbAa92f7829C8047", "QmYkGvmh8EPbNZUDQSw3RRaNFVvhuJZXnDDbKvDRM5Bgma", 3, 256, "hard"),
]


def test_the_demo_run_whose_liar_ran_a_step_ahead_of_a_round_has_the_liar_hard(tmp_path):
    """A clean-clone run of `hub demo --attacker liar` (4dc4cc9): the reducer closed rounds 0, 1,
    3 and 4; the liar had signed epoch 2 complete 0.2 s before round 1 closed, which placed it
    nowhere then and broke its silence into gaps of 1 and 2 rounds: every claim of it was soft and
    it kept its stake. Its honest partners, whose rounds of epochs 1 and 2 went on without them
    (each resynced), are paid in full."""
    claims = [(node, peer, epoch, epoch, units) for node, peer, epoch, units, _ in DEMO_CI33_CLAIMS]
    judged = _judge_demo_run(DEMO_CI33, tmp_path, claims)
    for (node, _, epoch, units, expected), decision in zip(DEMO_CI33_CLAIMS, judged, strict=True):
        assert decision.verdict == expected, (node, epoch, units, decision.reason, decision.evidence)


def _tag_along(epoch: int, peer: str = PEER) -> Observation:
    """A skipped pre-scheduled round that joined the reducer anyway: weight 0, no say in the round."""
    return Observation(epoch, peer, 0.0, 0.0, 0.9, 0.9, None, "accepted", scale=0.0)


def test_a_tag_along_is_neither_work_nor_bad_work_nor_silence(tmp_path):
    """A peer whose first round hivemind skipped as alone (it stepped with its own samples) and whose
    pre-scheduled round joined the reducer as a tag-along: its claim for that epoch was hard (a
    contribution kept at scale 0 reads as all but removed by the clip: bad work). It is paid as for
    a round it missed; a peer that only ever tags along is never silent, as one that only asks to
    join; a liar that sends nothing stays hard."""
    records = {e: HONEST * SEQ for e in range(1, 5)}
    store = _store(tmp_path, records, {1: [_tag_along(1)]})
    decision = _judge(store, _claim(1, 1, HONEST * SEQ))
    assert decision.verdict == "accept", decision
    assert decision.evidence["verdicts"] == {} and decision.evidence["unobserved_epochs"] == 1
    store.observations.append([_obs(e, "QmBystander") for e in range(2, 5)])
    store.observations.append([_tag_along(e) for e in range(2, 5)])
    liar = "QmLiar"
    store.remember({liar: _signed(records, peer=liar, node=Account.from_key(b"\x32" * 32))})
    store.refresh()
    assert store.silent_epochs(PEER) == frozenset()
    assert _judge(store, _claim(1, 4, 4 * HONEST * SEQ)).verdict == "accept"
    assert store.silent_epochs(liar) == frozenset(range(1, 5))
    # a zero-weight round beside its real work does not take the real work's credit away
    store = _store(tmp_path / "mixed", records, {1: [_obs(1), _tag_along(1)], 2: [_obs(2)]})
    decision = _judge(store, _claim(1, 2, 2 * HONEST * SEQ))
    assert (decision.verdict, decision.verified) == ("accept", 2 * HONEST * SEQ)


BENCH_RUN = Path(__file__).parent / "data" / "bench_badstate_fdceffe"
BENCH_ATTACKER = "QmeWUUo2NeXtenirPkT9qycfWs3LBmiZonojJS9sRnSHWY"
BENCH_MISSED = ("QmcXs11z83UozD32jY8RKextWwtCPWDxyhhv5my7hCdzmN", 5)


def _bench_store(directory: Path, files: tuple[str, ...]) -> EvidenceStore:
    directory.mkdir(exist_ok=True)
    for path in BENCH_RUN.iterdir():
        if path.name in files:
            shutil.copy(path, directory / path.name)
    store = EvidenceStore(directory, 1776, 1)
    store.refresh()
    return store


def test_the_bench_run_whose_honest_peer_missed_a_round_it_asked_to_join_slashes_no_honest_claim(tmp_path):
    """The aux peer's evidence of bench/robustness.py's `badstate` swarm at fdceffe (4 trainers, 192
    samples per epoch, CI load), as the bench hands it to the audit (records placed at the times the
    peers finished their epochs). One honest peer trained its epoch 5 (488 samples) ahead of its
    step's round: its pre-scheduled round joined the reducer's group, which closed without its input
    (hivemind: "Reducer: received 80.0% of input tensors"), and it stepped with its own gradient.
    That claim is withheld (the reducer never saw the work), never slashed; every other honest claim
    is accepted, and the attacker, which served non-finite state to the aux peer's download, is hard.
    Its requests to join are what keep the missed rounds from reading as silence."""
    files = (OBSERVATIONS_FILE, RECORDS_FILE, ATTEMPTS_FILE, "spot_checks.jsonl", "state_checks.jsonl")
    store = _bench_store(tmp_path, files)
    policy = AuditPolicy(tolerance=0.05, hard_factor=1.5, slash=0, grace_seconds=0)
    claims = [json.loads(line) for line in (BENCH_RUN / RECORDS_FILE).read_text().splitlines()]
    claims = [item for item in claims if item["epoch"] is not None]
    assert len({item["peer_id"] for item in claims}) == 4
    for item in claims:
        peer, epoch = item["peer_id"], item["epoch"]
        key = work_key(1, peer, epoch, epoch)
        claim = Claim(key, item["node"], "0xprovider", item["tokens"], 0, 1)
        decision = judge(claim, store.range_evidence(peer, *store.match(peer, key), 192), policy, 64, 192 * 64)
        expected = "hard" if peer == BENCH_ATTACKER else "soft" if (peer, epoch) == BENCH_MISSED else "accept"
        assert decision.verdict == expected, (peer, epoch, decision.reason, decision.evidence)
    assert store.silent_epochs(BENCH_MISSED[0]) == frozenset()
    # without the reducer's log of requests to join, the rounds it missed read as silence
    unasked = _bench_store(tmp_path / "unasked", tuple(name for name in files if name != ATTEMPTS_FILE))
    assert BENCH_MISSED[1] in unasked.silent_epochs(BENCH_MISSED[0])
