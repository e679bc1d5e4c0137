# pragma version 0.4.3
# pragma nonreentrancy off
# The lock is not needed here (hashing and signature recovery only; no state change after deploy);
# the contracts that use this module turn it on for their own functions.
"""
@title EIP-712 typed-data hashing and strict signature recovery
@license MIT
@notice Domain {name, version, chainId, verifyingContract}. The separator is cached at deploy and
        rebuilt if the chain id changes (a fork), so a signature for one chain or one contract
        never verifies on another.
@custom:security `_recover` rejects everything ecrecover would accept loosely: lengths other than
        65, v other than 27/28, high-s (malleable) signatures and zero-address recoveries.
"""

# @dev keccak256 of the EIP-712 domain type string.
_DOMAIN_TYPEHASH: constant(bytes32) = keccak256(
    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)

# @dev secp256k1 group order / 2: larger s values are the malleable twin of a valid signature.
# (0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0)
_SECP256K1N_HALF: constant(uint256) = (
    57896044618658097711785492504343953926418782139537452191302581570759080747168
)

# @dev keccak256 of the domain name and version strings.
_HASHED_NAME: immutable(bytes32)
_HASHED_VERSION: immutable(bytes32)

# @dev Chain id and address the cached separator was built for.
_CACHED_CHAIN_ID: immutable(uint256)
_CACHED_SELF: immutable(address)
_CACHED_DOMAIN_SEPARATOR: immutable(bytes32)


@deploy
def __init__(name: String[50], version: String[20]):
    _HASHED_NAME = keccak256(name)
    _HASHED_VERSION = keccak256(version)
    _CACHED_CHAIN_ID = chain.id
    _CACHED_SELF = self
    _CACHED_DOMAIN_SEPARATOR = self._build_domain_separator()


@external
@view
def DOMAIN_SEPARATOR() -> bytes32:
    """
    @notice The EIP-712 domain separator signers must use for this contract on this chain.
    @return The separator hash.
    """
    return self._domain_separator()


@internal
@view
def _domain_separator() -> bytes32:
    """@dev The domain separator, rebuilt if the chain id changed since deployment."""
    if chain.id == _CACHED_CHAIN_ID and self == _CACHED_SELF:
        return _CACHED_DOMAIN_SEPARATOR
    return self._build_domain_separator()


@internal
@view
def _build_domain_separator() -> bytes32:
    """@dev The domain separator for the current chain id and this contract."""
    return keccak256(abi_encode(_DOMAIN_TYPEHASH, _HASHED_NAME, _HASHED_VERSION, chain.id, self))


@internal
@view
def _hash_typed_data(struct_hash: bytes32) -> bytes32:
    """@dev The EIP-712 digest of a struct hash under this contract's domain."""
    return keccak256(concat(x"1901", self._domain_separator(), struct_hash))


@internal
@pure
def _recover(digest: bytes32, signature: Bytes[65]) -> address:
    """@dev The signer of `digest`, refusing malformed, high-s and zero recoveries."""
    assert len(signature) == 65, "EIP712: signature must be 65 bytes"
    r: uint256 = extract32(signature, 0, output_type=uint256)
    s: uint256 = extract32(signature, 32, output_type=uint256)
    v: uint256 = convert(slice(signature, 64, 1), uint256)
    assert s <= _SECP256K1N_HALF, "EIP712: malleable signature (high s)"
    assert v == 27 or v == 28, "EIP712: invalid signature v"
    signer: address = ecrecover(digest, v, r, s)
    assert signer != empty(address), "EIP712: invalid signature"
    return signer
