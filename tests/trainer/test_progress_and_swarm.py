"""Signed progress records, persistent identities and the hivemind pitfalls, on in-process DHTs."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path

import hivemind
import pytest
import torch
from hivemind.dht.crypto import RSASignatureValidator
from hivemind.utils import get_dht_time
from hivemind.utils.crypto import RSAPrivateKey

from tests.trainer.helpers import LocalSwarm, wait_until
from trainer.errors import SwarmError
from trainer.training.identity import load_or_create_identity, peer_id_from_record_key
from trainer.training.progress import (
    RECENT_EPOCHS,
    ProgressLedger,
    ensure_validators,
    fetch_progress,
    fetch_swarm_epochs,
    progress_key,
    publish_progress,
)
from trainer.training.swarm import check_run_settings, read_run_settings


def stored_subkeys(dht: hivemind.DHT) -> set[bytes]:
    """The subkeys under the run's progress key as the DHT returns them, before our own checks."""
    found = dht.get(progress_key("unit"), latest=True)
    return set(found.value) if found is not None and isinstance(found.value, dict) else set()


@pytest.fixture
def swarm(tmp_path: Path) -> Iterator[LocalSwarm]:
    """Peers of the run "unit" in this process; a state download tries twice, 2 s each."""
    with LocalSwarm(tmp_path, run_id="unit", load_state_timeout=2.0, load_state_attempts=2) as started:
        yield started


def test_identity_is_persistent_and_is_the_record_signing_key(tmp_path: Path, swarm: LocalSwarm) -> None:
    first = load_or_create_identity(tmp_path / "id.key")
    again = load_or_create_identity(tmp_path / "id.key")
    assert first.peer_id == again.peer_id and first.peer_id.startswith("Qm")
    dht = swarm.node("a", identity=again).dht
    assert dht.peer_id.to_base58() == first.peer_id
    owner = RSASignatureValidator().local_public_key  # what hivemind signs records with now
    assert peer_id_from_record_key(owner[len(b"[owner:") : -1]) == first.peer_id


def test_progress_records_are_signed_validated_and_bound_to_the_peer_id(tmp_path: Path, swarm: LocalSwarm) -> None:
    identity = load_or_create_identity(tmp_path / "writer.key")
    writer = swarm.node("w", identity=identity).dht
    reader = hivemind.DHT(initial_peers=[str(a) for a in writer.get_visible_maddrs()], client_mode=True, start=True)
    swarm.dhts.append(reader)

    ledger = ProgressLedger(identity.peer_id)
    ledger.add_epoch(0, samples=16, tokens=1024, mean_loss=6.5, seconds=1.5)
    ledger.add_epoch(1, samples=8, tokens=512, mean_loss=math.nan, seconds=0.7)
    publish_progress(writer, "unit", ledger.record(time.time()), expiration=60)
    wait_until(lambda: fetch_progress(reader, "unit"), 30, "the record to reach the reader")
    records = fetch_progress(reader, "unit")
    assert set(records) == {identity.peer_id}
    record = records[identity.peer_id].record
    assert (record.epoch, record.samples, record.tokens) == (1, 24, 1536)
    assert records[identity.peer_id].epoch_work(0).tokens == 1024
    assert records[identity.peer_id].epoch_work(1).mean_loss == -1.0, "non-finite loss is stored as -1"

    # another key may sign its own record, but not one that claims the writer's peer id
    forger_key = RSAPrivateKey()
    forger = hivemind.DHT(
        initial_peers=[str(a) for a in writer.get_visible_maddrs()],
        start=True,
        record_validators=[RSASignatureValidator(forger_key)],
    )
    swarm.dhts.append(forger)
    ensure_validators(forger, "unit")
    forged = ledger.record(time.time() + 1).dict() | {"tokens": 10**9}
    subkey = RSASignatureValidator(forger_key).local_public_key
    assert forger.store(progress_key("unit"), subkey=subkey, value=forged, expiration_time=get_dht_time() + 60)
    # a malformed record is refused by the DHT itself (schema validation)
    malformed = forged | {"tokens": -1}
    assert not forger.store(progress_key("unit"), subkey=subkey, value=malformed, expiration_time=get_dht_time() + 60)
    # absent from what fetch_progress returns, though present in the DHT: dropped, not merely late
    wait_until(lambda: subkey in stored_subkeys(reader), 30, "the forged record to reach the reader")
    records = fetch_progress(reader, "unit")
    assert {peer: r.record.tokens for peer, r in records.items()} == {identity.peer_id: 1536}


def test_ledger_keeps_totals_and_a_bounded_history() -> None:
    ledger = ProgressLedger("QmPeer")
    for epoch in range(RECENT_EPOCHS + 4):
        ledger.add_epoch(epoch, samples=2, tokens=128, mean_loss=5.0, seconds=1.0)
    restored = ProgressLedger("QmPeer", ledger.totals())
    assert (restored.tokens, restored.samples, restored.epoch) == (128 * (RECENT_EPOCHS + 4), 40, RECENT_EPOCHS + 3)
    assert [work.epoch for work in restored.recent] == list(range(4, RECENT_EPOCHS + 4))


def test_optimizer_client_mode_follows_the_dht(swarm: LocalSwarm) -> None:
    server = swarm.node("server")
    client = swarm.node("client", client_mode=True)
    for node in (server, client):
        opt = swarm.optimizer(node, [torch.nn.Parameter(torch.zeros(4))])
        assert opt.client_mode is node.dht.client_mode  # hivemind 1.1.12 ignores Optimizer(client_mode=...)
        assert opt.tracker.client_mode is node.dht.client_mode
    assert client.dht.client_mode and not server.dht.client_mode


def test_a_sender_behind_nat_declares_its_epoch_for_robust_rounds(swarm: LocalSwarm) -> None:
    # hivemind hands the gradient averager its epoch only when the DHT is a full node; a robust
    # round is numbered by what its senders declare, so a --client-mode trainer must declare too
    swarm.node("server")
    client = swarm.peer("client", [torch.nn.Parameter(torch.zeros(4))], client_mode=True, robust_aggregation=True)
    opt = client.optimizer
    assert opt.robust is not None and opt.robust.role == "sender" and opt.robust.epoch.value == -1
    opt.state_averager.local_epoch = 4  # where a state download or an epoch transition puts it
    opt.prepare_averaging()
    assert opt.robust.epoch.value == 4


def test_state_download_is_bounded_when_no_peer_can_serve_it(swarm: LocalSwarm) -> None:
    opt = swarm.peer("lonely", [torch.nn.Parameter(torch.zeros(4))]).optimizer
    opt.tracker.global_progress.epoch = 7  # the swarm claims to be ahead, but nobody answers
    # it returns once the tries its settings allow have failed (a hang fails the per-test timeout)
    caught_up = opt.load_state_from_peers()
    assert not caught_up and opt.failed_state_downloads == 1
    assert opt.local_epoch == 7, "the peer moves on to the swarm's epoch instead of hanging"


def test_peers_with_incompatible_settings_are_refused(swarm: LocalSwarm) -> None:
    dht = swarm.node("first").dht
    settings = {"run_id": "unit", "averaging": "gradient", "profile": "full", "target_batch_size": 8}
    assert check_run_settings(dht, settings) == settings
    wait_until(lambda: read_run_settings(dht, "unit") == settings, 30, "the run settings to be stored")
    assert check_run_settings(dht, settings) == settings, "the same settings join"
    with pytest.raises(SwarmError, match="profile='full' \\(yours 'lora'\\)"):
        check_run_settings(dht, settings | {"profile": "lora"})


def test_trainer_progress_as_typed_reads_the_records(tmp_path: Path, swarm: LocalSwarm) -> None:
    """`trainer progress` joins through --initial-peers with its own client DHT and prints each record."""
    import json

    from typer.testing import CliRunner

    from trainer.cli import app

    identity = load_or_create_identity(tmp_path / "writer.key")
    writer = swarm.node("w", identity=identity).dht
    ledger = ProgressLedger(identity.peer_id)
    ledger.add_epoch(0, samples=16, tokens=1024, mean_loss=6.5, seconds=1.5)
    publish_progress(writer, "unit", ledger.record(time.time()), expiration=60)
    wait_until(lambda: fetch_progress(writer, "unit"), 30, "the writer to hold its record")  # the store is async
    peers = " ".join(str(a) for a in writer.get_visible_maddrs())
    result = CliRunner().invoke(app, ["progress", "--run-id", "unit", "--initial-peers", peers, "--json"])
    assert result.exit_code == 0, result.stderr
    records = json.loads(result.stdout)
    assert set(records) == {identity.peer_id}
    assert (records[identity.peer_id]["epoch"], records[identity.peer_id]["tokens"]) == (0, 1024)


def test_the_epoch_attacker_signs_an_inflated_swarm_epoch_and_keeps_training_at_its_own(swarm: LocalSwarm) -> None:
    """What the aux peer reads (`fetch_swarm_epochs`): each peer's signed epoch in hivemind's
    progress records. The attacker's is 1000 ahead; its own epoch is not (it goes on training,
    publishing its work and claiming, so the pool can catch it)."""
    from trainer.training.attacks import INFLATION

    peers = {}
    for name, attack in (("honest", None), ("attacker", "epoch")):
        peer = swarm.peer(name, [torch.nn.Parameter(torch.zeros(4))], attack=attack, robust_aggregation=True)
        peer.optimizer.state_averager.local_epoch = 3
        peer.optimizer.tracker.report_local_progress(local_epoch=3, samples_accumulated=4)
        peers[name] = peer
    honest, attacker = peers["honest"], peers["attacker"]
    wait_until(
        lambda: fetch_swarm_epochs(honest.dht, "unit") == {honest.peer_id: 3, attacker.peer_id: 3 + INFLATION},
        60,
        "both signed records",
    )
    assert attacker.optimizer.local_epoch == 3 and attacker.optimizer.tracker.local_progress.epoch == 3
    # a robust peer never follows a lone record ahead of it (trainer.training.guards)
    assert honest.optimizer.tracker.global_epoch < INFLATION
