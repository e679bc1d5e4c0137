"""The ghost model's fast EIP-712 code against the two references it stands in for: `hub.signatures`
(eth-account typed data, what clients sign with) and the contracts' own digest views and signature
checks. If these drift apart, the state machines would predict the wrong signer or revert."""

from __future__ import annotations

import boa
from eth_account import Account
from hypothesis import given
from hypothesis import strategies as st

from fuzz import sigs
from fuzz.machine import ADMIN, FEDERATOR, VALIDATOR
from fuzz.system import deploy
from hub import signatures
from hub.contracts import SystemParams

ADDRESSES = st.binary(min_size=20, max_size=20).map(lambda b: Account.from_key(b"\x01" * 12 + b).address)
UINTS = st.integers(min_value=0, max_value=2**256 - 1)
KEYS = st.binary(min_size=32, max_size=32).filter(lambda k: 0 < int.from_bytes(k, "big") < sigs.SECP256K1_N)


def _system():
    return deploy(ADMIN, FEDERATOR, VALIDATOR, SystemParams())


@given(provider=ADDRESSES, node=ADDRESSES, units=UINTS, uri=st.text(max_size=40), nonce=UINTS, deadline=UINTS)
def test_attestation_digest_matches_eth_account_and_the_hub(provider, node, units, uri, nonce, deadline):
    with boa.env.anchor():
        s = _system()
        chain_id = boa.env.evm.patch.chain_id
        ours = sigs.attestation_digest(chain_id, s.hub.address, provider, node, units, uri, nonce, deadline)
        typed = signatures.node_attestation(chain_id, s.hub.address, provider, node, units, uri, nonce, deadline)
        assert ours == signatures.digest(typed)
        assert ours == s.hub.nodeAttestationDigest(provider, node, units, uri, nonce, deadline)


@given(pool_id=UINTS, node=ADDRESSES, nonce=UINTS, deadline=UINTS)
def test_invite_digest_matches_eth_account_and_the_pool(pool_id, node, nonce, deadline):
    with boa.env.anchor():
        s = _system()
        chain_id = boa.env.evm.patch.chain_id
        ours = sigs.invite_digest(chain_id, s.pool.address, pool_id, node, nonce, deadline)
        assert ours == signatures.digest(
            signatures.pool_invite(chain_id, s.pool.address, pool_id, node, nonce, deadline)
        )
        assert ours == s.pool.poolInviteDigest(pool_id, node, nonce, deadline)


@given(key=KEYS, digest=st.binary(min_size=32, max_size=32))
def test_sign_and_recover_agree_with_eth_account(key, digest):
    signature = sigs.sign(key, digest)
    expected = Account.unsafe_sign_hash(digest, key)
    assert signature == bytes(expected.signature)
    assert sigs.recover(digest, signature) == sigs.address_of(key) == Account.from_key(key).address
