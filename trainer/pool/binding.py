"""The bond between a node key on chain and a libp2p peer in the swarm.

A node key signs (EIP-191) "this peer id trains for me in this pool on this chain". The trainer
puts that signature into its signed DHT progress records, so an auditor that reads a record knows
both who did the work (the RSA key that signed the record is the peer) and which node key claims
it on chain. Nobody can attach someone else's node key to their records: the auditor recovers the
address from the signature.
"""

from __future__ import annotations

from typing import Any


def binding_text(chain_id: int, pool_id: int, peer_id: str) -> str:
    """The exact text a node key signs to bind `peer_id` to itself in `pool_id` on `chain_id`."""
    return f"injective-ai-hub: node key binds libp2p peer {peer_id} in pool {pool_id} on chain {chain_id}"


def sign_binding(account: Any, chain_id: int, pool_id: int, peer_id: str) -> str:
    """0x-hex EIP-191 signature of the binding text by the node key `account` (a LocalAccount)."""
    from eth_account.messages import encode_defunct

    signed = account.sign_message(encode_defunct(text=binding_text(chain_id, pool_id, peer_id)))
    return "0x" + bytes(signed.signature).hex()


def bound_node(signature: str, chain_id: int, pool_id: int, peer_id: str) -> str | None:
    """The node address that signed the binding of `peer_id`, or None if the signature is unreadable."""
    from eth_account import Account
    from eth_account.messages import encode_defunct

    try:
        return Account.recover_message(
            encode_defunct(text=binding_text(chain_id, pool_id, peer_id)), signature=signature
        )
    except Exception:  # malformed signatures are just "no binding"
        return None
