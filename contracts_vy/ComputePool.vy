# pragma version 0.4.3
# pragma evm-version prague
# pragma nonreentrancy on
"""
@title ComputePool
@license MIT
@notice Training pools. A creator opens a pool in a domain with a metadata URI and its hash, a
        compute limit, a reward per work unit, a challenge window and an INJ budget (escrowed in
        the RewardsDistributor). Validated nodes of whitelisted providers join with an EIP-712
        invite signed by the pool's manager key, submit work with their node key, and are paid by
        the RewardsDistributor once their work's challenge window has passed.
@custom:security This contract holds no INJ: it forwards a new pool's budget to the
        RewardsDistributor in the same call. A node is in at most one non-completed pool; ending a
        pool releases all its nodes at once (membership of a completed pool counts as none), so no
        call loops over a pool's members. Work invalidation: soft by a validator or the pool's
        manager; hard (fraud: voids the node's locked rewards, ejects and bars it, slashes its
        provider to the treasury, at most its bonded requirement) by a validator only; voiding
        never depends on stake being left (SPEC 7.4). A pool's challenge window is shorter than
        the unbonding period, so the stake behind work outlasts its window (SPEC 7.1). Work is
        rate-capped by seconds of active membership and refused below the stake minimum (SPEC
        7.3). Roles are read from the hub at call time. Trust: SPEC 2.
"""

from interfaces import IComputePool
from interfaces import IInjectiveAiHub
from interfaces import IComputeRegistry
from interfaces import IStakeManager
from interfaces import IDomainRegistry
from interfaces import IRewardsDistributor
from interfaces import IWorkValidation
from modules import common
from modules import eip712

implements: IComputePool

initializes: eip712

exports: eip712.DOMAIN_SEPARATOR

# @dev At most this many nodes per blacklistProvider call (SPEC 10).
MAX_BATCH: public(constant(uint256)) = common.MAX_BATCH

# @dev Longest challenge window a pool may set (30 days): rewards must unlock in finite time.
MAX_CHALLENGE_WINDOW: public(constant(uint256)) = 30 * 86400

# @dev EIP-712 type of a pool invite, signed by the pool's manager key.
POOL_INVITE_TYPEHASH: public(constant(bytes32)) = keccak256(
    "PoolInvite(uint256 poolId,address node,uint256 nonce,uint256 deadline)"
)

# @dev Revert reason of the hub-only functions.
_NOT_HUB: constant(String[64]) = "ComputePool: caller is not the hub"

# @dev The hub (roles, treasury, stake minimum); it also releases nodes it removes or invalidates.
HUB: public(immutable(address))

# @dev Modules, wired once by the hub.
computeRegistry: public(IComputeRegistry)
domainRegistry: public(IDomainRegistry)
stakeManager: public(IStakeManager)
rewardsDistributor: public(IRewardsDistributor)

# @dev The id the next pool gets. Starts at 1 (0 means "no pool") and is never zero, so creating
#      a pool costs the same on a fresh system as after 10,000 pools.
nextPoolId: public(uint256)

# @dev pool id => pool.
_pools: HashMap[uint256, IComputePool.Pool]

# @dev pool id => when it started, while it is ACTIVE; 0 otherwise. submitWork reads this one slot
#      for both "is the pool active" and "since when" (gas goal of submitWork, SPEC 11).
_activeSince: HashMap[uint256, uint256]

# @dev Mirror of the hub's minStakePerComputeUnit, written by the hub in the same call that
#      changes it, so join and submitWork check the stake minimum without calling the hub.
minStakePerComputeUnit: public(uint256)

# @dev node => one word: pool id (bits 0-63) | time of its last work or of joining (64-127) |
#      invite nonce (128-191). Packed so that a join costs one storage write. The pool id refers
#      to the node's current pool; if that pool is COMPLETED the node is free.
_membership: HashMap[address, uint256]

# @dev pool id => provider => how many of its nodes are in the pool.
providerNodesInPool: public(HashMap[uint256, HashMap[address, uint256]])

# @dev pool id => node / provider => barred from the pool by its manager.
nodeBlacklisted: public(HashMap[uint256, HashMap[address, bool]])
providerBlacklisted: public(HashMap[uint256, HashMap[address, bool]])


@deploy
def __init__(hub: address):
    """
    @param hub The InjectiveAiHub address.
    """
    assert hub != empty(address), "ComputePool: zero hub"
    HUB = hub
    eip712.__init__("ComputePool", "1")
    self.nextPoolId = 1


@external
def wire(
    computeRegistry_: address, domainRegistry_: address, stakeManager_: address, rewardsDistributor_: address
):
    """
    @notice Record the other modules. Called once, by the hub.
    @param computeRegistry_ The ComputeRegistry.
    @param domainRegistry_ The DomainRegistry.
    @param stakeManager_ The StakeManager.
    @param rewardsDistributor_ The RewardsDistributor.
    """
    common._only(HUB, _NOT_HUB)
    common._wire_once(self.computeRegistry.address, "ComputePool: already wired")
    self.computeRegistry = IComputeRegistry(computeRegistry_)
    self.domainRegistry = IDomainRegistry(domainRegistry_)
    self.stakeManager = IStakeManager(stakeManager_)
    self.rewardsDistributor = IRewardsDistributor(rewardsDistributor_)


# ---------------------------------------------------------------------------------------------
# Pool life cycle (creator)
# ---------------------------------------------------------------------------------------------

@external
@payable
def createComputePool(
    domainId: uint256,
    manager: address,
    metadataURI: String[256],
    metadataHash: bytes32,
    computeLimit: uint256,
    rewardPerUnit: uint256,
    challengeWindow: uint256,
) -> uint256:
    """
    @notice Create a PENDING pool; `msg.value` is escrowed as its reward budget.
    @param domainId An existing domain; the pool keeps that domain's validation contract.
    @param manager The key that signs invites and ejects nodes (may be the creator).
    @param metadataURI Where the pool's metadata JSON is (model, data, run id, bootstrap peers).
    @param metadataHash keccak256 of the metadata bytes; trainers refuse a mismatch.
    @param computeLimit Most compute units the pool admits in total; 0 means no limit.
    @param rewardPerUnit Wei paid per accepted work unit, > 0.
    @param challengeWindow Seconds work stays challengeable: > 0, at most 30 days and shorter than
           the StakeManager's unbonding period (SPEC 7.1, Rule R12).
    @return The new pool id.
    """
    validation: address = (staticcall self.domainRegistry.getDomain(domainId)).validationLogic
    assert validation != empty(address), "ComputePool: unknown domain"
    assert manager != empty(address), "ComputePool: zero manager"
    assert len(metadataURI) > 0, "ComputePool: empty metadata URI"
    assert metadataHash != empty(bytes32), "ComputePool: empty metadata hash"
    assert rewardPerUnit > 0, "ComputePool: reward per unit must be positive"
    assert msg.value > 0, "ComputePool: zero budget"
    assert challengeWindow > 0 and challengeWindow <= MAX_CHALLENGE_WINDOW, (
        "ComputePool: challenge window out of range"
    )
    # the stake behind a work key must stay slashable for its whole window (SPEC 7.1)
    assert challengeWindow < staticcall self.stakeManager.UNBONDING_PERIOD(), (
        "ComputePool: challenge window must be shorter than the unbonding period"
    )
    pool_id: uint256 = self.nextPoolId
    self.nextPoolId = pool_id + 1
    self._pools[pool_id] = IComputePool.Pool(
        domainId=domainId,
        creator=msg.sender,
        manager=manager,
        validationLogic=validation,
        status=IComputePool.PoolStatus.PENDING,
        computeLimit=computeLimit,
        totalCompute=0,
        metadataHash=metadataHash,
        createdAt=block.timestamp,
        startedAt=0,
        endedAt=0,
        metadataURI=metadataURI,
    )
    log IComputePool.PoolCreated(
        poolId=pool_id,
        domainId=domainId,
        creator=msg.sender,
        manager=manager,
        computeLimit=computeLimit,
        metadataHash=metadataHash,
        metadataURI=metadataURI,
    )
    extcall self.rewardsDistributor.openPool(
        pool_id, msg.sender, rewardPerUnit, challengeWindow, value=msg.value
    )
    return pool_id


@external
def startComputePool(poolId: uint256):
    """
    @notice PENDING -> ACTIVE: work can be submitted from now on. Creator only.
    @param poolId The pool.
    """
    self._only_creator(poolId)
    assert self._pools[poolId].status == IComputePool.PoolStatus.PENDING, "ComputePool: pool is not pending"
    self._pools[poolId].status = IComputePool.PoolStatus.ACTIVE
    self._pools[poolId].startedAt = block.timestamp
    self._activeSince[poolId] = block.timestamp
    log IComputePool.PoolStatusChanged(poolId=poolId, status=IComputePool.PoolStatus.ACTIVE)


@external
def endComputePool(poolId: uint256):
    """
    @notice ACTIVE -> COMPLETED, or PENDING -> COMPLETED to cancel a pool that never started (its
            whole budget becomes refundable). Releases every node of the pool at once. Creator
            only. SPEC 7.1.
    @param poolId The pool.
    """
    self._only_creator(poolId)
    status: IComputePool.PoolStatus = self._pools[poolId].status
    assert status == IComputePool.PoolStatus.ACTIVE or status == IComputePool.PoolStatus.PENDING, (
        "ComputePool: pool has ended"
    )
    self._pools[poolId].status = IComputePool.PoolStatus.COMPLETED
    self._pools[poolId].endedAt = block.timestamp
    self._activeSince[poolId] = 0
    log IComputePool.PoolStatusChanged(poolId=poolId, status=IComputePool.PoolStatus.COMPLETED)


@external
def setPoolManager(poolId: uint256, manager: address):
    """
    @notice Rotate the pool's manager key (invites signed by the old key stop working). Creator only.
    @param poolId The pool.
    @param manager The new manager key.
    """
    self._only_creator(poolId)
    assert manager != empty(address), "ComputePool: zero manager"
    self._pools[poolId].manager = manager
    log IComputePool.PoolManagerChanged(poolId=poolId, manager=manager)


# ---------------------------------------------------------------------------------------------
# Membership
# ---------------------------------------------------------------------------------------------

@external
def joinComputePool(poolId: uint256, node: address, deadline: uint256, signature: Bytes[65]):
    """
    @notice Join `node` to a PENDING or ACTIVE pool with an invite from the pool's manager.
    @param poolId The pool.
    @param node The node's key; the caller is the node or its provider.
    @param deadline Last second the invite is valid.
    @param signature The manager's EIP-712 PoolInvite(poolId, node, nonce, deadline) signature,
           where nonce is `inviteNonce(node)`.
    """
    record: IComputeRegistry.Node = staticcall self.computeRegistry.getNode(node)
    assert record.provider != empty(address), "ComputePool: node not registered"
    assert msg.sender == node or msg.sender == record.provider, "ComputePool: caller is not the node or its provider"
    assert block.timestamp <= deadline, "ComputePool: invite expired"
    status: IComputePool.PoolStatus = self._pools[poolId].status
    assert status == IComputePool.PoolStatus.PENDING or status == IComputePool.PoolStatus.ACTIVE, (
        "ComputePool: pool is not open"
    )
    assert record.validated, "ComputePool: node not validated"
    provider: IComputeRegistry.Provider = staticcall self.computeRegistry.getProvider(record.provider)
    # blacklisting clears the whitelist flag, so whitelisted also means not blacklisted
    assert provider.whitelisted, "ComputePool: provider not whitelisted"
    assert not self.nodeBlacklisted[poolId][node], "ComputePool: node is blacklisted from this pool"
    assert not self.providerBlacklisted[poolId][record.provider], (
        "ComputePool: provider is blacklisted from this pool"
    )
    required: uint256 = common._minimum_stake(provider.totalCompute, self.minStakePerComputeUnit)
    assert (staticcall self.stakeManager.stakeOf(record.provider)) >= required, (
        "ComputePool: provider stake below minimum"
    )
    word: uint256 = self._membership[node]
    current: uint256 = self._pool_of(word)
    assert current == 0 or self._pools[current].status == IComputePool.PoolStatus.COMPLETED, (
        "ComputePool: node already in a pool"
    )
    total: uint256 = self._pools[poolId].totalCompute + record.computeUnits
    limit: uint256 = self._pools[poolId].computeLimit
    assert limit == 0 or total <= limit, "ComputePool: pool compute limit reached"
    nonce: uint256 = self._nonce(word)
    digest: bytes32 = self._invite_digest(poolId, node, nonce, deadline)
    assert eip712._recover(digest, signature) == self._pools[poolId].manager, (
        "ComputePool: invite not signed by the pool manager"
    )
    self._membership[node] = self._pack(poolId, block.timestamp, nonce + 1)
    self._pools[poolId].totalCompute = total
    self.providerNodesInPool[poolId][record.provider] += 1
    log IComputePool.NodeJoined(
        poolId=poolId, node=node, provider=record.provider, computeUnits=record.computeUnits, nonce=nonce
    )


@external
def leaveComputePool(poolId: uint256, node: address):
    """
    @notice Take `node` out of a pool. The node or its provider only.
    @param poolId The pool.
    @param node The node's key.
    """
    record: IComputeRegistry.Node = staticcall self.computeRegistry.getNode(node)
    assert msg.sender == node or msg.sender == record.provider, "ComputePool: caller is not the node or its provider"
    assert self._is_member(poolId, node), "ComputePool: node not in pool"
    self._release(poolId, node, record, "left")


@external
def ejectNode(poolId: uint256, node: address):
    """
    @notice Remove `node` from the pool (it may rejoin with a new invite). Manager or creator.
    @param poolId The pool.
    @param node The node's key.
    """
    self._only_manager(poolId)
    assert self._is_member(poolId, node), "ComputePool: node not in pool"
    self._release(poolId, node, staticcall self.computeRegistry.getNode(node), "ejected")


@external
def blacklistNode(poolId: uint256, node: address):
    """
    @notice Bar `node` from the pool for good, removing it if it is in. Manager or creator.
    @param poolId The pool.
    @param node The node's key.
    """
    self._only_manager(poolId)
    assert not self.nodeBlacklisted[poolId][node], "ComputePool: node already blacklisted"
    self.nodeBlacklisted[poolId][node] = True
    log IComputePool.NodeBlacklisted(poolId=poolId, node=node)
    if self._is_member(poolId, node):
        self._release(poolId, node, staticcall self.computeRegistry.getNode(node), "blacklisted")


@external
def blacklistProvider(poolId: uint256, provider: address, nodes: DynArray[address, MAX_BATCH]):
    """
    @notice Bar `provider` from the pool for good and remove all its nodes, validated or not.
            Manager or creator. `nodes` must list every node of the provider in the pool (the
            call checks none is left); if it has more than 64 there, eject the others first, one
            `ejectNode` call per node.
    @param poolId The pool.
    @param provider The provider.
    @param nodes The provider's nodes currently in the pool.
    """
    self._only_manager(poolId)
    assert not self.providerBlacklisted[poolId][provider], "ComputePool: provider already blacklisted"
    self.providerBlacklisted[poolId][provider] = True
    for node: address in nodes:
        assert self._is_member(poolId, node), "ComputePool: node not in pool"
        record: IComputeRegistry.Node = staticcall self.computeRegistry.getNode(node)
        assert record.provider == provider, "ComputePool: node belongs to another provider"
        self._release(poolId, node, record, "blacklisted")
    assert self.providerNodesInPool[poolId][provider] == 0, (
        "ComputePool: provider still has nodes in the pool, list them all"
    )
    log IComputePool.ProviderBlacklisted(poolId=poolId, provider=provider, nodesRemoved=len(nodes))


@external
def syncStakeMinimum(amount: uint256):
    """
    @notice Mirror the hub's stake minimum per compute unit. Hub only, in the same call that sets it.
    @param amount Wei per compute unit.
    """
    common._only(HUB, _NOT_HUB)
    self.minStakePerComputeUnit = amount


@external
def releaseNode(node: address):
    """
    @notice Take `node` out of its pool, if it is in one, because the hub is removing,
            invalidating or blacklisting it. Hub only.
    @param node The node's key.
    """
    common._only(HUB, _NOT_HUB)
    self._release_from_current_pool(node)


@external
def releaseBlacklistedNode(node: address):
    """
    @notice Take a node of a network-blacklisted provider out of its pool, so it stops holding the
            pool's capacity. Anyone may call (SPEC 3.4, Rule R8).
    @param node The node's key.
    """
    provider: address = (staticcall self.computeRegistry.getNode(node)).provider
    assert staticcall self.computeRegistry.isBlacklisted(provider), "ComputePool: provider is not blacklisted"
    assert self._is_member(self._pool_of(self._membership[node]), node), "ComputePool: node not in a pool"
    self._release_from_current_pool(node)


# ---------------------------------------------------------------------------------------------
# Work
# ---------------------------------------------------------------------------------------------

@external
def submitWork(poolId: uint256, workKey: bytes32, units: uint256):
    """
    @notice Submit work done by the calling node key. The pool's validation contract bounds the
            units by the seconds the pool was ACTIVE and the node a member since its previous
            submission (SPEC 7.3, Rule R15); the provider must hold its stake minimum (Rule R17);
            the reward is committed from the budget (work beyond the budget is refused).
    @param poolId An ACTIVE pool the node is in.
    @param workKey Unique per (pool, node), e.g. keccak256(pool, peer id, epoch range); other
           nodes' keys live in their own namespace (Rule R16).
    @param units Work units (tokens processed), > 0.
    """
    active_since: uint256 = self._activeSince[poolId]
    assert active_since != 0, "ComputePool: pool is not active"
    word: uint256 = self._membership[msg.sender]
    assert self._pool_of(word) == poolId, "ComputePool: node not in pool"
    assert units > 0, "ComputePool: zero work units"
    provider: address = empty(address)
    compute_units: uint256 = 0
    blacklisted: bool = False
    total_compute: uint256 = 0
    provider, compute_units, blacklisted, total_compute = staticcall self.computeRegistry.nodeWorkInfo(msg.sender)
    assert not blacklisted, "ComputePool: provider is blacklisted"
    required: uint256 = common._minimum_stake(total_compute, self.minStakePerComputeUnit)
    assert (staticcall self.stakeManager.stakeOf(provider)) >= required, (
        "ComputePool: provider stake below minimum"
    )
    # only seconds of active membership count: a node that joined a PENDING pool banks nothing.
    # Both times are in the past (the pool is ACTIVE, so it started), hence no underflow.
    elapsed: uint256 = unsafe_sub(block.timestamp, max(self._last_work(word), active_since))
    assert staticcall IWorkValidation(self._pools[poolId].validationLogic).validateWork(
        poolId, msg.sender, compute_units, units, elapsed
    ), "ComputePool: work exceeds the node's capacity"
    self._membership[msg.sender] = self._pack(poolId, block.timestamp, self._nonce(word))
    extcall self.rewardsDistributor.recordWork(poolId, workKey, msg.sender, provider, units)


@external
def invalidateWork(poolId: uint256, node: address, workKey: bytes32):
    """
    @notice Soft invalidation: the work's units and reward go back to the budget; the node stays.
            A validator or the pool's manager (or creator), inside the work's challenge window.
            SPEC 7.4.
    @param poolId The pool.
    @param node The node that submitted the work.
    @param workKey The work.
    """
    if not staticcall IInjectiveAiHub(HUB).hasRole(common.VALIDATOR_ROLE, msg.sender):
        assert msg.sender == self._pools[poolId].manager or msg.sender == self._pools[poolId].creator, (
            "ComputePool: caller is not a validator or the pool manager"
        )
    extcall self.rewardsDistributor.invalidateWork(poolId, node, workKey, False)


@external
def hardInvalidateWork(
    poolId: uint256, node: address, workKey: bytes32, slashAmount: uint256, reason: String[128]
) -> uint256:
    """
    @notice Hard invalidation, for fraud: voids this work and every other reward of the node still
            locked in the pool, removes and bars the node from the pool, and slashes its provider
            to the treasury: `slashAmount`, or what is left (active, then pending unbonds) if
            less. Not capped by the stake minimum, which the provider could lower inside the
            window by removing nodes. The voiding never depends on stake being left. Validator
            only. SPEC 3.3, 7.4, Rules R6 and R7.
    @param poolId The pool.
    @param node The node that submitted the work.
    @param workKey The fraudulent work.
    @param slashAmount Most to slash; 0 for none.
    @param reason Why, for the record.
    @return The amount slashed (possibly 0).
    """
    assert staticcall IInjectiveAiHub(HUB).hasRole(common.VALIDATOR_ROLE, msg.sender), (
        "ComputePool: caller is not a validator"
    )
    provider: address = extcall self.rewardsDistributor.invalidateWork(poolId, node, workKey, True)
    if not self.nodeBlacklisted[poolId][node]:
        self.nodeBlacklisted[poolId][node] = True
        log IComputePool.NodeBlacklisted(poolId=poolId, node=node)
    if self._is_member(poolId, node):
        self._release(poolId, node, staticcall self.computeRegistry.getNode(node), "fraud")
    if slashAmount == 0:
        return 0
    assert staticcall IInjectiveAiHub(HUB).treasury() != msg.sender, "ComputePool: a slash cannot pay its validator"
    # no cap by the stake minimum here: the provider may have removed its nodes since the work, which
    # lowers calculateMinimumStake but not what fraud should cost (SPEC 3.3)
    return extcall self.stakeManager.slash(provider, slashAmount, msg.sender, reason)


# ---------------------------------------------------------------------------------------------
# Views
# ---------------------------------------------------------------------------------------------

@external
@view
def getPool(poolId: uint256) -> IComputePool.Pool:
    """
    @notice A pool (all zero if it does not exist).
    @param poolId The pool.
    @return The stored pool.
    """
    return self._pools[poolId]


@external
@view
def poolStatus(poolId: uint256) -> IComputePool.PoolStatus:
    """
    @notice A pool's status (empty if it does not exist).
    @param poolId The pool.
    @return PENDING, ACTIVE or COMPLETED.
    """
    return self._pools[poolId].status


@external
@view
def poolCount() -> uint256:
    """
    @notice Number of pools created; ids run from 1 to poolCount.
    @return The count.
    """
    return self.nextPoolId - 1


@external
@view
def activePoolOf(node: address) -> uint256:
    """
    @notice The pool `node` is in, or 0 if none (a completed pool counts as none).
    @param node The node's key.
    @return The pool id.
    """
    pool_id: uint256 = self._pool_of(self._membership[node])
    if self._is_member(pool_id, node):
        return pool_id
    return 0


@external
@view
def inviteNonce(node: address) -> uint256:
    """
    @notice The nonce the node's next pool invite must sign.
    @param node The node's key.
    @return The nonce.
    """
    return self._nonce(self._membership[node])


@external
@view
def poolInviteDigest(poolId: uint256, node: address, nonce: uint256, deadline: uint256) -> bytes32:
    """
    @notice The EIP-712 digest a pool manager signs to invite a node, so clients can check their
            signing code against the contract.
    @param poolId The pool.
    @param node The invited node's key.
    @param nonce The node's invite nonce.
    @param deadline Last valid second.
    @return The digest.
    """
    return self._invite_digest(poolId, node, nonce, deadline)


@external
@view
def lastWorkAt(node: address) -> uint256:
    """
    @notice When `node` last submitted work or joined its current pool.
    @param node The node's key.
    @return A timestamp, 0 if never.
    """
    return self._last_work(self._membership[node])


# ---------------------------------------------------------------------------------------------
# Internals
# ---------------------------------------------------------------------------------------------

@internal
def _release_from_current_pool(node: address):
    """@dev Release `node` from the pool it is in, if any (a completed pool counts as none)."""
    pool_id: uint256 = self._pool_of(self._membership[node])
    if self._is_member(pool_id, node):
        self._release(pool_id, node, staticcall self.computeRegistry.getNode(node), "released")


@internal
def _release(poolId: uint256, node: address, record: IComputeRegistry.Node, reason: String[16]):
    """@dev Take `node` out of pool `poolId` (the caller checked it is a member) and update the totals."""
    # caller checked membership: the pool's totals include this node
    self._membership[node] = self._pack(0, 0, self._nonce(self._membership[node]))
    self._pools[poolId].totalCompute = unsafe_sub(self._pools[poolId].totalCompute, record.computeUnits)
    self.providerNodesInPool[poolId][record.provider] = unsafe_sub(
        self.providerNodesInPool[poolId][record.provider], 1
    )
    log IComputePool.NodeLeft(
        poolId=poolId, node=node, provider=record.provider, computeUnits=record.computeUnits, reason=reason
    )


@internal
@view
def _is_member(poolId: uint256, node: address) -> bool:
    """@dev Whether `node` sits in pool `poolId` and that pool has not completed."""
    if poolId == 0 or self._pool_of(self._membership[node]) != poolId:
        return False
    return self._pools[poolId].status != IComputePool.PoolStatus.COMPLETED


@internal
@view
def _invite_digest(poolId: uint256, node: address, nonce: uint256, deadline: uint256) -> bytes32:
    """@dev The EIP-712 digest of a PoolInvite."""
    return eip712._hash_typed_data(keccak256(abi_encode(POOL_INVITE_TYPEHASH, poolId, node, nonce, deadline)))


@internal
@view
def _only_creator(poolId: uint256):
    """@dev Revert unless the caller created pool `poolId`."""
    assert self._pools[poolId].creator == msg.sender, "ComputePool: caller is not the pool creator"


@internal
@view
def _only_manager(poolId: uint256):
    """@dev Revert unless the caller is pool `poolId`'s manager or creator."""
    assert msg.sender == self._pools[poolId].manager or msg.sender == self._pools[poolId].creator, (
        "ComputePool: caller is not the pool manager"
    )


@internal
@pure
def _pack(pool_id: uint256, last_work: uint256, nonce: uint256) -> uint256:
    """@dev A membership word from its three fields."""
    # pool ids count up from 1, timestamps are far below 2**64, and a node's invite nonce grows
    # by one per join: all three fit their 64 bits without a check
    return pool_id | (last_work << 64) | (nonce << 128)


@internal
@pure
def _pool_of(word: uint256) -> uint256:
    """@dev The pool id of a membership word."""
    return word & (2**64 - 1)


@internal
@pure
def _last_work(word: uint256) -> uint256:
    """@dev The last work or join time of a membership word."""
    return (word >> 64) & (2**64 - 1)


@internal
@pure
def _nonce(word: uint256) -> uint256:
    """@dev The invite nonce of a membership word."""
    return word >> 128
