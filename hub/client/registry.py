"""ComputeRegistry: providers and nodes (read-only; the hub writes here)."""

from __future__ import annotations

from hub.client.base import ContractBinding, address_arg
from hub.client.models import Node, Provider

_ZERO = "0x0000000000000000000000000000000000000000"


class RegistryContract(ContractBinding):
    NAME = "ComputeRegistry"

    def provider(self, address: str) -> Provider:
        address = address_arg(address, "provider")
        registered, whitelisted, blacklisted, total, count = self._read("getProvider", address)
        return Provider(
            address=address,
            registered=registered,
            whitelisted=whitelisted,
            blacklisted=blacklisted,
            total_compute=total,
            node_count=count,
        )

    def node(self, address: str) -> Node:
        address = address_arg(address, "node")
        provider, units, validated = self._read("getNode", address)
        return Node(
            address=address, provider=None if provider == _ZERO else provider, compute_units=units, validated=validated
        )

    def node_nonce(self, node: str) -> int:
        """The nonce the node key's next attestation signs."""
        return self._read("nodeNonce", address_arg(node, "node"))

    def providers(self) -> list[Provider]:
        """Every provider that ever registered (from ProviderRegistered logs), with its record now."""
        seen = dict.fromkeys(e["args"]["provider"] for e in self._logs("ProviderRegistered"))
        return [self.provider(address) for address in seen]

    def registrations(self, from_block: int, to_block: int) -> tuple[list[str], list[tuple[str, str]]]:
        """In blocks [from_block, to_block], oldest first: the provider of each ProviderRegistered event
        and (provider, node) of each NodeAdded event, both read by one eth_getLogs per LOG_CHUNK blocks."""
        providers: list[str] = []
        nodes: list[tuple[str, str]] = []
        for name, event in self._logs_of(("ProviderRegistered", "NodeAdded"), from_block, to_block):
            if name == "ProviderRegistered":
                providers.append(event["args"]["provider"])
            else:
                nodes.append((event["args"]["provider"], event["args"]["node"]))
        return providers, nodes

    def nodes_of(self, provider: str) -> list[Node]:
        """`provider`'s current nodes, found from its NodeAdded logs."""
        provider = address_arg(provider, "provider")
        keys = dict.fromkeys(e["args"]["node"] for e in self._logs("NodeAdded", {"provider": provider}))
        nodes = [self.node(key) for key in keys]
        return [n for n in nodes if n.provider == provider]
