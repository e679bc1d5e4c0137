"""EIP-712: digests equal eth-account's; replay, expiry, wrong chain, wrong contract, high-s, zero
recovery and bad lengths are all rejected, for node attestations and pool invites alike."""

import boa
import pytest
from eth_account import Account
from eth_utils import keccak

from hub import signatures as sig
from tests.utils.scenario import DEADLINE, NODE_UNITS, SPECS

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def _domain_separator(name, chain_id, contract):
    typehash = keccak(text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")
    from eth_abi import encode

    return keccak(
        encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [typehash, keccak(text=name), keccak(text="1"), chain_id, contract],
        )
    )


def test_domain_separators_match(hub, pool, chain_id):
    assert hub.DOMAIN_SEPARATOR() == _domain_separator("InjectiveAiHub", chain_id, hub.address)
    assert pool.DOMAIN_SEPARATOR() == _domain_separator("ComputePool", chain_id, pool.address)


def test_type_hashes(hub, pool):
    assert hub.NODE_ATTESTATION_TYPEHASH() == keccak(
        text="NodeAttestation(address provider,address node,uint256 computeUnits,bytes32 specsHash,uint256 nonce,"
        "uint256 deadline)"
    )
    assert pool.POOL_INVITE_TYPEHASH() == keccak(
        text="PoolInvite(uint256 poolId,address node,uint256 nonce,uint256 deadline)"
    )


@pytest.mark.parametrize("units,nonce,deadline", [(1, 0, 0), (10**30, 7, DEADLINE), (2**256 - 1, 2**64, 2**256 - 1)])
def test_attestation_digest_equals_eth_account(hub, chain_id, provider, node, units, nonce, deadline):
    data = sig.node_attestation(chain_id, hub.address, provider, node.address, units, SPECS, nonce, deadline)
    assert hub.nodeAttestationDigest(provider, node.address, units, SPECS, nonce, deadline) == sig.digest(data)


@pytest.mark.parametrize("pool_id,nonce,deadline", [(1, 0, 0), (2**64, 3, DEADLINE)])
def test_invite_digest_equals_eth_account(pool, chain_id, node, pool_id, nonce, deadline):
    data = sig.pool_invite(chain_id, pool.address, pool_id, node.address, nonce, deadline)
    assert pool.poolInviteDigest(pool_id, node.address, nonce, deadline) == sig.digest(data)


# -- rejection cases, for both signature kinds ------------------------------------------------------


def _attestation(steps, provider, node, chain_id=None, contract=None):
    data = sig.node_attestation(
        chain_id or steps.chain_id,
        contract or steps.s.hub.address,
        provider,
        node.address,
        NODE_UNITS,
        SPECS,
        steps.s.registry.nodeNonce(node.address),
    )
    return sig.sign(node, data)


def _add(hub, node, signature, provider):
    hub.addComputeNode(node.address, SPECS, NODE_UNITS, signature, sender=provider)


def _invite(steps, manager, pool_id, node, chain_id=None, contract=None):
    data = sig.pool_invite(
        chain_id or steps.chain_id,
        contract or steps.s.pool.address,
        pool_id,
        node.address,
        steps.s.pool.inviteNonce(node.address),
        DEADLINE,
    )
    return sig.sign(manager, data)


def _join(pool, pool_id, node, signature):
    pool.joinComputePool(pool_id, node.address, DEADLINE, signature, sender=node.address)


ATTEST_BAD = "InjectiveAiHub: attestation not signed by the node key"
INVITE_BAD = "ComputePool: invite not signed by the pool manager"


def test_attestation_wrong_chain(hub, steps, registered, node):
    with boa.reverts(ATTEST_BAD):
        _add(hub, node, _attestation(steps, registered, node, chain_id=steps.chain_id + 1), registered)


def test_attestation_wrong_contract(hub, pool, steps, registered, node):
    with boa.reverts(ATTEST_BAD):
        _add(hub, node, _attestation(steps, registered, node, contract=pool.address), registered)


def test_invite_wrong_chain(pool, steps, active_pool, validated_node, pool_manager):
    with boa.reverts(INVITE_BAD):
        _join(
            pool,
            active_pool,
            validated_node,
            _invite(steps, pool_manager, active_pool, validated_node, chain_id=steps.chain_id + 1),
        )


def test_invite_wrong_contract(pool, hub, steps, active_pool, validated_node, pool_manager):
    with boa.reverts(INVITE_BAD):
        _join(
            pool,
            active_pool,
            validated_node,
            _invite(steps, pool_manager, active_pool, validated_node, contract=hub.address),
        )


def _high_s(signature: bytes) -> bytes:
    r, s, v = signature[:32], int.from_bytes(signature[32:64], "big"), signature[64]
    return r + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])  # the malleable twin (27 <-> 28)


def test_attestation_high_s(hub, steps, registered, node):
    twin = _high_s(_attestation(steps, registered, node))
    # the twin recovers to the same key in raw ecrecover; the contract must still refuse it
    with boa.reverts("EIP712: malleable signature (high s)"):
        _add(hub, node, twin, registered)


def test_invite_high_s(pool, steps, active_pool, validated_node, pool_manager):
    with boa.reverts("EIP712: malleable signature (high s)"):
        _join(pool, active_pool, validated_node, _high_s(_invite(steps, pool_manager, active_pool, validated_node)))


@pytest.mark.parametrize("v", [0, 1, 29])
def test_bad_v(hub, steps, registered, node, v):
    signature = _attestation(steps, registered, node)
    with boa.reverts("EIP712: invalid signature v"):
        _add(hub, node, signature[:64] + bytes([v]), registered)


def test_zero_address_recovery(hub, registered, node):
    # r = 0 makes ecrecover fail and return the zero address
    with boa.reverts("EIP712: invalid signature"):
        _add(hub, node, b"\x00" * 32 + (1).to_bytes(32, "big") + bytes([27]), registered)


def test_short_signature(hub, steps, registered, node):
    with boa.reverts("EIP712: signature must be 65 bytes"):
        _add(hub, node, _attestation(steps, registered, node)[:64], registered)


def test_attestation_replay_after_use(hub, steps, registered, node):
    signature = _attestation(steps, registered, node)
    _add(hub, node, signature, registered)
    hub.removeComputeNode(node.address, sender=registered)
    with boa.reverts(ATTEST_BAD):
        _add(hub, node, signature, registered)


def test_invite_replay_after_use(pool, steps, active_pool, validated_node, pool_manager):
    signature = _invite(steps, pool_manager, active_pool, validated_node)
    _join(pool, active_pool, validated_node, signature)
    pool.leaveComputePool(active_pool, validated_node.address, sender=validated_node.address)
    with boa.reverts(INVITE_BAD):
        _join(pool, active_pool, validated_node, signature)


def test_attestation_for_another_provider_cannot_be_stolen(hub, steps, registered, other_provider, node):
    signature = _attestation(steps, registered, node)
    hub.registerProvider(sender=other_provider, value=50 * 10**18)
    with boa.reverts(ATTEST_BAD):
        _add(hub, node, signature, other_provider)


def test_random_key_signature_refused(hub, steps, registered, node):
    stranger = Account.create()
    data = sig.node_attestation(steps.chain_id, hub.address, registered, node.address, NODE_UNITS, SPECS, 0)
    with boa.reverts(ATTEST_BAD):
        _add(hub, node, sig.sign(stranger, data), registered)
