"""The provider-node-pool set-up, in one order, for everything that needs a running market.

A provider stakes; each of its nodes is added (attested by the node's own key) and validated; the
validator whitelists the provider; a creator creates and funds a pool; each node joins with the
manager's invite; the creator starts the pool. `Scenario` says who and how much (providers, their
nodes' compute units, the pools' terms); `run_providers` and `run_pools` walk it in that order and
hand each step to a `Steps` backend:

- `ClientSteps` sends them with `HubClient`s on a real chain and keeps every typed result
  (hub/client/results.py), with its sender and how long it took. The demo (aihub_demo), the chain
  tests (tests/hub/helpers.node_and_pool) and the client speed benchmark (bench/hub_speed.py) use it.
- The Titanoboa users implement the same seven steps on contract objects: the gas benchmark
  (bench/gas.py) measures each call, the fuzz bootstrap (fuzz/machine.py) checks each against its
  ghost model. They share the plan and the order, not the calls: a Titanoboa call has no receipt to
  type, and the fuzz must send some steps as a contract (its malicious receiver) and expect a revert
  where the ghost does (a join past a pool's compute limit).

It lives in the product package because the demo, the tests, the fuzz suite and the benchmarks all
import `hub` and `hub` imports none of them: product code never imports test code, and the chain
backend needs nothing but the client. Nothing here imports web3 at module level.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, TypeVar

if TYPE_CHECKING:
    from hub.client.hub_client import HubClient
    from hub.client.results import (
        NodeJoin,
        NodeRegistration,
        NodeValidation,
        PoolCreation,
        PoolStatusChange,
        StakeChange,
    )
    from hub.metadata import PublishedMetadata
    from hub.tx import TxResult

R = TypeVar("R", bound="TxResult")


@dataclass(frozen=True)
class NodePlan:
    compute_units: int
    specs_uri: str = "ipfs://specs"
    # @dev False: added (and validated) but left out of every pool (an outsider, or a test that joins later).
    joins: bool = True


@dataclass(frozen=True)
class ProviderPlan:
    # @dev Wei staked at registration; it must cover the minimum for all the nodes' compute units.
    stake: int
    nodes: tuple[NodePlan, ...]
    # @dev False: nodes stay unvalidated and the provider off the whitelist (a test approves later).
    approve: bool = True


@dataclass(frozen=True)
class PoolPlan:
    domain_id: int
    metadata: PublishedMetadata
    # @dev Wei funded at creation.
    budget: int
    reward_per_unit: int
    challenge_window: int
    # @dev None: no compute limit; k: the joining nodes' compute units minus k (0 fills the pool
    #      exactly, 1 leaves the last joiner out; the contract reverts that join).
    limit_below_fit: int | None = None
    start: bool = True


@dataclass(frozen=True)
class Scenario:
    providers: tuple[ProviderPlan, ...]
    # @dev Each pool is joined by every joining node that an earlier pool of the scenario did not take.
    pools: tuple[PoolPlan, ...] = ()


class Steps(Protocol):
    """One backend's seven steps. Providers and nodes are named by their place in the scenario
    (provider p, its node n); the backend maps them to accounts."""

    def register_provider(self, provider: int, plan: ProviderPlan) -> object: ...

    def add_node(self, provider: int, node: int, plan: NodePlan) -> object: ...

    def validate_node(self, provider: int, node: int) -> object: ...

    def whitelist_provider(self, provider: int) -> object: ...

    def create_pool(self, pool: int, plan: PoolPlan, compute_limit: int) -> int | None:
        """The new pool's id; None where the backend expected the creation to revert."""
        ...

    def join_pool(self, pool_id: int, provider: int, node: int) -> bool:
        """Whether the node is now in the pool (False where the backend expected a revert)."""
        ...

    def start_pool(self, pool_id: int) -> object: ...


def run_providers(scenario: Scenario, steps: Steps) -> None:
    """Stake, add and validate each node, whitelist: every provider of the scenario, in order."""
    for p, provider in enumerate(scenario.providers):
        steps.register_provider(p, provider)
        for n, node in enumerate(provider.nodes):
            steps.add_node(p, n, node)
            if provider.approve:
                steps.validate_node(p, n)
        if provider.approve:
            steps.whitelist_provider(p)


def run_pools(scenario: Scenario, steps: Steps) -> list[int]:
    """Create each pool, join the nodes no earlier pool took, start it; returns the pools' ids
    (those that were created)."""
    taken: set[tuple[int, int]] = set()
    pool_ids = []
    for k, pool in enumerate(scenario.pools):
        joining = [
            (p, n)
            for p, provider in enumerate(scenario.providers)
            for n, node in enumerate(provider.nodes)
            if node.joins and (p, n) not in taken
        ]
        fit = sum(scenario.providers[p].nodes[n].compute_units for p, n in joining)
        limit = 0 if pool.limit_below_fit is None else max(fit - pool.limit_below_fit, 0)
        pool_id = steps.create_pool(k, pool, limit)
        if pool_id is None:
            continue
        pool_ids.append(pool_id)
        taken.update((p, n) for p, n in joining if steps.join_pool(pool_id, p, n))
        if pool.start:
            steps.start_pool(pool_id)
    return pool_ids


def run(scenario: Scenario, steps: Steps) -> list[int]:
    """The whole set-up: `run_providers`, then `run_pools`."""
    run_providers(scenario, steps)
    return run_pools(scenario, steps)


@dataclass(frozen=True)
class Sent:
    """One transaction of the scenario: its typed result, its sender and the seconds the client call
    took (checks, estimate, signing, sending, receipt)."""

    sender: str
    result: TxResult
    seconds: float


@dataclass
class ClientSteps:
    """The steps sent by `HubClient`s: `providers[p]` stakes and adds `nodes[p][n]` (which signs its
    attestation and sends its own join), `validator` validates and whitelists, `creator` creates,
    manages (signs the invites) and starts the pools."""

    providers: Sequence[HubClient]
    nodes: Sequence[Sequence[HubClient]]
    creator: HubClient
    validator: HubClient
    sent: list[Sent] = field(default_factory=list)

    def of(self, kind: type[R]) -> list[R]:
        """The results of one kind, in the order sent (e.g. `of(PoolCreation)`)."""
        return [s.result for s in self.sent if isinstance(s.result, kind)]

    def _send(self, sender: HubClient, call: Callable[..., R], *args: object) -> R:
        start = time.perf_counter()
        result = call(*args)
        self.sent.append(Sent(sender.address, result, time.perf_counter() - start))
        return result

    def register_provider(self, provider: int, plan: ProviderPlan) -> StakeChange:
        client = self.providers[provider]
        return self._send(client, client.hub.register_provider, plan.stake)

    def add_node(self, provider: int, node: int, plan: NodePlan) -> NodeRegistration:
        client, key = self.providers[provider], self.nodes[provider][node]
        attestation = key.hub.attest_node(client.address, plan.compute_units, plan.specs_uri)
        return self._send(client, client.hub.add_compute_node, attestation)

    def validate_node(self, provider: int, node: int) -> NodeValidation:
        return self._send(self.validator, self.validator.hub.validate_node, self.nodes[provider][node].address)

    def whitelist_provider(self, provider: int) -> TxResult:
        return self._send(self.validator, self.validator.hub.whitelist_provider, self.providers[provider].address)

    def create_pool(self, pool: int, plan: PoolPlan, compute_limit: int) -> int:
        created: PoolCreation = self._send(
            self.creator,
            lambda: self.creator.pool.create(
                plan.domain_id,
                plan.metadata,
                budget=plan.budget,
                reward_per_unit=plan.reward_per_unit,
                challenge_window=plan.challenge_window,
                compute_limit=compute_limit,
            ),
        )
        return created.pool_id

    def join_pool(self, pool_id: int, provider: int, node: int) -> bool:
        key = self.nodes[provider][node]
        invite = self.creator.pool.invite(pool_id, key.address)
        joined: NodeJoin = self._send(key, key.pool.join, invite)
        return joined.pool_id == pool_id

    def start_pool(self, pool_id: int) -> PoolStatusChange:
        return self._send(self.creator, self.creator.pool.start, pool_id)
