# pragma version 0.4.3
# pragma evm-version prague
# pragma nonreentrancy on
"""
@title ComputeRegistry
@license MIT
@notice The register of compute providers and their nodes: who owns which node key, how many
        compute units each node has, which nodes a validator has validated, and which providers
        are whitelisted or blacklisted. It holds no funds.
@custom:security Only the hub writes here, after its own role and stake checks. A node key belongs
        to at most one provider at a time; removing a node releases its key and its compute units;
        a provider deregisters only once it has no nodes. Provider total compute always equals the
        sum of its nodes' units, which are stored as given (uint256, never truncated). The
        attestation nonce of a node key only ever grows, so an old node signature can never be
        replayed. Blacklisting survives deregistration; re-registering gives a fresh record that
        is not whitelisted, and is refused to a blacklisted provider (docs/SPEC.md 4.2, Rules R9
        and R10).
"""

from interfaces import IComputeRegistry
from modules import common

implements: IComputeRegistry

# @dev Revert reason of every state change (the hub is the only writer).
_NOT_HUB: constant(String[64]) = "ComputeRegistry: caller is not the hub"

# @dev Flag bits of a provider word.
_REGISTERED: constant(uint256) = 1
_WHITELISTED: constant(uint256) = 2
_BLACKLISTED: constant(uint256) = 4

# @dev The validated bit of a node word.
_VALIDATED: constant(uint256) = 1 << 160

# @dev The hub, the only writer.
HUB: public(immutable(address))

# @dev provider => flags (bits 0-2: registered, whitelisted, blacklisted) | node count (bits 64-255).
#      One word so that registration writes one slot and a node add or removal updates a slot that
#      is already non-zero (gas goals: SPEC 11).
_providerWord: HashMap[address, uint256]

# @dev provider => sum of its nodes' compute units.
_totalCompute: HashMap[address, uint256]

# @dev node key => provider (bits 0-159) | validated (bit 160) | attestation nonce (bits 192-255).
#      Removing a node clears the provider and validated bits but keeps the nonce: it never resets.
_nodeWord: HashMap[address, uint256]

# @dev node key => compute units (0 when the key is not registered).
_nodeUnits: HashMap[address, uint256]


@deploy
def __init__(hub: address):
    """
    @param hub The InjectiveAiHub address.
    """
    assert hub != empty(address), "ComputeRegistry: zero hub"
    HUB = hub


# ---------------------------------------------------------------------------------------------
# Providers (hub only)
# ---------------------------------------------------------------------------------------------

@external
def registerProvider(provider: address):
    """
    @notice Record a new provider. Hub only.
    @param provider The provider's address.
    """
    common._only(HUB, _NOT_HUB)
    word: uint256 = self._providerWord[provider]
    assert word & _REGISTERED == 0, "ComputeRegistry: provider already registered"
    assert word & _BLACKLISTED == 0, "ComputeRegistry: provider is blacklisted"
    self._providerWord[provider] = word | _REGISTERED
    log IComputeRegistry.ProviderRegistered(provider=provider)


@external
def deregisterProvider(provider: address):
    """
    @notice Delete a provider that has no nodes left. Hub only.
    @param provider The provider's address.
    """
    common._only(HUB, _NOT_HUB)
    word: uint256 = self._providerWord[provider]
    assert word & _REGISTERED != 0, "ComputeRegistry: provider not registered"
    assert word >> 64 == 0, "ComputeRegistry: remove the provider's nodes first"
    # no nodes means its total compute is already 0; only the blacklist bit survives
    self._providerWord[provider] = word & _BLACKLISTED
    log IComputeRegistry.ProviderDeregistered(provider=provider)


@external
def whitelistProvider(provider: address):
    """
    @notice Let a registered provider's validated nodes join pools. Hub only (validator role).
    @param provider The provider's address.
    """
    common._only(HUB, _NOT_HUB)
    word: uint256 = self._providerWord[provider]
    assert word & _REGISTERED != 0, "ComputeRegistry: provider not registered"
    assert word & _WHITELISTED == 0, "ComputeRegistry: provider already whitelisted"
    assert word & _BLACKLISTED == 0, "ComputeRegistry: provider is blacklisted"
    self._providerWord[provider] = word | _WHITELISTED
    log IComputeRegistry.ProviderWhitelisted(provider=provider)


@external
def blacklistProvider(provider: address):
    """
    @notice Blacklist a provider for good: no registration, no new nodes, no pool joins, no work.
            Hub only (validator role). Its stake stays in custody and can still be slashed.
    @param provider The provider's address (registered or not).
    """
    common._only(HUB, _NOT_HUB)
    assert provider != empty(address), "ComputeRegistry: zero address"
    word: uint256 = self._providerWord[provider]
    assert word & _BLACKLISTED == 0, "ComputeRegistry: provider already blacklisted"
    # blacklisting also withdraws the whitelist: "whitelisted" always implies "not blacklisted"
    self._providerWord[provider] = (word | _BLACKLISTED) & ~_WHITELISTED
    log IComputeRegistry.ProviderBlacklisted(provider=provider)


# ---------------------------------------------------------------------------------------------
# Nodes (hub only)
# ---------------------------------------------------------------------------------------------

@external
def addNode(provider: address, node: address, computeUnits: uint256, specsURI: String[256]) -> uint256:
    """
    @notice Add `node` under `provider` and consume the node's attestation nonce. Hub only; the hub
            verifies the node's signature over the returned nonce in the same transaction.
    @param provider The owning provider.
    @param node The node's key.
    @param computeUnits The node's compute units, > 0, stored as given.
    @param specsURI Where the node's hardware specs are published (logged, signed by the node).
    @return The nonce the node's attestation must have signed.
    """
    common._only(HUB, _NOT_HUB)
    provider_word: uint256 = self._providerWord[provider]
    assert provider_word & _REGISTERED != 0, "ComputeRegistry: provider not registered"
    assert provider_word & _BLACKLISTED == 0, "ComputeRegistry: provider is blacklisted"
    assert node != empty(address), "ComputeRegistry: zero node key"
    assert computeUnits > 0, "ComputeRegistry: compute units must be positive"
    node_word: uint256 = self._nodeWord[node]
    assert common._address_of(node_word) == empty(address), "ComputeRegistry: node key already registered"
    nonce: uint256 = node_word >> 192
    # a node key is added at most once per transaction: its nonce stays far below 2**64
    self._nodeWord[node] = convert(provider, uint256) | ((nonce + 1) << 192)
    self._nodeUnits[node] = computeUnits
    self._totalCompute[provider] += computeUnits
    self._providerWord[provider] = provider_word + (1 << 64)
    log IComputeRegistry.NodeAdded(
        provider=provider, node=node, computeUnits=computeUnits, specsURI=specsURI, nonce=nonce
    )
    return nonce


@external
def removeNode(node: address):
    """
    @notice Remove `node` and release its key and compute units. Hub only (the hub first
            releases it from its pool).
    @param node The node's key.
    """
    common._only(HUB, _NOT_HUB)
    node_word: uint256 = self._nodeWord[node]
    provider: address = common._address_of(node_word)
    assert provider != empty(address), "ComputeRegistry: node not registered"
    units: uint256 = self._nodeUnits[node]
    # the provider's totals include this node, so neither subtraction can underflow
    self._totalCompute[provider] = unsafe_sub(self._totalCompute[provider], units)
    self._providerWord[provider] = unsafe_sub(self._providerWord[provider], 1 << 64)
    # keep only the nonce
    self._nodeWord[node] = node_word & ~(2**192 - 1)
    self._nodeUnits[node] = 0
    log IComputeRegistry.NodeRemoved(provider=provider, node=node, computeUnits=units)


@external
def setNodeValidated(node: address, validated: bool):
    """
    @notice Mark `node` validated or not. Hub only (validator role).
    @param node The node's key.
    @param validated The new state; must differ from the current one.
    """
    common._only(HUB, _NOT_HUB)
    node_word: uint256 = self._nodeWord[node]
    provider: address = common._address_of(node_word)
    assert provider != empty(address), "ComputeRegistry: node not registered"
    if validated:
        assert node_word & _VALIDATED == 0, "ComputeRegistry: node already validated"
        self._nodeWord[node] = node_word | _VALIDATED
    else:
        assert node_word & _VALIDATED != 0, "ComputeRegistry: node not validated"
        self._nodeWord[node] = node_word & ~_VALIDATED
    log IComputeRegistry.NodeValidationChanged(provider=provider, node=node, validated=validated)


# ---------------------------------------------------------------------------------------------
# Views
# ---------------------------------------------------------------------------------------------

@external
@view
def getProvider(provider: address) -> IComputeRegistry.Provider:
    """
    @notice A provider's record.
    @param provider The provider's address.
    @return registered, whitelisted, blacklisted, totalCompute, nodeCount.
    """
    word: uint256 = self._providerWord[provider]
    return IComputeRegistry.Provider(
        registered=word & _REGISTERED != 0,
        whitelisted=word & _WHITELISTED != 0,
        blacklisted=word & _BLACKLISTED != 0,
        totalCompute=self._totalCompute[provider],
        nodeCount=word >> 64,
    )


@external
@view
def getNode(node: address) -> IComputeRegistry.Node:
    """
    @notice A node's record (all zero if the key is not registered).
    @param node The node's key.
    @return provider, computeUnits, validated.
    """
    word: uint256 = self._nodeWord[node]
    return IComputeRegistry.Node(
        provider=common._address_of(word), computeUnits=self._nodeUnits[node], validated=word & _VALIDATED != 0
    )


@external
@view
def nodeWorkInfo(node: address) -> (address, uint256, bool, uint256):
    """
    @notice What the compute pool needs when a node submits work, in one call.
    @param node The node's key.
    @return provider, compute units, whether the provider is blacklisted, the provider's total
            compute (for its stake minimum, SPEC 7.3).
    """
    provider: address = common._address_of(self._nodeWord[node])
    return (
        provider,
        self._nodeUnits[node],
        self._providerWord[provider] & _BLACKLISTED != 0,
        self._totalCompute[provider],
    )


@external
@view
def nodeNonce(node: address) -> uint256:
    """
    @notice The nonce the node key's next attestation must sign.
    @param node The node's key.
    @return The nonce.
    """
    return self._nodeWord[node] >> 192


@external
@view
def isBlacklisted(provider: address) -> bool:
    """
    @notice Whether a provider is blacklisted.
    @param provider The provider's address.
    @return True if blacklisted.
    """
    return self._providerWord[provider] & _BLACKLISTED != 0


@external
@view
def getProviderTotalCompute(provider: address) -> uint256:
    """
    @notice Sum of the compute units of `provider`'s nodes (the seed's name for it).
    @param provider The provider's address.
    @return Compute units.
    """
    return self._totalCompute[provider]
