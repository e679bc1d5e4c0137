"""The shared set-up's order and pool rules (hub/client/scenario.py), on a recording backend: the
chain backends (the demo, node_and_pool, the gas bench, the fuzz bootstrap) are exercised by their
own tests; this pins what they all rely on."""

from __future__ import annotations

from hub.client.scenario import NodePlan, PoolPlan, ProviderPlan, Scenario, run, run_pools, run_providers
from hub.metadata import PublishedMetadata

META = PublishedMetadata("ipfs://m", b"\x01" * 32, 0)


class Recorder:
    """Records each step; a join succeeds unless it would pass the pool's compute limit."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.calls: list[tuple] = []
        self.limits: dict[int, int] = {}
        self.used: dict[int, int] = {}

    def register_provider(self, provider, plan):
        self.calls.append(("register", provider, plan.stake))

    def add_node(self, provider, node, plan):
        self.calls.append(("add", provider, node, plan.compute_units))

    def validate_node(self, provider, node):
        self.calls.append(("validate", provider, node))

    def whitelist_provider(self, provider):
        self.calls.append(("whitelist", provider))

    def create_pool(self, pool, plan, compute_limit):
        pool_id = 10 + pool
        self.limits[pool_id], self.used[pool_id] = compute_limit, 0
        self.calls.append(("create", pool_id, compute_limit))
        return pool_id

    def join_pool(self, pool_id, provider, node):
        units = self.scenario.providers[provider].nodes[node].compute_units
        fits = not self.limits[pool_id] or self.used[pool_id] + units <= self.limits[pool_id]
        self.used[pool_id] += units if fits else 0
        self.calls.append(("join", pool_id, provider, node, fits))
        return fits

    def start_pool(self, pool_id):
        self.calls.append(("start", pool_id))


def test_steps_run_in_the_one_order() -> None:
    scenario = Scenario(
        (ProviderPlan(5, (NodePlan(2), NodePlan(3, joins=False))), ProviderPlan(7, (NodePlan(1),))),
        (PoolPlan(1, META, budget=9, reward_per_unit=1, challenge_window=2),),
    )
    steps = Recorder(scenario)
    assert run(scenario, steps) == [10]
    assert steps.calls == [
        ("register", 0, 5),
        ("add", 0, 0, 2),
        ("validate", 0, 0),
        ("add", 0, 1, 3),
        ("validate", 0, 1),
        ("whitelist", 0),
        ("register", 1, 7),
        ("add", 1, 0, 1),
        ("validate", 1, 0),
        ("whitelist", 1),
        ("create", 10, 0),
        ("join", 10, 0, 0, True),  # the node that does not join is left out
        ("join", 10, 1, 0, True),
        ("start", 10),
    ]


def test_a_node_left_out_by_the_limit_joins_the_next_pool() -> None:
    overflow = PoolPlan(1, META, budget=9, reward_per_unit=1, challenge_window=2, limit_below_fit=1)
    exact = PoolPlan(1, META, budget=9, reward_per_unit=1, challenge_window=2, limit_below_fit=0)
    scenario = Scenario((ProviderPlan(5, (NodePlan(2), NodePlan(3))),), (overflow, exact))
    steps = Recorder(scenario)
    run(scenario, steps)
    pools = [c for c in steps.calls if c[0] in ("create", "join")]
    # pool 10 fits the joiners' 5 units less one: the second node's join fails, so pool 11 (its
    # limit exactly what is left) is for that node alone
    assert pools == [
        ("create", 10, 4),
        ("join", 10, 0, 0, True),
        ("join", 10, 0, 1, False),
        ("create", 11, 3),
        ("join", 11, 0, 1, True),
    ]


def test_unapproved_providers_and_unstarted_pools_wait() -> None:
    """What node_and_pool runs: the validator's steps and the start are left to the test."""
    scenario = Scenario(
        (ProviderPlan(5, (NodePlan(2, joins=False),), approve=False),),
        (PoolPlan(1, META, budget=9, reward_per_unit=1, challenge_window=2, start=False),),
    )
    steps = Recorder(scenario)
    run_providers(scenario, steps)
    assert run_pools(scenario, steps) == [10]
    assert [c[0] for c in steps.calls] == ["register", "add", "create"]
