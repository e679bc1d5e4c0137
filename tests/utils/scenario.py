"""Constants, steps and event helpers the contract tests share."""

from __future__ import annotations

from eth_utils import keccak

from hub import signatures as sig
from hub.contracts import INJ

MIN_STAKE = INJ  # per compute unit
UNBONDING = 1_000
RATE = 1_000  # work units per compute unit per second
REWARD_PER_UNIT = 10**9
CHALLENGE_WINDOW = 600
BUDGET = 100 * INJ
NODE_UNITS = 10
STAKE = 50 * INJ
SPECS = "ipfs://bafy-node-specs"
METADATA_URI = "file:///pools/llama-tiny.json"
METADATA_HASH = b"\x42" * 32
DEADLINE = 2**40
VALIDATOR_ROLE = keccak(text="VALIDATOR_ROLE")
FEDERATOR_ROLE = keccak(text="FEDERATOR_ROLE")
ADMIN_ROLE = b"\x00" * 32


class Steps:
    """The actions tests compose, each done the way a client would do it."""

    def __init__(self, system, chain_id):
        self.s = system
        self.chain_id = chain_id

    def attest(self, provider, node, units=NODE_UNITS, specs=SPECS, nonce=None, deadline=sig.NO_DEADLINE):
        if nonce is None:
            nonce = self.s.registry.nodeNonce(node.address)
        data = sig.node_attestation(
            self.chain_id, self.s.hub.address, provider, node.address, units, specs, nonce, deadline
        )
        return sig.sign(node, data)

    def add_node(self, provider, node, units=NODE_UNITS, specs=SPECS):
        self.s.hub.addComputeNode(
            node.address, specs, units, self.attest(provider, node, units, specs), sender=provider
        )

    def invite(self, manager, pool_id, node_address, deadline=DEADLINE, nonce=None):
        if nonce is None:
            nonce = self.s.pool.inviteNonce(node_address)
        data = sig.pool_invite(self.chain_id, self.s.pool.address, pool_id, node_address, nonce, deadline)
        return sig.sign(manager, data)

    def join(self, pool_id, node, manager, sender=None):
        self.s.pool.joinComputePool(
            pool_id, node.address, DEADLINE, self.invite(manager, pool_id, node.address), sender=sender or node.address
        )

    def create_pool(self, creator, domain_id, manager, budget=BUDGET, limit=0, window=CHALLENGE_WINDOW):
        return self.s.pool.createComputePool(
            domain_id,
            manager,
            METADATA_URI,
            METADATA_HASH,
            limit,
            REWARD_PER_UNIT,
            window,
            sender=creator,
            value=budget,
        )

    def ready_provider(self, provider, node, validator, stake=STAKE):
        """Registered, whitelisted, with one validated node."""
        self.s.hub.registerProvider(sender=provider, value=stake)
        self.add_node(provider, node)
        self.s.hub.validateNode(node.address, sender=validator)
        self.s.hub.whitelistProvider(provider, sender=validator)


def events(contract, name: str) -> list:
    """Decoded events called `name` from the last call made through `contract` (child calls included)."""
    return [e for e in contract.get_logs(strict=False) if type(e).__name__ == name]


def one_event(contract, name: str):
    found = events(contract, name)
    assert len(found) == 1, f"expected one {name} event, got {len(found)}"
    return found[0]
