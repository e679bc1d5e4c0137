# pragma version 0.4.3
# pragma evm-version prague
# pragma nonreentrancy on
"""
@title DomainRegistry
@license MIT
@notice Training domains. Each names the work-validation contract that bounds what a node may claim
        and a URI with the domain's parameters. Pools pick a domain when they are created and keep
        its validation contract for life. Domains are never edited: a change is a new domain.
@custom:security Written only by the hub (federator role). Holds no funds. Spec: docs/SPEC.md 6.
"""

from interfaces import IDomainRegistry
from modules import common

implements: IDomainRegistry

# @dev The hub, the only writer.
HUB: public(immutable(address))

# @dev Number of domains created; ids run from 1 to domainCount.
domainCount: public(uint256)

# @dev id => domain.
_domains: HashMap[uint256, IDomainRegistry.Domain]


@deploy
def __init__(hub: address):
    """
    @param hub The InjectiveAiHub address.
    """
    assert hub != empty(address), "DomainRegistry: zero hub"
    HUB = hub


@external
def createDomain(name: String[64], validationLogic: address, domainURI: String[256]) -> uint256:
    """
    @notice Create a training domain. Hub only (federator role).
    @param name A human-readable name, not empty.
    @param validationLogic A deployed IWorkValidation contract.
    @param domainURI Where the domain's parameters are published.
    @return The new domain id.
    """
    common._only(HUB, "DomainRegistry: caller is not the hub")
    assert len(name) > 0, "DomainRegistry: empty name"
    assert validationLogic.is_contract, "DomainRegistry: validation logic is not a contract"
    domain_id: uint256 = self.domainCount + 1
    self.domainCount = domain_id
    self._domains[domain_id] = IDomainRegistry.Domain(
        name=name, validationLogic=validationLogic, domainURI=domainURI
    )
    log IDomainRegistry.DomainCreated(
        domainId=domain_id, validationLogic=validationLogic, name=name, domainURI=domainURI
    )
    return domain_id


@external
@view
def getDomain(domainId: uint256) -> IDomainRegistry.Domain:
    """
    @notice A domain (all zero if it does not exist).
    @param domainId The domain id.
    @return name, validationLogic, domainURI.
    """
    return self._domains[domainId]
