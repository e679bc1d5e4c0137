"""EIP-712 digests, signatures and their broken variants, computed in Python for the ghost model.

`hub.signatures` builds typed data through eth-account, which is exact but slow for thousands of
fuzz steps; the digests here are the same bytes computed directly (`test_sigs.py` checks them
against `hub.signatures` and the contracts' own digest views). `recover` mirrors the contracts'
`eip712._recover` check by check, so the ghost predicts the exact revert or the exact signer.
"""

from __future__ import annotations

from functools import lru_cache

from eth_abi import encode
from eth_keys import keys
from eth_keys.exceptions import BadSignature
from eth_utils import keccak, to_checksum_address

ZERO = "0x0000000000000000000000000000000000000000"
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
SECP256K1_N_HALF = SECP256K1_N // 2

DOMAIN_TYPEHASH = keccak(b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")
ATTESTATION_TYPEHASH = keccak(
    b"NodeAttestation(address provider,address node,uint256 computeUnits,bytes32 specsHash,uint256 nonce,"
    b"uint256 deadline)"
)
INVITE_TYPEHASH = keccak(b"PoolInvite(uint256 poolId,address node,uint256 nonce,uint256 deadline)")

# Ways a signature can be wrong, each rejected by a different check (or by the signer comparison).
GOOD = "good"
WRONG_SIGNER = "wrong_signer"  # a real signature by another key
STALE_NONCE = "stale_nonce"  # signed for the previous nonce: a replay
WRONG_FIELD = "wrong_field"  # signed for other units / another pool than the call uses
WRONG_CHAIN = "wrong_chain"  # signed for another chain id
WRONG_CONTRACT = "wrong_contract"  # signed for another verifying contract
HIGH_S = "high_s"  # the malleable twin of a good signature
BAD_V = "bad_v"
SHORT = "short"  # 64 bytes
ZERO_R = "zero_r"  # ecrecover returns the zero address
KINDS = (GOOD, WRONG_SIGNER, STALE_NONCE, WRONG_FIELD, WRONG_CHAIN, WRONG_CONTRACT, HIGH_S, BAD_V, SHORT, ZERO_R)


@lru_cache(maxsize=64)
def domain_separator(name: str, chain_id: int, contract: str) -> bytes:
    return keccak(
        encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [DOMAIN_TYPEHASH, keccak(text=name), keccak(text="1"), chain_id, contract],
        )
    )


def _typed(separator: bytes, struct_hash: bytes) -> bytes:
    return keccak(b"\x19\x01" + separator + struct_hash)


def attestation_digest(
    chain_id: int, hub: str, provider: str, node: str, units: int, specs_uri: str, nonce: int, deadline: int
) -> bytes:
    """Digest of NodeAttestation(provider, node, computeUnits, specsHash, nonce, deadline)."""
    struct = keccak(
        encode(
            ["bytes32", "address", "address", "uint256", "bytes32", "uint256", "uint256"],
            [ATTESTATION_TYPEHASH, provider, node, units, keccak(text=specs_uri), nonce, deadline],
        )
    )
    return _typed(domain_separator("InjectiveAiHub", chain_id, hub), struct)


def invite_digest(chain_id: int, pool_contract: str, pool_id: int, node: str, nonce: int, deadline: int) -> bytes:
    """Digest of PoolInvite(poolId, node, nonce, deadline)."""
    struct = keccak(
        encode(
            ["bytes32", "uint256", "address", "uint256", "uint256"], [INVITE_TYPEHASH, pool_id, node, nonce, deadline]
        )
    )
    return _typed(domain_separator("ComputePool", chain_id, pool_contract), struct)


@lru_cache(maxsize=4096)
def sign(private_key: bytes, digest: bytes) -> bytes:
    """r || s || v with v in {27, 28} and low s (RFC 6979, so the same inputs give the same bytes)."""
    signature = keys.PrivateKey(private_key).sign_msg_hash(digest)
    return signature.r.to_bytes(32, "big") + signature.s.to_bytes(32, "big") + bytes([signature.v + 27])


def mangle(signature: bytes, kind: str) -> bytes:
    """The signature-level breakages (the others are made by signing the wrong message)."""
    r, s, v = signature[:32], int.from_bytes(signature[32:64], "big"), signature[64]
    if kind == HIGH_S:
        return r + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])  # 27 <-> 28
    if kind == BAD_V:
        return signature[:64] + bytes([v + 2])
    if kind == SHORT:
        return signature[:64]
    if kind == ZERO_R:
        return b"\x00" * 32 + signature[32:]
    return signature


class SignatureRevert(Exception):
    """The contract's `_recover` rejects the signature with this reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def recover(digest: bytes, signature: bytes) -> str:
    """What `eip712._recover(digest, signature)` returns, or the SignatureRevert it raises."""
    if len(signature) != 65:
        raise SignatureRevert("EIP712: signature must be 65 bytes")
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    v = signature[64]
    if s > SECP256K1_N_HALF:
        raise SignatureRevert("EIP712: malleable signature (high s)")
    if v not in (27, 28):
        raise SignatureRevert("EIP712: invalid signature v")
    signer = _ecrecover(digest, v, r, s)
    if signer == ZERO:
        raise SignatureRevert("EIP712: invalid signature")
    return signer


@lru_cache(maxsize=4096)
def _ecrecover(digest: bytes, v: int, r: int, s: int) -> str:
    # the precompile returns nothing (the zero address in Vyper) for r or s outside [1, n)
    if not (0 < r < SECP256K1_N and 0 < s < SECP256K1_N):
        return ZERO
    try:
        public = keys.Signature(vrs=(v - 27, r, s)).recover_public_key_from_msg_hash(digest)
    except BadSignature:
        return ZERO
    return public.to_checksum_address()


def address_of(private_key: bytes) -> str:
    return to_checksum_address(keys.PrivateKey(private_key).public_key.to_canonical_address())
