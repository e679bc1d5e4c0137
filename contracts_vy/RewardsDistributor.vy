# pragma version 0.4.3
# pragma evm-version prague
# pragma nonreentrancy on
"""
@title RewardsDistributor
@license MIT
@notice Escrows each pool's INJ reward budget when the pool is created and pays providers for their
        nodes' accepted work. Every work key's reward is committed from the budget when the work
        is submitted (work beyond the budget is refused), stays locked through the pool's
        challenge window, and is claimable only once that window has fully passed.
@custom:security Money leaves only to (a) the provider recorded on a work key, for unlocked work
        that was never invalidated or voided, and (b) the pool's creator, for budget that no work
        has committed, after the pool ended. The compute pool records and invalidates work; it
        cannot move INJ. Claims and refunds are pulled by the payee under the reentrancy lock.
        Solvency: balance == sum over pools of (funded - refunded - paid). Spec: docs/SPEC.md
        8; Rules R2, R16, R18, R19.
"""

from interfaces import IRewardsDistributor
from interfaces import IComputePool
from modules import common

implements: IRewardsDistributor

# @dev At most this many work keys per claim or release call.
MAX_BATCH: public(constant(uint256)) = common.MAX_BATCH

# @dev Revert reason of the compute-pool-only functions.
_NOT_POOL: constant(String[64]) = "RewardsDistributor: caller is not the compute pool"

# @dev Work states (0: no record).
WORK_SUBMITTED: constant(uint256) = 1
WORK_CLAIMED: constant(uint256) = 2
WORK_INVALIDATED: constant(uint256) = 3

# @dev Work units are stored in 96 bits (7.9e28 units); larger claims are refused, never truncated.
_MAX_UNITS: constant(uint256) = 2**96 - 1

# @dev The hub, which wires the compute pool once.
HUB: public(immutable(address))

# @dev The compute pool: opens budgets, records and invalidates work.
computePool: public(address)

# @dev A pool's budget as stored. What work has committed is derived, not stored:
#      committed = funded - refunded - available (so submitting work writes one budget slot).
#      `terms` = rewardPerUnit (bits 0-191) | challengeWindow (192-255): one slot read per
#      submission instead of two (gas goal of submitWork, SPEC 11).
struct Budget:
    creator: address
    terms: uint256
    funded: uint256
    refunded: uint256
    available: uint256
    paid: uint256

# @dev pool id => budget.
_budgets: HashMap[uint256, Budget]

# @dev pool id => node => work key => two words, packed to keep submitWork within its gas goal:
#      word 0 = node (bits 0-159) | submittedAt (160-223) | state (224-231);
#      word 1 = provider (bits 0-159) | units (160-255).
#      Keys are namespaced by node, so no node can take or block another node's key (SPEC 7.3).
_work: HashMap[uint256, HashMap[address, HashMap[bytes32, uint256[2]]]]

# @dev pool id => node => time of the node's first hard invalidation (0: never). Work of the node
#      still in its challenge window at that time (submittedAt + challengeWindow >= voidFrom) is void.
voidFrom: public(HashMap[uint256, HashMap[address, uint256]])


@deploy
def __init__(hub: address):
    """
    @param hub The InjectiveAiHub address.
    """
    assert hub != empty(address), "RewardsDistributor: zero hub"
    HUB = hub


@external
def wire(computePool_: address):
    """
    @notice Record the compute pool. Called once, by the hub.
    @param computePool_ The ComputePool address.
    """
    common._only(HUB, "RewardsDistributor: caller is not the hub")
    common._wire_once(self.computePool, "RewardsDistributor: already wired")
    assert computePool_ != empty(address), "RewardsDistributor: zero address"
    self.computePool = computePool_


# ---------------------------------------------------------------------------------------------
# Called by the compute pool
# ---------------------------------------------------------------------------------------------

@external
@payable
def openPool(poolId: uint256, creator: address, rewardPerUnit: uint256, challengeWindow: uint256):
    """
    @notice Escrow `msg.value` as pool `poolId`'s budget. Compute pool only (at pool creation).
    @param poolId The new pool.
    @param creator Who may top up and gets refunds.
    @param rewardPerUnit Wei paid per accepted work unit.
    @param challengeWindow Seconds during which work can be invalidated before it unlocks.
    """
    common._only(self.computePool, _NOT_POOL)
    # 2**192 wei per unit is beyond any supply; the compute pool bounds the window to 30 days
    assert rewardPerUnit < 2**192, "RewardsDistributor: reward per unit too large"
    self._budgets[poolId] = Budget(
        creator=creator,
        terms=rewardPerUnit | (challengeWindow << 192),
        funded=msg.value,
        refunded=0,
        available=msg.value,
        paid=0,
    )
    log IRewardsDistributor.PoolFunded(
        poolId=poolId,
        creator=creator,
        amount=msg.value,
        rewardPerUnit=rewardPerUnit,
        challengeWindow=challengeWindow,
    )


@external
def recordWork(poolId: uint256, workKey: bytes32, node: address, provider: address, units: uint256):
    """
    @notice Accept a work key and commit its reward from the budget. Compute pool only, after it
            checked membership and the domain's validation rule.
    @param poolId The pool.
    @param workKey Unique per (pool, node); a key is accepted once (Rule R16).
    @param node The submitting node.
    @param provider The node's provider, who alone can claim.
    @param units Work units claimed.
    """
    common._only(self.computePool, _NOT_POOL)
    assert workKey != empty(bytes32), "RewardsDistributor: empty work key"
    assert units <= _MAX_UNITS, "RewardsDistributor: units too large"
    assert self._work[poolId][node][workKey][0] == 0, "RewardsDistributor: work key already used"
    terms: uint256 = self._budgets[poolId].terms
    reward: uint256 = units * self._rate(terms)
    available: uint256 = self._budgets[poolId].available
    assert reward <= available, "RewardsDistributor: pool budget exhausted"
    self._budgets[poolId].available = unsafe_sub(available, reward)
    self._work[poolId][node][workKey] = [
        self._word0(node, block.timestamp, WORK_SUBMITTED),
        convert(provider, uint256) | (units << 160),
    ]
    log IRewardsDistributor.WorkSubmitted(
        poolId=poolId,
        node=node,
        workKey=workKey,
        provider=provider,
        units=units,
        reward=reward,
        unlocksAt=block.timestamp + self._window(terms) + 1,
    )


@external
def invalidateWork(poolId: uint256, node: address, workKey: bytes32, hard: bool) -> address:
    """
    @notice Invalidate one work key inside its challenge window and return its reward to the budget.
            `hard` also voids every other reward of the node still locked in this pool. Compute
            pool only (it checks the caller's role, ejects the node and slashes). SPEC 7.4.
    @param poolId The pool.
    @param node The node that submitted the work.
    @param workKey The work to invalidate.
    @param hard True for fraud.
    @return The work's provider.
    """
    common._only(self.computePool, _NOT_POOL)
    words: uint256[2] = self._work[poolId][node][workKey]
    assert self._state(words[0]) == WORK_SUBMITTED, "RewardsDistributor: work not pending"
    submitted_at: uint256 = self._submitted_at(words[0])
    terms: uint256 = self._budgets[poolId].terms
    assert block.timestamp <= submitted_at + self._window(terms), (
        "RewardsDistributor: challenge window closed"
    )
    units: uint256 = words[1] >> 160
    reward: uint256 = units * self._rate(terms)
    self._work[poolId][node][workKey][0] = self._word0(node, submitted_at, WORK_INVALIDATED)
    self._budgets[poolId].available += reward
    if hard and self.voidFrom[poolId][node] == 0:
        # keep the first time: a later one would un-void work that left its window in between
        # (the node is barred from the pool, so nothing it submits can come after the first one)
        self.voidFrom[poolId][node] = block.timestamp
    log IRewardsDistributor.WorkInvalidated(
        poolId=poolId, node=node, workKey=workKey, units=units, reward=reward, hard=hard
    )
    return common._address_of(words[1])


# ---------------------------------------------------------------------------------------------
# Creator: top up, refund
# ---------------------------------------------------------------------------------------------

@external
@payable
def topUp(poolId: uint256):
    """
    @notice Add `msg.value` to a pool's budget. Creator only, before the pool ends.
    @param poolId The pool.
    """
    assert self._budgets[poolId].creator == msg.sender, "RewardsDistributor: caller is not the pool creator"
    assert msg.value > 0, "RewardsDistributor: zero top-up"
    status: IComputePool.PoolStatus = staticcall IComputePool(self.computePool).poolStatus(poolId)
    assert status != IComputePool.PoolStatus.COMPLETED, "RewardsDistributor: pool has ended"
    self._budgets[poolId].funded += msg.value
    self._budgets[poolId].available += msg.value
    log IRewardsDistributor.PoolToppedUp(
        poolId=poolId, amount=msg.value, available=self._budgets[poolId].available
    )


@external
def refund(poolId: uint256) -> uint256:
    """
    @notice Return the budget no work has committed to the creator, once the pool has ended.
            Can be called again later (e.g. after voided work is released).
    @param poolId The pool.
    @return The amount refunded.
    """
    assert self._budgets[poolId].creator == msg.sender, "RewardsDistributor: caller is not the pool creator"
    status: IComputePool.PoolStatus = staticcall IComputePool(self.computePool).poolStatus(poolId)
    assert status == IComputePool.PoolStatus.COMPLETED, "RewardsDistributor: pool has not ended"
    amount: uint256 = self._budgets[poolId].available
    assert amount > 0, "RewardsDistributor: nothing to refund"
    self._budgets[poolId].available = 0
    self._budgets[poolId].refunded += amount
    log IRewardsDistributor.BudgetRefunded(poolId=poolId, creator=msg.sender, amount=amount)
    common._send(msg.sender, amount, "RewardsDistributor: INJ transfer failed")
    return amount


# ---------------------------------------------------------------------------------------------
# Providers: claim. Anyone: release voided work.
# ---------------------------------------------------------------------------------------------

@external
def claimRewards(poolId: uint256, node: address, workKeys: DynArray[bytes32, MAX_BATCH]) -> uint256:
    """
    @notice Claim the rewards of one node's unlocked work keys. Pays the caller, who must be the
            provider recorded on every key (Rule R19).
    @param poolId The pool.
    @param node The node that submitted the work.
    @param workKeys Up to 64 work keys of `node`, each past its challenge window, not invalidated,
           not voided and not yet claimed.
    @return The amount paid.
    """
    assert len(workKeys) > 0, "RewardsDistributor: no work keys"
    terms: uint256 = self._budgets[poolId].terms
    rate: uint256 = self._rate(terms)
    window: uint256 = self._window(terms)
    total: uint256 = 0
    void_from: uint256 = self.voidFrom[poolId][node]
    for key: bytes32 in workKeys:
        words: uint256[2] = self._work[poolId][node][key]
        assert self._state(words[0]) == WORK_SUBMITTED, "RewardsDistributor: work not claimable"
        assert common._address_of(words[1]) == msg.sender, "RewardsDistributor: not the node's provider"
        submitted_at: uint256 = self._submitted_at(words[0])
        assert block.timestamp > submitted_at + window, "RewardsDistributor: work still in challenge window"
        assert not self._is_void(void_from, submitted_at, window), "RewardsDistributor: work voided"
        self._work[poolId][node][key][0] = self._word0(node, submitted_at, WORK_CLAIMED)
        total += (words[1] >> 160) * rate
    self._budgets[poolId].paid += total
    log IRewardsDistributor.RewardsClaimed(poolId=poolId, provider=msg.sender, amount=total, count=len(workKeys))
    common._send(msg.sender, total, "RewardsDistributor: INJ transfer failed")
    return total


@external
def releaseVoidedWork(poolId: uint256, node: address, workKeys: DynArray[bytes32, MAX_BATCH]) -> uint256:
    """
    @notice Return the rewards of one node's work voided by a hard invalidation to the pool's
            budget. Anyone may call; it only moves committed budget back to available.
    @param poolId The pool.
    @param node The hard-invalidated node.
    @param workKeys Up to 64 voided, still-pending work keys of `node`.
    @return The amount returned to the budget.
    """
    assert len(workKeys) > 0, "RewardsDistributor: no work keys"
    terms: uint256 = self._budgets[poolId].terms
    rate: uint256 = self._rate(terms)
    window: uint256 = self._window(terms)
    total: uint256 = 0
    void_from: uint256 = self.voidFrom[poolId][node]
    for key: bytes32 in workKeys:
        words: uint256[2] = self._work[poolId][node][key]
        assert self._state(words[0]) == WORK_SUBMITTED, "RewardsDistributor: work not pending"
        submitted_at: uint256 = self._submitted_at(words[0])
        assert self._is_void(void_from, submitted_at, window), "RewardsDistributor: work not voided"
        self._work[poolId][node][key][0] = self._word0(node, submitted_at, WORK_INVALIDATED)
        total += (words[1] >> 160) * rate
    self._budgets[poolId].available += total
    log IRewardsDistributor.VoidedWorkReleased(poolId=poolId, count=len(workKeys), amount=total)
    return total


# ---------------------------------------------------------------------------------------------
# Views
# ---------------------------------------------------------------------------------------------

@external
@view
def getPoolBudget(poolId: uint256) -> IRewardsDistributor.PoolBudget:
    """
    @notice A pool's budget.
    @param poolId The pool.
    @return creator, rewardPerUnit, challengeWindow, funded, refunded, available, committed, paid.
    """
    b: Budget = self._budgets[poolId]
    return IRewardsDistributor.PoolBudget(
        creator=b.creator,
        rewardPerUnit=self._rate(b.terms),
        challengeWindow=self._window(b.terms),
        funded=b.funded,
        refunded=b.refunded,
        available=b.available,
        # available never exceeds funded - refunded: it only shrinks by commitments and refunds
        committed=unsafe_sub(unsafe_sub(b.funded, b.refunded), b.available),
        paid=b.paid,
    )


@external
@view
def getWork(
    poolId: uint256, node: address, workKey: bytes32
) -> (address, address, uint256, uint256, uint256, uint256, bool):
    """
    @notice One work key of one node.
    @param poolId The pool.
    @param node The node that submitted it.
    @param workKey The key.
    @return node, provider, units, submittedAt, state (0 none, 1 submitted, 2 claimed,
            3 invalidated), unlocksAt, voided (by a hard invalidation of its node).
    """
    words: uint256[2] = self._work[poolId][node][workKey]
    submitted_at: uint256 = self._submitted_at(words[0])
    window: uint256 = self._window(self._budgets[poolId].terms)
    return (
        common._address_of(words[0]),
        common._address_of(words[1]),
        words[1] >> 160,
        submitted_at,
        self._state(words[0]),
        submitted_at + window + 1,
        words[0] != 0 and self._is_void(self.voidFrom[poolId][node], submitted_at, window),
    )


# ---------------------------------------------------------------------------------------------
# Internals
# ---------------------------------------------------------------------------------------------


@internal
@pure
def _is_void(void_from: uint256, submitted_at: uint256, window: uint256) -> bool:
    """@dev Void when the node was hard-invalidated (at `void_from`) while this work was still challengeable."""
    return void_from != 0 and submitted_at + window >= void_from


@internal
@pure
def _rate(terms: uint256) -> uint256:
    """@dev The reward per work unit from a budget's packed terms."""
    return terms & (2**192 - 1)


@internal
@pure
def _window(terms: uint256) -> uint256:
    """@dev The challenge window from a budget's packed terms."""
    return terms >> 192


@internal
@pure
def _word0(node: address, submitted_at: uint256, state: uint256) -> uint256:
    """@dev Work word 0 from node, submission time and state."""
    # submitted_at is a block timestamp (< 2**64); state < 4
    return convert(node, uint256) | (submitted_at << 160) | (state << 224)


@internal
@pure
def _submitted_at(word: uint256) -> uint256:
    """@dev The submission time of work word 0."""
    return (word >> 160) & (2**64 - 1)


@internal
@pure
def _state(word: uint256) -> uint256:
    """@dev The state of work word 0."""
    return word >> 224
