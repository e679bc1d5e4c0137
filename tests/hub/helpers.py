"""Helpers for the hub tests that drive the `hub` command in-process."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from click.testing import Result
from typer.testing import CliRunner

from hub.cli.main import app

TEST_PASSWORD = "hub-test-password"
# @dev scrypt n of the test keystores: unlocking is instant (the CLI tests unlock hundreds of times).
FAST_KDF = 2**4
# @dev Durations cannot be warped on a real chain, and every pool's challenge window must be shorter
#      than the deployment's unbonding period (docs/SPEC.md 7.1). Three kinds of test:
#      - tests that read work while it is locked, or invalidate it, use LOCKED_WINDOW_S: longer than
#        pytest's 900 s per-test timeout, so the window cannot pass within a test however loaded the
#        machine is (29 s windows of wall time passed under load: a page opened too late);
#      - tests that wait for a window to pass use 2-9 s windows, and wait for chain time;
#      - tests that wait for an unbond to mature (a withdraw) use a deployment of their own with
#        SHORT_UNBONDING_S (`short_unbonding_world`, tests/session_chain.py), and wait for chain time.
#      The session deployments unbond in UNBONDING_S, so LOCKED_WINDOW_S fits under it.
UNBONDING_S = 3600
LOCKED_WINDOW_S = 1800
SHORT_UNBONDING_S = 30
MIN_STAKE = 10**18  # 1 INJ per compute unit
MAX_RATE = 1_000_000  # work units per compute unit per second
# @dev Dev account that funds fresh actors (the devnet tests use 1..3 for their own transfers).
FUNDER_INDEX = 9
INJ = 10**18


def run_hub(*args: Any, ok: bool = True, env: dict[str, str] | None = None, stdin: str | None = None) -> Result:
    """`hub ARGS` in this process; asserts success unless `ok=False`."""
    result = CliRunner().invoke(app, [str(a) for a in args], env=env, input=stdin)
    if ok:
        assert result.exit_code == 0, f"hub {' '.join(map(str, args))} failed: {result.output}"
    return result


def hub_json(*args: Any) -> Any:
    """`hub ARGS --json`, parsed."""
    return json.loads(run_hub(*args, "--json").stdout)


def hub_executable() -> str:
    """The installed `hub` script beside this interpreter: tests run the command as a user types it."""
    import sys
    from pathlib import Path

    return str(Path(sys.executable).with_name("hub"))


def wait_for_next_block_second(client: Any, timeout: float = 30.0) -> int:
    """Wait until the chain's latest block is a second later than it is now; return its timestamp.

    Rules that count whole seconds of block time (the work-rate cap allows nothing in the second of
    the node's last submission or join) need the next transaction in a later block second. Chain
    time decides that, not the local clock: a fixed sleep is too short on a slow chain.
    """
    from tests.utils.waiting import wait_until

    start = client.now()
    wait_until(lambda: client.now() > start, timeout, f"a block after timestamp {start}", poll=0.1)
    # and one block more: the node lists a block before its state is committed, and a gas estimate
    # runs on the committed state (a capacity revert in a clean-clone run without this)
    listed = client.block_number()
    wait_until(lambda: client.block_number() > listed, timeout, f"a block after block {listed}", poll=0.1)
    return client.now()


@dataclass
class NodeAndPool:
    """A registered provider with one attested node (2 units unless asked), and a pending pool
    created for it in `domain_id` from a metadata file; the node has not joined. It is the shared
    scenario (hub/client/scenario.py) with the validator's approval and the join held back, so a
    test can act in between; `approve` and `join_and_start` run those steps."""

    world: Any
    provider: Any
    node: Any
    creator: Any
    as_provider: Any
    as_node: Any
    as_creator: Any
    pool_id: int
    metadata: Path
    steps: Any

    def approve(self) -> None:
        """The validator validates the node and whitelists its provider."""
        self.steps.validate_node(0, 0)
        self.steps.whitelist_provider(0)

    def join_and_start(self) -> None:
        """The node joins with the creator's invite, then the creator starts the pool."""
        assert self.steps.join_pool(self.pool_id, 0, 0)
        self.steps.start_pool(self.pool_id)


def node_and_pool(
    world: Any,
    prefix: str,
    metadata: dict[str, Any] | Callable[[Any], dict[str, Any]],
    folder: Path,
    *,
    units: int = 2,
    stake: int = 5 * INJ,
    domain_id: int = 1,
    budget: int = INJ,
    reward_per_unit: int = 10**6,
    challenge_window: int = 2,
) -> NodeAndPool:
    """The actors `<prefix>-provider`, `<prefix>-node` (funded with 1 INJ) and `<prefix>-creator`,
    set up as `NodeAndPool` says; the metadata (or `metadata(node_actor)`, for one that names the
    node) is written to `folder/pool.json`. The pool's work is claimable 2 s after it is submitted
    unless `challenge_window` says otherwise (LOCKED_WINDOW_S for work a test invalidates)."""
    from hub.client.scenario import ClientSteps, NodePlan, PoolPlan, ProviderPlan, Scenario, run_pools, run_providers
    from hub.metadata import publish_metadata

    provider = world.actor(f"{prefix}-provider")
    node = world.actor(f"{prefix}-node", fund_wei=INJ)
    creator = world.actor(f"{prefix}-creator")
    as_provider, as_node, as_creator = (world.client(a) for a in (provider, node, creator))
    meta = folder / "pool.json"
    meta.write_text(json.dumps(metadata(node) if callable(metadata) else metadata))
    pool = PoolPlan(
        domain_id,
        publish_metadata(meta),
        budget=budget,
        reward_per_unit=reward_per_unit,
        challenge_window=challenge_window,
        start=False,
    )
    scenario = Scenario((ProviderPlan(stake, (NodePlan(units, joins=False),), approve=False),), (pool,))
    steps = ClientSteps([as_provider], [[as_node]], as_creator, world.client(world.validator))
    run_providers(scenario, steps)
    (pool_id,) = run_pools(scenario, steps)
    return NodeAndPool(world, provider, node, creator, as_provider, as_node, as_creator, pool_id, meta, steps)


def wait_for_chain_time(client: Any, timestamp: int, timeout_s: float = 90.0) -> None:
    """Until the latest block's timestamp reaches `timestamp` (chain time, not the local clock)."""
    from tests.utils.waiting import wait_until

    wait_until(lambda: client.now() >= timestamp, timeout_s, f"chain time {timestamp}", poll=0.2)


def deploy_governance(
    validator: str, *, unbonding_s: int, voting_period_s: int, timelock_s: int, voting_delay_s: int = 0
) -> Result:
    """`hub deploy --governance` as typed by the admin dev account (into HUB_DEPLOYMENTS_DIR), with a
    quorum of 20% and a proposal threshold of 1 INJ; the voting period must be shorter than the
    unbonding period."""
    return run_hub(
        "deploy",
        "--account",
        "admin",
        "--unbonding-period",
        f"{unbonding_s}s",
        "--min-stake",
        "1",
        "--validator",
        validator,
        "--governance",
        "--voting-delay",
        f"{voting_delay_s}s",
        "--voting-period",
        f"{voting_period_s}s",
        "--timelock-delay",
        f"{timelock_s}s",
        "--quorum",
        "20",
        "--proposal-threshold",
        "1",
    )
