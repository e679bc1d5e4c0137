# pragma version 0.4.3
# pragma evm-version prague
"""
@title MaliciousReceiver
@license MIT
@notice The one attacker contract of the tests and the fuzz suite: it acts as a provider, pool
        creator or treasury by forwarding calls, and misbehaves when it is paid. Mode ACCEPT takes
        the INJ; mode REENTER calls back into the payer (the call it was paid from, configured per
        call) and counts whether that re-entry succeeded; mode REENTER_OR_REVERT does the same and
        reverts the payment when the re-entry fails (the payer sees its transfer fail); mode
        REFUSE reverts, so every payment to it fails.
@custom:security Test code only, never deployed outside Titanoboa.
"""

# @dev What the receiver does when it is paid.
ACCEPT: public(constant(uint256)) = 0
REENTER: public(constant(uint256)) = 1
REFUSE: public(constant(uint256)) = 2
REENTER_OR_REVERT: public(constant(uint256)) = 3

# @dev Longest calldata / returndata the receiver forwards.
_MAX_DATA: constant(uint256) = 4096

# @dev Current behaviour on payment.
mode: public(uint256)

# @dev The call it makes when paid in REENTER mode.
reentryTarget: public(address)
reentryData: public(Bytes[_MAX_DATA])

# @dev How many re-entries it tried, and how many of them did not revert.
reentryAttempts: public(uint256)
reentrySuccesses: public(uint256)

# @dev Total INJ it was paid.
received: public(uint256)


@external
def configure(mode: uint256, target: address, data: Bytes[_MAX_DATA]):
    """
    @notice Set the behaviour on payment and the call to re-enter with.
    @param mode ACCEPT, REENTER, REFUSE or REENTER_OR_REVERT.
    @param target Where to re-enter.
    @param data The re-entry calldata.
    """
    assert mode <= REENTER_OR_REVERT, "MaliciousReceiver: bad mode"
    self.mode = mode
    self.reentryTarget = target
    self.reentryData = data


@payable
@external
def execute(target: address, data: Bytes[_MAX_DATA]) -> Bytes[_MAX_DATA]:
    """
    @notice Call `target` as this contract, forwarding `msg.value`; reverts bubble up unchanged.
    @param target The contract to call.
    @param data The calldata.
    @return The returndata.
    """
    ok: bool = False
    out: Bytes[_MAX_DATA] = b""
    ok, out = raw_call(target, data, value=msg.value, max_outsize=_MAX_DATA, revert_on_failure=False)
    if not ok:
        raw_revert(out)
    return out


@payable
@external
def __default__():
    mode: uint256 = self.mode
    if mode == REFUSE:
        raise "MaliciousReceiver: payment refused"
    self.received += msg.value
    if mode == REENTER or mode == REENTER_OR_REVERT:
        self.reentryAttempts += 1
        if raw_call(self.reentryTarget, self.reentryData, revert_on_failure=False):
            self.reentrySuccesses += 1
        elif mode == REENTER_OR_REVERT:
            raise "MaliciousReceiver: re-entry blocked"
