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
        sum of its nodes' units. The attestation nonce of a node key only ever grows, so an old
        node signature can never be replayed.
"""

from interfaces import IComputeRegistry

implements: IComputeRegistry

# @dev The hub, the only writer.
HUB: public(immutable(address))

# @dev provider => record.
_providers: HashMap[address, IComputeRegistry.Provider]

# @dev node key => record (provider == empty means no such node).
_nodes: HashMap[address, IComputeRegistry.Node]

# @dev Blacklisted providers. Kept across deregistration so a blacklisted provider cannot return.
isBlacklisted: public(HashMap[address, bool])

# @dev node key => the nonce its next attestation must sign. Never reset.
nodeNonce: public(HashMap[address, uint256])


@deploy
def __init__(hub: address):
    """
    @param hub The InjectiveAiHub address.
    """
    assert hub != empty(address), "ComputeRegistry: zero hub"
    HUB = hub


@external
def registerProvider(provider: address):
    """
    @notice Record a new provider. Hub only.
    @param provider The provider's address.
    """
    self._only_hub()
    assert not self._providers[provider].registered, "ComputeRegistry: provider already registered"
    assert not self.isBlacklisted[provider], "ComputeRegistry: provider is blacklisted"
    self._providers[provider].registered = True
    log IComputeRegistry.ProviderRegistered(provider=provider)


@external
def deregisterProvider(provider: address):
    """
    @notice Delete a provider that has no nodes left. Hub only.
    @param provider The provider's address.
    """
    self._only_hub()
    assert self._providers[provider].registered, "ComputeRegistry: provider not registered"
    assert self._providers[provider].nodeCount == 0, "ComputeRegistry: remove the provider's nodes first"
    # no nodes means totalCompute is already 0 (it is the sum of the nodes' units)
    self._providers[provider] = empty(IComputeRegistry.Provider)
    log IComputeRegistry.ProviderDeregistered(provider=provider)


@external
def whitelistProvider(provider: address):
    """
    @notice Let a registered provider's validated nodes join pools. Hub only (validator role).
    @param provider The provider's address.
    """
    self._only_hub()
    assert self._providers[provider].registered, "ComputeRegistry: provider not registered"
    assert not self._providers[provider].whitelisted, "ComputeRegistry: provider already whitelisted"
    assert not self.isBlacklisted[provider], "ComputeRegistry: provider is blacklisted"
    self._providers[provider].whitelisted = True
    log IComputeRegistry.ProviderWhitelisted(provider=provider)


@external
def blacklistProvider(provider: address):
    """
    @notice Blacklist a provider for good: no registration, no new nodes, no pool joins, no work.
            Hub only (validator role). Its stake stays in custody and can still be slashed.
    @param provider The provider's address (registered or not).
    """
    self._only_hub()
    assert provider != empty(address), "ComputeRegistry: zero address"
    assert not self.isBlacklisted[provider], "ComputeRegistry: provider already blacklisted"
    self.isBlacklisted[provider] = True
    self._providers[provider].whitelisted = False
    log IComputeRegistry.ProviderBlacklisted(provider=provider)


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
    self._only_hub()
    assert self._providers[provider].registered, "ComputeRegistry: provider not registered"
    assert not self.isBlacklisted[provider], "ComputeRegistry: provider is blacklisted"
    assert node != empty(address), "ComputeRegistry: zero node key"
    assert computeUnits > 0, "ComputeRegistry: compute units must be positive"
    assert self._nodes[node].provider == empty(address), "ComputeRegistry: node key already registered"
    nonce: uint256 = self.nodeNonce[node]
    self.nodeNonce[node] = nonce + 1
    self._nodes[node] = IComputeRegistry.Node(provider=provider, computeUnits=computeUnits, validated=False)
    self._providers[provider].totalCompute += computeUnits
    self._providers[provider].nodeCount += 1
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
    self._only_hub()
    record: IComputeRegistry.Node = self._nodes[node]
    assert record.provider != empty(address), "ComputeRegistry: node not registered"
    # the provider's totals include this node, so neither subtraction can underflow
    self._providers[record.provider].totalCompute = unsafe_sub(
        self._providers[record.provider].totalCompute, record.computeUnits
    )
    self._providers[record.provider].nodeCount = unsafe_sub(self._providers[record.provider].nodeCount, 1)
    self._nodes[node] = empty(IComputeRegistry.Node)
    log IComputeRegistry.NodeRemoved(provider=record.provider, node=node, computeUnits=record.computeUnits)


@external
def setNodeValidated(node: address, validated: bool):
    """
    @notice Mark `node` validated or not. Hub only (validator role).
    @param node The node's key.
    @param validated The new state; must differ from the current one.
    """
    self._only_hub()
    provider: address = self._nodes[node].provider
    assert provider != empty(address), "ComputeRegistry: node not registered"
    if validated:
        assert not self._nodes[node].validated, "ComputeRegistry: node already validated"
    else:
        assert self._nodes[node].validated, "ComputeRegistry: node not validated"
    self._nodes[node].validated = validated
    log IComputeRegistry.NodeValidationChanged(provider=provider, node=node, validated=validated)


@view
@external
def getProvider(provider: address) -> IComputeRegistry.Provider:
    """
    @notice A provider's record.
    @param provider The provider's address.
    @return registered, whitelisted, totalCompute, nodeCount.
    """
    return self._providers[provider]


@view
@external
def getNode(node: address) -> IComputeRegistry.Node:
    """
    @notice A node's record (all zero if the key is not registered).
    @param node The node's key.
    @return provider, computeUnits, validated.
    """
    return self._nodes[node]


@view
@external
def getProviderTotalCompute(provider: address) -> uint256:
    """
    @notice Sum of the compute units of `provider`'s nodes (the seed's name for it).
    @param provider The provider's address.
    @return Compute units.
    """
    return self._providers[provider].totalCompute


@internal
@view
def _only_hub():
    assert msg.sender == HUB, "ComputeRegistry: caller is not the hub"
