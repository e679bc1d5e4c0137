"""Signed progress records in the DHT: what each peer says it did, per collaborative epoch.

Every trainer peer stores one record under the DHT key ``<run_id>_peer_progress`` with its RSA
owner key as the subkey. hivemind's `RSASignatureValidator` signs it, so only the key's owner can
write or overwrite it, and a `SchemaValidator` rejects malformed values on every DHT node. The
owner key is the peer's libp2p identity (`trainer.training.identity`), so `fetch_progress` also checks that
the ``peer_id`` written inside a record is the id of the key that signed it.

A record holds the peer's totals and its last `RECENT_EPOCHS` epochs, so a reader that polls less
often than once per epoch (the aux peer, the chain bridge) still sees every epoch's work.

Schemas subclass ``pydantic.v1`` models: hivemind 1.1.12 validates DHT records with pydantic's v1
API and rejects v2 models.
"""

# No `from __future__ import annotations` here: pydantic.v1 must see real types.
import logging
import math
import threading
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional

from hivemind.dht.schema import BytesWithPublicKey
from pydantic.v1 import BaseModel, StrictFloat, StrictStr, conint, conlist

from trainer.training.identity import peer_id_from_record_key

if TYPE_CHECKING:
    from hivemind import DHT
    from hivemind.dht.validation import RecordValidatorBase

log = logging.getLogger(__name__)

RECENT_EPOCHS = 16
PROGRESS_FIELD = "peer_progress"


class EpochWork(BaseModel):
    """One collaborative epoch as seen by one peer."""

    epoch: conint(ge=0, strict=True)
    samples: conint(ge=0, strict=True)
    tokens: conint(ge=0, strict=True)
    mean_loss: StrictFloat
    """-1.0 when the loss was not finite."""
    seconds: StrictFloat


class PeerProgress(BaseModel):
    """A peer's signed statement of its work so far."""

    peer_id: StrictStr
    epoch: conint(ge=0, strict=True)
    """The last collaborative epoch this peer completed."""
    samples: conint(ge=0, strict=True)
    tokens: conint(ge=0, strict=True)
    seconds: StrictFloat
    time: StrictFloat
    """Unix time of the update."""
    recent: conlist(EpochWork, max_items=RECENT_EPOCHS)
    node: Optional[StrictStr] = None  # noqa: UP045 (pydantic.v1 needs typing.Optional)
    """The node key this peer works for (`trainer join`), and its binding signature."""
    node_signature: Optional[StrictStr] = None  # noqa: UP045


class ProgressSchema(BaseModel):
    """DHT schema: ``<run_id>_peer_progress`` maps RSA owner keys to `PeerProgress` records."""

    peer_progress: dict[BytesWithPublicKey, PeerProgress | None]


def progress_key(run_id: str) -> str:
    return f"{run_id}_{PROGRESS_FIELD}"


def make_validators(run_id: str) -> list["RecordValidatorBase"]:
    """Validators to register on a DHT that writes or reads progress records of ``run_id``."""
    from hivemind.dht.crypto import RSASignatureValidator
    from hivemind.dht.schema import SchemaValidator

    return [SchemaValidator(ProgressSchema, prefix=run_id), RSASignatureValidator()]


_registered: "weakref.WeakKeyDictionary[DHT, set[str]]" = weakref.WeakKeyDictionary()
_registered_lock = threading.Lock()


def ensure_validators(dht: "DHT", run_id: str) -> None:
    """Register the progress validators on ``dht`` once per (dht, run)."""
    with _registered_lock:
        runs = _registered.setdefault(dht, set())
        if run_id in runs:
            return
        dht.add_validators(make_validators(run_id))
        runs.add(run_id)


@dataclass(frozen=True)
class SignedProgress:
    """A progress record read from the DHT, with the key that signed it."""

    peer_id: str
    record: PeerProgress
    owner_key: bytes
    expires_at: float

    def epoch_work(self, epoch: int) -> EpochWork | None:
        """This peer's work for a given epoch, if still among its recent epochs."""
        return next((work for work in self.record.recent if work.epoch == epoch), None)


class ProgressLedger:
    """Accumulates a peer's epochs and turns them into a `PeerProgress` record."""

    def __init__(
        self, peer_id: str, totals: dict[str, Any] | None = None, binding: tuple[str, str] | None = None
    ) -> None:
        totals = totals or {}
        self.peer_id = peer_id
        self.binding = binding
        self.samples = int(totals.get("samples", 0))
        self.tokens = int(totals.get("tokens", 0))
        self.seconds = float(totals.get("seconds", 0.0))
        self.epoch = int(totals.get("epoch", 0))
        self.recent: list[EpochWork] = [EpochWork.parse_obj(item) for item in totals.get("recent", [])]

    def add_epoch(self, epoch: int, samples: int, tokens: int, mean_loss: float, seconds: float) -> None:
        loss = float(mean_loss) if math.isfinite(mean_loss) else -1.0
        self.samples += int(samples)
        self.tokens += int(tokens)
        self.seconds += float(seconds)
        self.epoch = max(self.epoch, int(epoch))
        self.recent.append(
            EpochWork(
                epoch=int(epoch), samples=int(samples), tokens=int(tokens), mean_loss=loss, seconds=float(seconds)
            )
        )
        self.recent = self.recent[-RECENT_EPOCHS:]

    def record(self, now: float) -> PeerProgress:
        return PeerProgress(
            peer_id=self.peer_id,
            epoch=self.epoch,
            samples=self.samples,
            tokens=self.tokens,
            seconds=float(self.seconds),
            time=float(now),
            recent=list(self.recent),
            node=self.binding[0] if self.binding else None,
            node_signature=self.binding[1] if self.binding else None,
        )

    def totals(self) -> dict[str, Any]:
        """A JSON-able copy of the ledger, stored in checkpoints so totals survive restarts."""
        return {
            "samples": self.samples,
            "tokens": self.tokens,
            "seconds": self.seconds,
            "epoch": self.epoch,
            "recent": [work.dict() for work in self.recent],
        }


def publish_progress(dht: "DHT", run_id: str, record: PeerProgress, expiration: float) -> None:
    """Store (sign) this peer's record without waiting for the DHT to answer."""
    from hivemind.dht.crypto import RSASignatureValidator
    from hivemind.utils import get_dht_time

    ensure_validators(dht, run_id)
    owner = RSASignatureValidator().local_public_key
    dht.store(
        key=progress_key(run_id),
        subkey=owner,
        value=record.dict(),
        expiration_time=get_dht_time() + expiration,
        return_future=True,
    )


def fetch_progress(dht: "DHT", run_id: str, timeout: float = 10.0) -> dict[str, SignedProgress]:
    """Read every peer's signed progress record for ``run_id``, keyed by libp2p peer id.

    Records reaching this function passed hivemind's signature and schema validation. Records
    whose ``peer_id`` does not match the id derived from their signing key are dropped (a peer
    cannot claim another's id). If a key holds several records for one peer id, the newest wins.
    Returns ``{}`` if nothing is stored or the DHT does not answer within ``timeout`` seconds.
    """
    import re

    from hivemind.utils import ValueWithExpiration

    ensure_validators(dht, run_id)
    try:
        found = dht.get(progress_key(run_id), latest=True, return_future=True).result(timeout=timeout)
    except Exception as exc:  # a slow or shut-down DHT is "no records", never a hang
        log.warning("could not read progress records for %s: %r", run_id, exc)
        return {}
    if not isinstance(found, ValueWithExpiration) or not isinstance(found.value, dict):
        return {}
    owner_re = re.compile(rb"\[owner:(.+?)\]")
    records: dict[str, SignedProgress] = {}
    for subkey, entry in found.value.items():
        if not isinstance(entry, ValueWithExpiration) or entry.value is None:
            continue
        try:
            record = PeerProgress.parse_obj(entry.value)
        except Exception:
            continue
        match = owner_re.search(subkey if isinstance(subkey, bytes) else b"")
        signer = peer_id_from_record_key(match.group(1)) if match else None
        if signer is None or signer != record.peer_id:
            log.warning("dropping progress record claiming peer %s signed by %s", record.peer_id, signer)
            continue
        previous = records.get(record.peer_id)
        if previous is None or previous.record.time < record.time:
            records[record.peer_id] = SignedProgress(record.peer_id, record, match.group(1), entry.expiration_time)
    return records


def read_progress(initial_peers: list[str], run_id: str) -> dict[str, SignedProgress]:
    """`fetch_progress` for a reader outside the swarm (`trainer progress`): a client-mode DHT that
    joins through ``initial_peers``, reads, and shuts down."""
    import hivemind

    dht = hivemind.DHT(initial_peers=initial_peers, client_mode=True, start=True)
    try:
        return fetch_progress(dht, run_id)
    finally:
        dht.shutdown()


def fetch_swarm_epochs(dht: "DHT", run_id: str, timeout: float = 10.0) -> dict[str, int]:
    """The epoch each peer states in hivemind's own progress record (``<run_id>_progress``, the one
    the swarm's epoch is computed from), keyed by libp2p peer id.

    hivemind's ``ProgressTracker`` signs these records with the peer's RSA key (its libp2p
    identity here) and its validators check the signature on every DHT node; a record whose
    ``peer_id`` is not the signer's is dropped, so each epoch here is its signer's own statement.
    Returns ``{}`` if nothing is stored or the DHT does not answer within ``timeout`` seconds.
    """
    import re

    from hivemind.p2p import PeerID
    from hivemind.utils import ValueWithExpiration

    try:
        found = dht.get(f"{run_id}_progress", latest=True, return_future=True).result(timeout=timeout)
    except Exception as exc:  # a slow or shut-down DHT is "no records", never a hang
        log.warning("could not read the swarm's progress records for %s: %r", run_id, exc)
        return {}
    if not isinstance(found, ValueWithExpiration) or not isinstance(found.value, dict):
        return {}
    owner_re = re.compile(rb"\[owner:(.+?)\]")
    epochs: dict[str, int] = {}
    for subkey, entry in found.value.items():
        value = entry.value if isinstance(entry, ValueWithExpiration) else None
        if not isinstance(value, dict) or not isinstance(value.get("epoch"), int):
            continue
        match = owner_re.search(subkey if isinstance(subkey, bytes) else b"")
        signer = peer_id_from_record_key(match.group(1)) if match else None
        try:
            stated = PeerID(value.get("peer_id", b"")).to_base58()
        except Exception:
            continue
        if signer is not None and signer == stated:
            epochs[signer] = max(epochs.get(signer, -1), int(value["epoch"]))
    return epochs
