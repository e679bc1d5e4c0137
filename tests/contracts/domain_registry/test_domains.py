"""DomainRegistry: createDomain through the hub (federator only), its checks, reads, and writes from
the hub only."""

import boa

from tests.utils.deployers import DOMAINS_DEPLOYER
from tests.utils.scenario import one_event


def test_create_domain(hub, domains, system, federator):
    domain_id = hub.createDomain("llama", system.work_validation.address, "ipfs://params", sender=federator)
    assert domain_id == 1
    e = one_event(hub, "DomainCreated")
    assert (e.domainId, e.validationLogic, e.name, e.domainURI) == (
        1,
        system.work_validation.address,
        "llama",
        "ipfs://params",
    )
    d = domains.getDomain(1)
    assert (d.name, d.validationLogic, d.domainURI) == ("llama", system.work_validation.address, "ipfs://params")
    assert domains.domainCount() == 1
    assert hub.createDomain("b", system.work_validation.address, "", sender=federator) == 2


def test_create_domain_only_federator(hub, system, validator):
    with boa.reverts("AccessControl: missing role"):
        hub.createDomain("x", system.work_validation.address, "", sender=validator)


def test_create_domain_empty_name(hub, system, federator):
    with boa.reverts("DomainRegistry: empty name"):
        hub.createDomain("", system.work_validation.address, "", sender=federator)


def test_create_domain_validation_not_a_contract(hub, federator, attacker):
    with boa.reverts("DomainRegistry: validation logic is not a contract"):
        hub.createDomain("x", attacker, "", sender=federator)


def test_domain_registry_is_hub_only(domains, system, attacker):
    with boa.reverts("DomainRegistry: caller is not the hub"):
        domains.createDomain("x", system.work_validation.address, "", sender=attacker)


def test_zero_hub_refused(admin):
    with boa.env.prank(admin):
        with boa.reverts("DomainRegistry: zero hub"):
            DOMAINS_DEPLOYER.deploy("0x" + "00" * 20)


def test_unknown_domain_is_empty(domains):
    d = domains.getDomain(99)
    assert (d.name, d.validationLogic, d.domainURI) == ("", "0x" + "00" * 20, "")
