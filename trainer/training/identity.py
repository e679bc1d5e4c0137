"""A peer's persistent identity: one RSA key for both the libp2p peer id and signed DHT records.

hivemind's p2p daemon reads its identity from a file holding a libp2p protobuf ``PrivateKey``
(an RSA key in DER). We create that file once (`identity_path`) so the peer id survives
restarts, and load the same key as hivemind's process-wide record-signing key. A progress record's
owner key therefore hashes to the peer id that published it, which `trainer.training.progress` checks.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from trainer.errors import SwarmError

if TYPE_CHECKING:
    from hivemind.utils.crypto import RSAPrivateKey


@dataclass(frozen=True)
class PeerIdentity:
    path: Path
    peer_id: str
    """Base58 libp2p peer id, as hivemind prints it (``Qm...`` for RSA keys)."""
    private_key: RSAPrivateKey


def load_or_create_identity(path: Path) -> PeerIdentity:
    """Read the identity file, creating it (mode 0400) if absent, and make it the signing key.

    Must be called before any hivemind DHT, Optimizer or ProgressTracker is created in this process.
    """
    from cryptography.hazmat.primitives import serialization
    from hivemind.p2p import P2P, PeerID
    from hivemind.proto import crypto_pb2
    from hivemind.utils.crypto import RSAPrivateKey

    path = Path(path)
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        P2P.generate_identity(str(path))
    raw = path.read_bytes()
    try:
        message = crypto_pb2.PrivateKey.FromString(raw)
        if message.key_type != crypto_pb2.KeyType.RSA:
            raise ValueError("not an RSA key")
        serialization.load_der_private_key(message.data, password=None)
    except Exception as exc:
        raise SwarmError(
            f"identity file {path} is not a libp2p RSA private key ({exc})",
            "delete it to create a new identity (the peer id will change)",
        ) from None

    key = RSAPrivateKey.__new__(RSAPrivateKey)
    key.__setstate__({"_private_key": message.data})  # RSAPrivateKey's own unpickling path, from DER
    # hivemind signs DHT records with the process-wide key; make it this identity's key.
    RSAPrivateKey._process_wide_key = key
    return PeerIdentity(path=path, peer_id=PeerID.from_identity(raw).to_base58(), private_key=key)


def peer_id_from_record_key(owner_public_key: bytes) -> str | None:
    """The libp2p peer id (base58) of the RSA key that signed a DHT record, or None if unparsable.

    ``owner_public_key`` is the OpenSSH-encoded key from a ``[owner:...]`` subkey.
    """
    import multihash
    from cryptography.hazmat.primitives import serialization
    from hivemind.p2p import PeerID
    from hivemind.proto import crypto_pb2

    try:
        public_key = serialization.load_ssh_public_key(owner_public_key)
    except (ValueError, TypeError):
        return None
    der = public_key.public_bytes(
        encoding=serialization.Encoding.DER, format=serialization.PublicFormat.SubjectPublicKeyInfo
    )
    encoded = crypto_pb2.PublicKey(key_type=crypto_pb2.RSA, data=der).SerializeToString()
    digest = multihash.encode(hashlib.sha256(encoded).digest(), multihash.coerce_code("sha2-256"))
    return PeerID(digest).to_base58()
