# pragma version 0.4.3
"""
@title ReentrantReceiver
@license MIT
@notice Test-only attacker: an account that can act as provider, pool creator or treasury, and that
        tries one reentrant call (armed beforehand) when it receives INJ.
"""

# @dev The armed reentrant call.
target: public(address)
payload: public(Bytes[1024])

# @dev True: revert when the reentrant call fails (so the payer's transfer fails too).
bubble: public(bool)

# @dev Reentrant calls tried, and whether the last one succeeded.
attempts: public(uint256)
reentered: public(bool)

# @dev Total INJ received.
received: public(uint256)


@external
def arm(target: address, payload: Bytes[1024], bubble: bool):
    self.target = target
    self.payload = payload
    self.bubble = bubble


@external
def execute(target: address, data: Bytes[2048], amount: uint256):
    raw_call(target, data, value=amount)


@payable
@external
def __default__():
    self.received += msg.value
    if self.target != empty(address) and self.attempts == 0:
        self.attempts += 1
        ok: bool = raw_call(self.target, self.payload, revert_on_failure=False)
        self.reentered = ok
        if self.bubble:
            assert ok, "reentrancy blocked"
