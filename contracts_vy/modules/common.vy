# pragma version 0.4.3
# pragma nonreentrancy off
# The lock is set by the contracts that use this module: its only external call is the native
# transfer in _send, which they make from functions they lock themselves.
"""
@title Shared pieces of the injective-ai-hub contracts
@license MIT
@notice What several contracts would otherwise repeat, written once: the batch bound, the
        validator role id, the stake-minimum formula, the caller checks (hub only, compute pool
        only), the wire-once check, the native send and address unpacking. Stateless: contracts
        import it and call it; revert reasons are passed in so each keeps its "<contract>: ..."
        prefix.
"""

# @dev At most this many items (nodes or work keys) per batch call (docs/SPEC.md 10).
MAX_BATCH: constant(uint256) = 64

# @dev keccak256("VALIDATOR_ROLE"): the hub's validator role id; modules ask the hub at call time.
VALIDATOR_ROLE: constant(bytes32) = keccak256("VALIDATOR_ROLE")


@internal
@pure
def _minimum_stake(total_compute: uint256, per_unit: uint256) -> uint256:
    """@dev calculateMinimumStake: one unit of base stake plus one per compute unit (SPEC 3.2)."""
    return (total_compute + 1) * per_unit


@internal
@view
def _only(expected: address, reason: String[64]):
    """@dev Revert with `reason` unless the caller is `expected` (the hub or the compute pool)."""
    assert msg.sender == expected, reason


@internal
@pure
def _wire_once(current: address, reason: String[64]):
    """@dev Revert with `reason` if a module address is already set: wiring happens once."""
    assert current == empty(address), reason


@internal
def _send(to: address, amount: uint256, reason: String[64]):
    """@dev Send `amount` wei to `to` with all gas (never the 2,300-gas stipend); revert with `reason` if it fails."""
    ok: bool = raw_call(to, b"", value=amount, revert_on_failure=False)
    assert ok, reason


@internal
@pure
def _address_of(word: uint256) -> address:
    """@dev The address in the low 160 bits of a packed word."""
    return convert(convert(word & (2**160 - 1), uint160), address)
