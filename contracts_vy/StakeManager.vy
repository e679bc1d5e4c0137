# pragma version 0.4.3
# pragma evm-version prague
# pragma nonreentrancy on
"""
@title StakeManager
@license MIT
@notice Holds every provider's stake in native INJ. Stake leaves only through an unbond queue with
        a fixed unbonding period, or through a slash that is held here for the treasury. Solvency:
        this contract's balance always equals the sum of active stakes, pending unbonds and
        `slashedPending`.
@custom:security Only the hub moves stake in (stake), between buckets (unbond, rebond) or out to
        the treasury bucket (slash); the compute pool may also slash (hard work invalidation).
        Withdrawals are pulled by the account itself and can never be blocked: there is no pause,
        and a slash that reaches the queue takes the newest (least matured) entries first, never
        leaving holes. Slashed INJ goes only to the hub's treasury, via `sweepSlashed`. The
        governance contract (set once by the hub's admin) can only delay a voter's next unbond
        until the vote it cast ends, at most UNBONDING_PERIOD ahead (SPEC 12.3); it cannot touch
        withdrawals. Spec: docs/SPEC.md 5 (calls, bounds), 3.3 (slashing) and 12.3 (vote locks);
        Rules R1, R6, R11, R22.
"""

from interfaces import IStakeManager
from interfaces import IInjectiveAiHub
from interfaces import IAccessControl
from modules import common

implements: IStakeManager

# @dev At most this many pending unbonds per account; `withdraw`, `rebond` and `slash` loop over
#      at most this many entries.
MAX_PENDING_UNBONDS: public(constant(uint256)) = 16

# @dev Revert reason of the hub-only functions.
_NOT_HUB: constant(String[64]) = "StakeManager: caller is not the hub"

# @dev Stakes and unbond amounts are stored in 128 bits; 2**128 wei is 3.4e20 INJ, far above supply.
_MAX_AMOUNT: constant(uint256) = 2**128 - 1

# @dev The hub: the only contract that may stake, unbond, rebond and (with the pool) slash.
HUB: public(immutable(address))

# @dev Seconds between an unbond and the moment it can be withdrawn.
UNBONDING_PERIOD: public(immutable(uint256))

# @dev The compute pool, allowed to slash on hard work invalidation. Wired once by the hub.
computePool: public(address)

# @dev Per account, one word: active stake (bits 0-127) | queue head (128-191) | queue tail
#      (192-255). One word so that a stake change and a queue move cost a single storage write.
_account: HashMap[address, uint256]

# @dev Per account, queue index => one unbond: amount (bits 0-127) | maturity timestamp (128-255).
#      Live entries are the indices [head, tail); every live entry has a non-zero amount.
_unbonds: HashMap[address, HashMap[uint256, uint256]]

# @dev Slashed INJ waiting to be swept to the treasury.
slashedPending: public(uint256)

# @dev The governance contract, allowed to lock a voter's stake until its vote ends. Set once by
#      the hub's admin; zero until then (no locks).
governance: public(address)

# @dev Per account, the second from which its active stake may unbond again: the end of the
#      latest vote it cast (SPEC 12.3). Withdrawals of what is already unbonding never check it.
voteLockedUntil: public(HashMap[address, uint256])


@deploy
def __init__(hub: address, unbonding_period: uint256):
    """
    @param hub The InjectiveAiHub address.
    @param unbonding_period Seconds an unbond waits before it can be withdrawn (at least 1).
    """
    assert hub != empty(address), "StakeManager: zero hub"
    assert unbonding_period > 0, "StakeManager: zero unbonding period"
    HUB = hub
    UNBONDING_PERIOD = unbonding_period


# ---------------------------------------------------------------------------------------------
# Wiring
# ---------------------------------------------------------------------------------------------

@external
def wire(computePool_: address):
    """
    @notice Record the compute pool (allowed to slash). Called once, by the hub.
    @param computePool_ The ComputePool address.
    """
    common._only(HUB, _NOT_HUB)
    common._wire_once(self.computePool, "StakeManager: already wired")
    assert computePool_ != empty(address), "StakeManager: zero address"
    self.computePool = computePool_


@external
def setGovernance(governance_: address):
    """
    @notice Record the governance contract, which may lock voters' stake until their votes end.
            Once, by an account holding the hub's DEFAULT_ADMIN role (SPEC 12.3).
    @param governance_ The Governance contract.
    """
    assert staticcall IAccessControl(HUB).hasRole(empty(bytes32), msg.sender), "StakeManager: caller is not the hub admin"
    common._wire_once(self.governance, "StakeManager: governance already set")
    assert governance_.is_contract, "StakeManager: governance is not a contract"
    self.governance = governance_
    log IStakeManager.GovernanceSet(governance=governance_)


# ---------------------------------------------------------------------------------------------
# Governance: vote locks
# ---------------------------------------------------------------------------------------------

@external
def lockForVote(account: address, until: uint256):
    """
    @notice Keep `account`'s active stake from unbonding until `until` (the end of a vote it cast).
            Governance only; a lock only ever extends, and never beyond UNBONDING_PERIOD from now.
    @param account The voter.
    @param until The end of the vote, at most now + UNBONDING_PERIOD.
    """
    common._only(self.governance, "StakeManager: caller is not governance")
    assert until <= block.timestamp + UNBONDING_PERIOD, "StakeManager: vote lock beyond the unbonding period"
    if until > self.voteLockedUntil[account]:
        self.voteLockedUntil[account] = until
        log IStakeManager.VoteLocked(account=account, until=until)


# ---------------------------------------------------------------------------------------------
# Hub-only state changes
# ---------------------------------------------------------------------------------------------

@external
@payable
def stake(account: address):
    """
    @notice Add `msg.value` to `account`'s active stake. Hub only.
    @param account The provider.
    """
    common._only(HUB, _NOT_HUB)
    assert msg.value > 0, "StakeManager: zero stake"
    word: uint256 = self._account[account]
    active: uint256 = self._stake(word) + msg.value
    assert active <= _MAX_AMOUNT, "StakeManager: stake too large"
    self._account[account] = self._with_stake(word, active)
    log IStakeManager.Staked(account=account, amount=msg.value, stake=active)


@external
def unbond(account: address, amount: uint256):
    """
    @notice Move `amount` of active stake into the unbond queue. Hub only (it checks the minimum).
    @dev An unbond created in the same second as the newest entry merges into it: same maturity,
         so no older funds are ever locked longer.
    @param account The provider.
    @param amount Wei to unbond; at most the active stake.
    """
    common._only(HUB, _NOT_HUB)
    assert amount > 0, "StakeManager: zero amount"
    # stake that voted stays active until the vote ends, so it cannot vote again elsewhere (SPEC 12.3)
    assert self.voteLockedUntil[account] <= block.timestamp, "StakeManager: stake locked by a vote until it ends"
    word: uint256 = self._account[account]
    active: uint256 = self._stake(word)
    assert amount <= active, "StakeManager: amount exceeds stake"
    head: uint256 = self._head(word)
    tail: uint256 = self._tail(word)
    maturity: uint256 = block.timestamp + UNBONDING_PERIOD
    if tail > head and self._maturity(self._unbonds[account][tail - 1]) == maturity:
        entry: uint256 = self._unbonds[account][tail - 1]
        merged: uint256 = self._amount(entry) + amount
        # a restake in between can make two same-second unbonds exceed what one entry holds
        assert merged <= _MAX_AMOUNT, "StakeManager: unbond too large"
        self._unbonds[account][tail - 1] = self._entry(merged, maturity)
    else:
        assert tail - head < MAX_PENDING_UNBONDS, "StakeManager: unbond queue full, withdraw first"
        self._unbonds[account][tail] = self._entry(amount, maturity)
        tail += 1
    # active >= amount was checked above
    self._account[account] = self._pack(unsafe_sub(active, amount), head, tail)
    log IStakeManager.Unbonded(
        account=account, amount=amount, maturity=maturity, stake=unsafe_sub(active, amount)
    )


@external
def rebond(account: address, amount: uint256):
    """
    @notice Move `amount` from the unbond queue back to active stake, newest entries first. Hub only.
    @param account The provider.
    @param amount Wei to rebond; at most what is unbonding.
    """
    common._only(HUB, _NOT_HUB)
    assert amount > 0, "StakeManager: zero amount"
    word: uint256 = self._account[account]
    taken: uint256 = 0
    tail: uint256 = 0
    taken, tail = self._take_from_queue(account, word, amount)
    assert taken == amount, "StakeManager: amount exceeds unbonding"
    active: uint256 = self._stake(word) + amount
    # active plus pending may exceed 128 bits (stake, unbond, stake again): check before packing
    assert active <= _MAX_AMOUNT, "StakeManager: stake too large"
    self._account[account] = self._pack(active, self._head(word), tail)
    log IStakeManager.Rebonded(account=account, amount=amount, stake=active)


@external
def slash(account: address, amount: uint256, slasher: address, reason: String[128]) -> uint256:
    """
    @notice Take up to `amount` from `account` (active stake first, then unbonds newest first) and
            hold it for the treasury. Hub or compute pool only; they check the caller's role and
            cap `amount` per incident (SPEC 3.3). Never reverts for lack of stake: it takes what
            exists, possibly nothing, so a hard invalidation always voids (Rule R7).
    @param account The provider being slashed.
    @param amount The most to take; the slash is capped by what the account has (0 takes nothing).
    @param slasher The validator who ordered the slash (recorded, never paid).
    @param reason Why, for the record.
    @return The amount actually slashed.
    """
    assert msg.sender == HUB or msg.sender == self.computePool, "StakeManager: caller not allowed"
    word: uint256 = self._account[account]
    active: uint256 = self._stake(word)
    from_stake: uint256 = min(amount, active)
    from_queue: uint256 = 0
    tail: uint256 = self._tail(word)
    if from_stake < amount:
        from_queue, tail = self._take_from_queue(account, word, unsafe_sub(amount, from_stake))
    slashed: uint256 = from_stake + from_queue
    if slashed == 0:
        # nothing to take: no state change and no event (an empty Slashed event would read as a slash)
        return 0
    self._account[account] = self._pack(unsafe_sub(active, from_stake), self._head(word), tail)
    self.slashedPending += slashed
    log IStakeManager.Slashed(
        account=account,
        slasher=slasher,
        requested=amount,
        slashed=slashed,
        fromStake=from_stake,
        fromUnbonding=from_queue,
        reason=reason,
    )
    return slashed


# ---------------------------------------------------------------------------------------------
# Exits: anyone, for themselves (withdraw) or for the treasury (sweep)
# ---------------------------------------------------------------------------------------------

@external
def withdraw() -> uint256:
    """
    @notice Pay the caller every matured unbond. Never paused, never blocked by slashes.
    @return The amount paid.
    """
    word: uint256 = self._account[msg.sender]
    head: uint256 = self._head(word)
    tail: uint256 = self._tail(word)
    total: uint256 = 0
    for _: uint256 in range(MAX_PENDING_UNBONDS):
        if head == tail:
            break
        entry: uint256 = self._unbonds[msg.sender][head]
        if self._maturity(entry) > block.timestamp:
            break
        total += self._amount(entry)
        self._unbonds[msg.sender][head] = 0
        head += 1
    assert total > 0, "StakeManager: nothing matured to withdraw"
    if head == tail:
        # the queue is empty: restart it at 0 so the next unbond writes fresh slots
        head = 0
        tail = 0
    self._account[msg.sender] = self._pack(self._stake(word), head, tail)
    log IStakeManager.Withdrawn(account=msg.sender, amount=total)
    common._send(msg.sender, total, "StakeManager: INJ transfer failed")
    return total


@external
def sweepSlashed() -> uint256:
    """
    @notice Send all slashed INJ held here to the hub's current treasury. Anyone may call.
    @return The amount sent.
    """
    amount: uint256 = self.slashedPending
    assert amount > 0, "StakeManager: nothing to sweep"
    treasury: address = staticcall IInjectiveAiHub(HUB).treasury()
    self.slashedPending = 0
    log IStakeManager.SlashedSwept(treasury=treasury, amount=amount)
    common._send(treasury, amount, "StakeManager: INJ transfer failed")
    return amount


# ---------------------------------------------------------------------------------------------
# Views
# ---------------------------------------------------------------------------------------------

@external
@view
def stakeOf(account: address) -> uint256:
    """
    @notice Active stake of `account`.
    @param account The provider.
    @return Wei.
    """
    return self._stake(self._account[account])


@external
@view
def unbondingOf(account: address) -> uint256:
    """
    @notice Total of `account`'s pending unbonds, matured or not.
    @param account The provider.
    @return Wei.
    """
    word: uint256 = self._account[account]
    total: uint256 = 0
    for i: uint256 in range(self._head(word), self._tail(word), bound=MAX_PENDING_UNBONDS):
        total += self._amount(self._unbonds[account][i])
    return total


@external
@view
def withdrawableOf(account: address) -> uint256:
    """
    @notice What `withdraw` would pay `account` now.
    @param account The provider.
    @return Wei.
    """
    word: uint256 = self._account[account]
    total: uint256 = 0
    for i: uint256 in range(self._head(word), self._tail(word), bound=MAX_PENDING_UNBONDS):
        entry: uint256 = self._unbonds[account][i]
        if self._maturity(entry) > block.timestamp:
            break
        total += self._amount(entry)
    return total


@external
@view
def pendingUnbonds(account: address) -> DynArray[uint256[2], MAX_PENDING_UNBONDS]:
    """
    @notice `account`'s unbond queue, oldest first.
    @param account The provider.
    @return A list of [amount, maturity] pairs.
    """
    word: uint256 = self._account[account]
    out: DynArray[uint256[2], MAX_PENDING_UNBONDS] = []
    for i: uint256 in range(self._head(word), self._tail(word), bound=MAX_PENDING_UNBONDS):
        entry: uint256 = self._unbonds[account][i]
        out.append([self._amount(entry), self._maturity(entry)])
    return out


# ---------------------------------------------------------------------------------------------
# Internals
# ---------------------------------------------------------------------------------------------

@internal
def _take_from_queue(account: address, word: uint256, want: uint256) -> (uint256, uint256):
    """@dev Take up to `want` from the newest entries, dropping emptied ones; return (taken, new tail)."""
    head: uint256 = self._head(word)
    tail: uint256 = self._tail(word)
    taken: uint256 = 0
    for _: uint256 in range(MAX_PENDING_UNBONDS):
        if tail == head or taken == want:
            break
        entry: uint256 = self._unbonds[account][tail - 1]
        have: uint256 = self._amount(entry)
        # taken < want inside the loop
        part: uint256 = min(have, unsafe_sub(want, taken))
        taken += part
        if part == have:
            self._unbonds[account][tail - 1] = 0
            tail -= 1
        else:
            self._unbonds[account][tail - 1] = self._entry(unsafe_sub(have, part), self._maturity(entry))
    return taken, tail


@internal
@pure
def _stake(word: uint256) -> uint256:
    """@dev The active stake of an account word."""
    return word & _MAX_AMOUNT


@internal
@pure
def _head(word: uint256) -> uint256:
    """@dev The queue head index of an account word."""
    return (word >> 128) & (2**64 - 1)


@internal
@pure
def _tail(word: uint256) -> uint256:
    """@dev The queue tail index of an account word."""
    return word >> 192


@internal
@pure
def _pack(active: uint256, head: uint256, tail: uint256) -> uint256:
    """@dev An account word from active stake and queue indices."""
    # active <= _MAX_AMOUNT (checked on every increase: stake and rebond); head <= tail < 2**64 (indices grow by one
    # per unbond and reset to 0 when the queue empties)
    return active | (head << 128) | (tail << 192)


@internal
@pure
def _with_stake(word: uint256, active: uint256) -> uint256:
    """@dev An account word with its active stake replaced."""
    return (word & ~_MAX_AMOUNT) | active


@internal
@pure
def _entry(amount: uint256, maturity: uint256) -> uint256:
    """@dev An unbond entry word from amount and maturity."""
    # amount <= _MAX_AMOUNT (an unbond is at most the active stake; a merge is checked);
    # maturity is a timestamp, far below 2**128
    return amount | (maturity << 128)


@internal
@pure
def _amount(entry: uint256) -> uint256:
    """@dev The amount of an unbond entry word."""
    return entry & _MAX_AMOUNT


@internal
@pure
def _maturity(entry: uint256) -> uint256:
    """@dev The maturity time of an unbond entry word."""
    return entry >> 128
