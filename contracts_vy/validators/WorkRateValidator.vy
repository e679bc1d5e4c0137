# pragma version 0.4.3
# pragma evm-version prague
"""
@title WorkRateValidator
@license MIT
@notice The default work-validation contract a domain can point to. A node may claim at most
        `MAX_UNITS_PER_COMPUTE_UNIT_PER_SECOND` work units per compute unit per second of active
        membership since its previous submission (SPEC 7.3, Rule R15). For LLaMA training a work unit is a
        token processed, so the rate is the fastest token throughput one compute unit may claim.
@custom:security Stateless and immutable. It bounds self-reported work; it does not prove it
        (the aux peer audits claims against signed progress records and invalidates lies).
"""

from interfaces import IWorkValidation

implements: IWorkValidation

# @dev Work units one compute unit may claim per second.
MAX_UNITS_PER_COMPUTE_UNIT_PER_SECOND: public(immutable(uint256))


@deploy
def __init__(max_units_per_compute_unit_per_second: uint256):
    """
    @param max_units_per_compute_unit_per_second The claim rate cap, > 0.
    """
    assert max_units_per_compute_unit_per_second > 0, "WorkRateValidator: zero rate"
    MAX_UNITS_PER_COMPUTE_UNIT_PER_SECOND = max_units_per_compute_unit_per_second


@external
@view
def validateWork(
    poolId: uint256, node: address, computeUnits: uint256, workUnits: uint256, elapsed: uint256
) -> bool:
    """
    @notice Whether `node` may claim `workUnits` after `elapsed` seconds of work (SPEC 9). Never reverts.
    @param poolId The pool (unused by this rule; part of the interface).
    @param node The node key (unused by this rule).
    @param computeUnits The node's registered compute units.
    @param workUnits The units claimed.
    @param elapsed Seconds the pool was ACTIVE and the node a member since its previous submission (SPEC 7.3).
    @return True when the claim is within the rate.
    """
    # SPEC 9: workUnits <= computeUnits * rate * elapsed, without overflow and without reverting
    if computeUnits == 0 or elapsed == 0:
        return workUnits == 0
    if computeUnits > max_value(uint256) // MAX_UNITS_PER_COMPUTE_UNIT_PER_SECOND:
        # the per-second capacity alone exceeds 2**256 - 1: any claim fits in one second
        return True
    per_second: uint256 = computeUnits * MAX_UNITS_PER_COMPUTE_UNIT_PER_SECOND
    # seconds the claim needs, rounded up (in favour of the pool); no addition, so no overflow
    needed: uint256 = workUnits // per_second
    if workUnits % per_second != 0:
        needed += 1
    return needed <= elapsed
