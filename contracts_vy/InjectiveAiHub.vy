# pragma version 0.4.3
# pragma evm-version prague
# pragma nonreentrancy on
"""
@title InjectiveAiHub
@license MIT
@notice The entry point of injective-ai-hub and the holder of its roles. Providers register with a
        stake in native INJ, add GPU nodes attested by the node key's EIP-712 signature, and
        manage their stake; validators whitelist, blacklist, validate and slash; federators create
        training domains and set the stake minimum. Pools live in the ComputePool, rewards in the
        RewardsDistributor; both read roles from here at call time.
@custom:security Roles (trust matrix: SPEC 2): DEFAULT_ADMIN (0x00) wires the modules once, sets
        the treasury (effective at once) and grants or revokes every role, its own included;
        FEDERATOR_ROLE creates domains and sets the stake minimum, at most
        MAX_MIN_STAKE_PER_COMPUTE_UNIT (SPEC 3.2); VALIDATOR_ROLE validates nodes, whitelists /
        blacklists providers and slashes. A provider's stake leaves only by its own unbond and
        withdraw after the unbonding period, or by a slash. A slash here takes at most
        calculateMinimumStake(provider, 0) per call; a hard work invalidation (fraud on a work key
        in its window) takes what the validator asks, up to everything the provider holds
        (SPEC 3.3). Slashed INJ goes to the treasury, never to the validator calling it. The admin
        can grant itself the validator role and point the treasury at another address it
        controls: it can then slash any provider, repeatedly, to itself (SPEC 2.2). This
        contract holds no INJ: stake is forwarded to the StakeManager in the same call. There is
        no pause.
"""

from interfaces import IInjectiveAiHub
from interfaces import IComputeRegistry
from interfaces import IStakeManager
from interfaces import IDomainRegistry
from interfaces import IComputePool
from interfaces import IRewardsDistributor
from modules import access_control
from modules import common
from modules import eip712

implements: IInjectiveAiHub

initializes: access_control
initializes: eip712

exports: (
    access_control.hasRole,
    access_control.grantRole,
    access_control.revokeRole,
    access_control.renounceRole,
    access_control.DEFAULT_ADMIN_ROLE,
    eip712.DOMAIN_SEPARATOR,
)

# @dev At most this many nodes per blacklistProvider call (SPEC 10).
MAX_BATCH: public(constant(uint256)) = common.MAX_BATCH

# @dev Ceiling of the stake minimum per compute unit: 10,000 INJ, a thousand times the default, so
#      it never binds an honest deployment but bounds the federator (SPEC 3.2, Rule R4).
MAX_MIN_STAKE_PER_COMPUTE_UNIT: public(constant(uint256)) = 10_000 * 10**18

# @dev Role that creates domains and sets the stake minimum.
FEDERATOR_ROLE: public(constant(bytes32)) = keccak256("FEDERATOR_ROLE")

# @dev Role that validates nodes, whitelists / blacklists providers and slashes.
VALIDATOR_ROLE: public(constant(bytes32)) = common.VALIDATOR_ROLE

# @dev EIP-712 type of a node attestation, signed by the node key.
NODE_ATTESTATION_TYPEHASH: public(constant(bytes32)) = keccak256(
    "NodeAttestation(address provider,address node,uint256 computeUnits,bytes32 specsHash,uint256 nonce,uint256 deadline)"
)

# @dev The modules, wired once.
computeRegistry: public(IComputeRegistry)
domainRegistry: public(IDomainRegistry)
stakeManager: public(IStakeManager)
computePool: public(IComputePool)
rewardsDistributor: public(IRewardsDistributor)

# @dev Where slashed INJ goes. Set by the admin; starts as the deployer.
treasury: public(address)

# @dev Wei of stake required per compute unit, and as the base stake of every provider.
minStakePerComputeUnit: public(uint256)


@deploy
def __init__(federator: address, validator: address):
    """
    @notice The deployer becomes admin and treasury.
    @param federator First holder of FEDERATOR_ROLE.
    @param validator First holder of VALIDATOR_ROLE.
    """
    assert federator != empty(address) and validator != empty(address), "InjectiveAiHub: zero address"
    access_control.__init__()
    eip712.__init__("InjectiveAiHub", "1")
    access_control._grant_role(FEDERATOR_ROLE, federator)
    access_control._grant_role(VALIDATOR_ROLE, validator)
    self.treasury = msg.sender
    log IInjectiveAiHub.TreasuryUpdated(previous=empty(address), current=msg.sender)


# ---------------------------------------------------------------------------------------------
# Admin
# ---------------------------------------------------------------------------------------------

@external
def setModuleAddresses(
    computeRegistry_: address,
    domainRegistry_: address,
    stakeManager_: address,
    computePool_: address,
    rewardsDistributor_: address,
):
    """
    @notice Wire the five modules, once and for all. Admin only.
    @param computeRegistry_ The ComputeRegistry.
    @param domainRegistry_ The DomainRegistry.
    @param stakeManager_ The StakeManager.
    @param computePool_ The ComputePool.
    @param rewardsDistributor_ The RewardsDistributor.
    """
    access_control._check_role(access_control.DEFAULT_ADMIN_ROLE, msg.sender)
    assert self.computeRegistry.address == empty(address), "InjectiveAiHub: modules already set"
    assert (
        computeRegistry_.is_contract
        and domainRegistry_.is_contract
        and stakeManager_.is_contract
        and computePool_.is_contract
        and rewardsDistributor_.is_contract
    ), "InjectiveAiHub: module is not a contract"
    # every module must have been deployed for this hub, or its access checks would guard another one
    assert (
        staticcall IComputeRegistry(computeRegistry_).HUB() == self
        and staticcall IDomainRegistry(domainRegistry_).HUB() == self
        and staticcall IStakeManager(stakeManager_).HUB() == self
        and staticcall IComputePool(computePool_).HUB() == self
        and staticcall IRewardsDistributor(rewardsDistributor_).HUB() == self
    ), "InjectiveAiHub: module belongs to another hub"
    self.computeRegistry = IComputeRegistry(computeRegistry_)
    self.domainRegistry = IDomainRegistry(domainRegistry_)
    self.stakeManager = IStakeManager(stakeManager_)
    self.computePool = IComputePool(computePool_)
    self.rewardsDistributor = IRewardsDistributor(rewardsDistributor_)
    log IInjectiveAiHub.ModulesSet(
        computeRegistry=computeRegistry_,
        domainRegistry=domainRegistry_,
        stakeManager=stakeManager_,
        computePool=computePool_,
        rewardsDistributor=rewardsDistributor_,
    )
    extcall IStakeManager(stakeManager_).wire(computePool_)
    extcall IRewardsDistributor(rewardsDistributor_).wire(computePool_)
    extcall IComputePool(computePool_).wire(computeRegistry_, domainRegistry_, stakeManager_, rewardsDistributor_)
    extcall IComputePool(computePool_).syncStakeMinimum(self.minStakePerComputeUnit)


@external
def setTreasury(treasury_: address):
    """
    @notice Set where slashed INJ is sent. Admin only.
    @param treasury_ The new treasury; not zero.
    """
    access_control._check_role(access_control.DEFAULT_ADMIN_ROLE, msg.sender)
    assert treasury_ != empty(address), "InjectiveAiHub: zero treasury"
    log IInjectiveAiHub.TreasuryUpdated(previous=self.treasury, current=treasury_)
    self.treasury = treasury_


# ---------------------------------------------------------------------------------------------
# Federator
# ---------------------------------------------------------------------------------------------

@external
def setStakeMinimum(amount: uint256):
    """
    @notice Set the stake required per compute unit (also the base stake). Federator only. A
            higher minimum never blocks a provider's full exit: deregistering checks none.
    @param amount Wei per compute unit, at most MAX_MIN_STAKE_PER_COMPUTE_UNIT (SPEC 3.2).
    """
    access_control._check_role(FEDERATOR_ROLE, msg.sender)
    assert amount <= MAX_MIN_STAKE_PER_COMPUTE_UNIT, "InjectiveAiHub: stake minimum above the ceiling"
    log IInjectiveAiHub.StakeMinimumUpdated(previous=self.minStakePerComputeUnit, current=amount)
    self.minStakePerComputeUnit = amount
    if self.computePool.address != empty(address):
        extcall self.computePool.syncStakeMinimum(amount)


@external
def createDomain(name: String[64], validationLogic: address, domainURI: String[256]) -> uint256:
    """
    @notice Create a training domain. Federator only.
    @param name A human-readable name.
    @param validationLogic The IWorkValidation contract that bounds work claims in the domain.
    @param domainURI Where the domain's parameters are published.
    @return The new domain id.
    """
    access_control._check_role(FEDERATOR_ROLE, msg.sender)
    return extcall self.domainRegistry.createDomain(name, validationLogic, domainURI)


# ---------------------------------------------------------------------------------------------
# Providers
# ---------------------------------------------------------------------------------------------

@external
@payable
def registerProvider():
    """
    @notice Register the caller as a compute provider with `msg.value` as its stake. The stake
            must be at least `calculateMinimumStake(caller, 0)` and positive.
    """
    assert msg.value > 0 and msg.value >= self.minStakePerComputeUnit, "InjectiveAiHub: stake below minimum"
    extcall self.computeRegistry.registerProvider(msg.sender)
    extcall self.stakeManager.stake(msg.sender, value=msg.value)


@external
@payable
def increaseStake():
    """
    @notice Add `msg.value` to the caller's stake.
    """
    self._only_registered(msg.sender)
    extcall self.stakeManager.stake(msg.sender, value=msg.value)


@external
def reclaimStake(amount: uint256):
    """
    @notice Start unbonding `amount` of the caller's stake; `StakeManager.withdraw` pays it after
            the unbonding period. What stays must cover `calculateMinimumStake(caller, 0)`.
    @param amount Wei to unbond.
    """
    total_compute: uint256 = self._only_registered(msg.sender)
    stake: uint256 = staticcall self.stakeManager.stakeOf(msg.sender)
    assert amount <= stake, "InjectiveAiHub: amount exceeds stake"
    # amount <= stake was checked above
    assert unsafe_sub(stake, amount) >= common._minimum_stake(total_compute, self.minStakePerComputeUnit), (
        "InjectiveAiHub: stake would fall below minimum"
    )
    extcall self.stakeManager.unbond(msg.sender, amount)


@external
def rebondStake(amount: uint256):
    """
    @notice Move `amount` of the caller's pending unbonds back into active stake.
    @param amount Wei to rebond.
    """
    self._only_registered(msg.sender)
    extcall self.stakeManager.rebond(msg.sender, amount)


@external
def deregisterProvider():
    """
    @notice Leave: the caller (with no nodes left) is deleted and its whole stake starts unbonding.
    """
    extcall self.computeRegistry.deregisterProvider(msg.sender)
    stake: uint256 = staticcall self.stakeManager.stakeOf(msg.sender)
    if stake > 0:
        extcall self.stakeManager.unbond(msg.sender, stake)


@external
def addComputeNode(
    nodekey: address,
    specsURI: String[256],
    computeUnits: uint256,
    signature: Bytes[65],
    deadline: uint256 = max_value(uint256),
):
    """
    @notice Add a node under the caller. The node key signs an EIP-712
            NodeAttestation(provider, node, computeUnits, specsHash, nonce, deadline) with
            specsHash = keccak256(specsURI) and nonce = `ComputeRegistry.nodeNonce(nodekey)`.
            The caller's stake must cover `calculateMinimumStake(caller, computeUnits)`.
    @param nodekey The node's key.
    @param specsURI Where the node's hardware specs are published.
    @param computeUnits The node's compute units, > 0.
    @param signature The node key's 65-byte signature.
    @param deadline Last second the attestation is valid (default: never expires).
    """
    assert block.timestamp <= deadline, "InjectiveAiHub: attestation expired"
    total_compute: uint256 = self._only_registered(msg.sender)
    required: uint256 = common._minimum_stake(total_compute + computeUnits, self.minStakePerComputeUnit)
    assert (staticcall self.stakeManager.stakeOf(msg.sender)) >= required, (
        "InjectiveAiHub: stake below minimum"
    )
    nonce: uint256 = extcall self.computeRegistry.addNode(msg.sender, nodekey, computeUnits, specsURI)
    digest: bytes32 = self._attestation_digest(
        msg.sender, nodekey, computeUnits, keccak256(specsURI), nonce, deadline
    )
    assert eip712._recover(digest, signature) == nodekey, "InjectiveAiHub: attestation not signed by the node key"


@external
def removeComputeNode(nodekey: address):
    """
    @notice Remove one of the caller's nodes: out of its pool, its compute units and key released.
    @param nodekey The node's key.
    """
    assert (staticcall self.computeRegistry.getNode(nodekey)).provider == msg.sender, (
        "InjectiveAiHub: not the node's provider"
    )
    extcall self.computePool.releaseNode(nodekey)
    extcall self.computeRegistry.removeNode(nodekey)


# ---------------------------------------------------------------------------------------------
# Validators
# ---------------------------------------------------------------------------------------------

@external
def validateNode(nodekey: address):
    """
    @notice Mark a node validated: it may join pools. Validator only.
    @param nodekey The node's key.
    """
    access_control._check_role(VALIDATOR_ROLE, msg.sender)
    extcall self.computeRegistry.setNodeValidated(nodekey, True)


@external
def invalidateNode(nodekey: address):
    """
    @notice Withdraw a node's validation and take it out of its pool. Validator only.
    @param nodekey The node's key.
    """
    access_control._check_role(VALIDATOR_ROLE, msg.sender)
    extcall self.computeRegistry.setNodeValidated(nodekey, False)
    extcall self.computePool.releaseNode(nodekey)


@external
def whitelistProvider(provider: address):
    """
    @notice Whitelist a provider: its validated nodes may join pools. Validator only.
    @param provider The provider.
    """
    access_control._check_role(VALIDATOR_ROLE, msg.sender)
    extcall self.computeRegistry.whitelistProvider(provider)


@external
def blacklistProvider(provider: address, nodes: DynArray[address, MAX_BATCH]):
    """
    @notice Blacklist a provider for good: no new nodes, joins or work, and release the listed
            nodes from their pools. Nodes not listed can be released by anyone afterwards with
            `ComputePool.releaseBlacklistedNode`. Validator only. Slash first if its stake should
            go: blacklisting alone does not touch funds. SPEC 3.4.
    @param provider The provider.
    @param nodes Up to 64 of the provider's nodes to release from their pools.
    """
    access_control._check_role(VALIDATOR_ROLE, msg.sender)
    extcall self.computeRegistry.blacklistProvider(provider)
    for node: address in nodes:
        assert (staticcall self.computeRegistry.getNode(node)).provider == provider, (
            "InjectiveAiHub: node belongs to another provider"
        )
        extcall self.computePool.releaseNode(node)


@external
def slash(provider: address, amount: uint256, reason: String[128]) -> uint256:
    """
    @notice Slash up to `amount` of a provider's stake (active first, then pending unbonds,
            newest first), at most calculateMinimumStake(provider, 0) per call (SPEC 3.3). The INJ
            is held for the treasury, never paid to the caller. Validator only. `previewSlash`
            tells what a call would take.
    @param provider The provider.
    @param amount Most to slash; capped by the bound above and by what the provider has.
    @param reason Why, for the record.
    @return The amount slashed, > 0.
    """
    access_control._check_role(VALIDATOR_ROLE, msg.sender)
    assert self.treasury != msg.sender, "InjectiveAiHub: a slash cannot pay its validator"
    capped: uint256 = self._capped_slash(provider, amount)
    slashed: uint256 = extcall self.stakeManager.slash(provider, capped, msg.sender, reason)
    assert slashed > 0, "InjectiveAiHub: nothing to slash"
    return slashed


# ---------------------------------------------------------------------------------------------
# Views
# ---------------------------------------------------------------------------------------------

@external
@view
def calculateMinimumStake(provider: address, computeUnits: uint256) -> uint256:
    """
    @notice Stake `provider` needs to hold with `computeUnits` more compute:
            (providerTotalCompute + computeUnits) * minStakePerComputeUnit + minStakePerComputeUnit.
    @param provider The provider.
    @param computeUnits Extra compute units (0 for the current requirement).
    @return Wei.
    """
    total_compute: uint256 = (staticcall self.computeRegistry.getProvider(provider)).totalCompute
    return common._minimum_stake(total_compute + computeUnits, self.minStakePerComputeUnit)


@external
@view
def previewSlash(provider: address, amount: uint256) -> uint256:
    """
    @notice What `slash(provider, amount)` (or a hard invalidation asking for `amount`) would take
            now: min(amount, calculateMinimumStake(provider, 0), active stake + pending unbonds).
    @param provider The provider.
    @param amount The amount asked for.
    @return Wei.
    """
    held: uint256 = staticcall self.stakeManager.stakeOf(provider)
    held += staticcall self.stakeManager.unbondingOf(provider)
    return min(self._capped_slash(provider, amount), held)


@external
@view
def nodeAttestationDigest(
    provider: address, nodekey: address, computeUnits: uint256, specsURI: String[256], nonce: uint256, deadline: uint256
) -> bytes32:
    """
    @notice The EIP-712 digest a node key signs to attest a node, so clients can check their
            signing code against the contract.
    @param provider The provider adding the node.
    @param nodekey The node's key.
    @param computeUnits The node's compute units.
    @param specsURI The node's specs URI (hashed into the message).
    @param nonce The node's attestation nonce.
    @param deadline Last valid second.
    @return The digest.
    """
    return self._attestation_digest(provider, nodekey, computeUnits, keccak256(specsURI), nonce, deadline)


# ---------------------------------------------------------------------------------------------
# Internals
# ---------------------------------------------------------------------------------------------


@internal
@view
def _capped_slash(provider: address, amount: uint256) -> uint256:
    """@dev `amount` capped at the provider's bonded requirement, the per-incident bound of SPEC 3.3."""
    total_compute: uint256 = (staticcall self.computeRegistry.getProvider(provider)).totalCompute
    return min(amount, common._minimum_stake(total_compute, self.minStakePerComputeUnit))


@internal
@view
def _attestation_digest(
    provider: address, nodekey: address, computeUnits: uint256, specsHash: bytes32, nonce: uint256, deadline: uint256
) -> bytes32:
    """@dev The EIP-712 digest of a NodeAttestation."""
    return eip712._hash_typed_data(
        keccak256(abi_encode(NODE_ATTESTATION_TYPEHASH, provider, nodekey, computeUnits, specsHash, nonce, deadline))
    )


@internal
@view
def _only_registered(provider: address) -> uint256:
    """@dev Revert unless `provider` is registered; return its total compute."""
    record: IComputeRegistry.Provider = staticcall self.computeRegistry.getProvider(provider)
    assert record.registered, "InjectiveAiHub: provider not registered"
    return record.totalCompute
