"""EIP-712 messages the contracts verify, built and signed with eth-account.

A provider never hand-builds a signature: the node key signs a NodeAttestation for
`InjectiveAiHub.addComputeNode`, the pool manager key signs a PoolInvite for
`ComputePool.joinComputePool`. The field lists here must match the type hashes in the contracts;
tests compare these digests with the contracts' own `nodeAttestationDigest` / `poolInviteDigest`.
"""

from __future__ import annotations

from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak

NO_DEADLINE = 2**256 - 1

_DOMAIN_TYPE = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]

NODE_ATTESTATION_TYPE = [
    {"name": "provider", "type": "address"},
    {"name": "node", "type": "address"},
    {"name": "computeUnits", "type": "uint256"},
    {"name": "specsHash", "type": "bytes32"},
    {"name": "nonce", "type": "uint256"},
    {"name": "deadline", "type": "uint256"},
]

POOL_INVITE_TYPE = [
    {"name": "poolId", "type": "uint256"},
    {"name": "node", "type": "address"},
    {"name": "nonce", "type": "uint256"},
    {"name": "deadline", "type": "uint256"},
]


def _typed(name: str, chain_id: int, contract: str, primary: str, fields: list, message: dict) -> dict[str, Any]:
    return {
        "types": {"EIP712Domain": _DOMAIN_TYPE, primary: fields},
        "primaryType": primary,
        "domain": {"name": name, "version": "1", "chainId": chain_id, "verifyingContract": contract},
        "message": message,
    }


def node_attestation(
    chain_id: int,
    hub: str,
    provider: str,
    node: str,
    compute_units: int,
    specs_uri: str,
    nonce: int,
    deadline: int = NO_DEADLINE,
) -> dict[str, Any]:
    """The typed data a node key signs so that `provider` may add it with `compute_units`."""
    message = {
        "provider": provider,
        "node": node,
        "computeUnits": compute_units,
        "specsHash": keccak(text=specs_uri),
        "nonce": nonce,
        "deadline": deadline,
    }
    return _typed("InjectiveAiHub", chain_id, hub, "NodeAttestation", NODE_ATTESTATION_TYPE, message)


def pool_invite(
    chain_id: int, pool_contract: str, pool_id: int, node: str, nonce: int, deadline: int
) -> dict[str, Any]:
    """The typed data a pool's manager key signs to invite `node` into pool `pool_id`."""
    message = {"poolId": pool_id, "node": node, "nonce": nonce, "deadline": deadline}
    return _typed("ComputePool", chain_id, pool_contract, "PoolInvite", POOL_INVITE_TYPE, message)


def digest(typed_data: dict[str, Any]) -> bytes:
    """The 32-byte EIP-712 digest of typed data (what the contracts recompute)."""
    signable = encode_typed_data(full_message=typed_data)
    return keccak(b"\x19" + signable.version + signable.header + signable.body)


def sign(private_key: bytes | str | Any, typed_data: dict[str, Any]) -> bytes:
    """65-byte r||s||v signature (v in {27, 28}, low s) of typed data by a key or LocalAccount."""
    signed = Account.sign_message(encode_typed_data(full_message=typed_data), private_key=_key(private_key))
    return bytes(signed.signature)


def _key(account: bytes | str | Any) -> bytes | str:
    return getattr(account, "key", account)
