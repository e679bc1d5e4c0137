"""DomainRegistry: training domains (read-only; federators create them through the hub)."""

from __future__ import annotations

from hub.client.base import ContractBinding
from hub.client.models import Domain
from hub.errors import HubError


class DomainsContract(ContractBinding):
    NAME = "DomainRegistry"

    def count(self) -> int:
        return self._read("domainCount")

    def get(self, domain_id: int) -> Domain:
        name, logic, uri = self._read("getDomain", domain_id)
        if not name:
            raise HubError(f"no domain {domain_id}", hint="`hub status` lists the domains")
        return Domain(domain_id=domain_id, name=name, validation_logic=logic, uri=uri)

    def list(self) -> list[Domain]:
        return [self.get(i) for i in range(1, self.count() + 1)]
