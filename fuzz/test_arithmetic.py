"""Stateless properties of the contracts' arithmetic, over wide ranges of inputs.

The contracts never divide: every amount is an exact product or difference, so nothing rounds in
anyone's favour. These tests pin that down (a claim pays exactly units * rewardPerUnit, a refund
returns exactly what no work committed, a slash takes exactly min(amount, what the provider has))
and check the boundaries: the stake minimum at exactly the limit and one wei under it, the work-rate
cap at exactly the limit and one unit over it, and values too large to store refused instead of
truncated or wrapped.
"""

from __future__ import annotations

import boa
from hypothesis import given
from hypothesis import strategies as st

from fuzz import sigs
from fuzz.ghost import MAX_MIN_STAKE_PER_COMPUTE_UNIT as CEILING
from fuzz.machine import ADMIN, CREATOR, FEDERATOR, KEY_OF, MANAGERS, NODES, PROVIDER_A, VALIDATOR
from fuzz.system import deploy, deploy_contract
from hub.contracts import INJ, SystemParams

NEVER = 2**256 - 1
WEALTH = 10**40


def _system(min_stake: int = INJ, unbonding: int = 1000, rate: int = 1000):
    for account in (PROVIDER_A, CREATOR):
        boa.env.set_balance(account, WEALTH)
    s = deploy(
        ADMIN,
        FEDERATOR,
        VALIDATOR,
        SystemParams(
            unbonding_period=unbonding, min_stake_per_compute_unit=min_stake, max_units_per_compute_unit_per_second=rate
        ),
    )
    return s, boa.env.evm.patch.chain_id


def _add_node(s, chain_id: int, node: str, units: int, provider: str = PROVIDER_A) -> None:
    nonce = s.registry.nodeNonce(node)
    digest = sigs.attestation_digest(chain_id, s.hub.address, provider, node, units, "specs", nonce, NEVER)
    s.hub.addComputeNode(node, "specs", units, sigs.sign(KEY_OF[node], digest), sender=provider)


def _working_node(s, chain_id: int, units: int, reward_per_unit: int, window: int, budget: int) -> int:
    """A registered, validated, whitelisted node in an active pool; returns the pool id."""
    s.hub.registerProvider(sender=PROVIDER_A, value=(units + 1) * s.hub.minStakePerComputeUnit() or 1)
    _add_node(s, chain_id, NODES[0], units)
    s.hub.validateNode(NODES[0], sender=VALIDATOR)
    s.hub.whitelistProvider(PROVIDER_A, sender=VALIDATOR)
    domain = s.hub.createDomain("llama", s.work_validation.address, "ipfs://d", sender=FEDERATOR)
    pool_id = s.pool.createComputePool(
        domain, MANAGERS[0], "ipfs://p", b"\x01" * 32, 0, reward_per_unit, window, sender=CREATOR, value=budget
    )
    s.pool.startComputePool(pool_id, sender=CREATOR)
    invite = sigs.invite_digest(chain_id, s.pool.address, pool_id, NODES[0], 0, NEVER)
    s.pool.joinComputePool(pool_id, NODES[0], NEVER, sigs.sign(KEY_OF[MANAGERS[0]], invite), sender=PROVIDER_A)
    return pool_id


@given(
    min_stake=st.integers(0, CEILING),
    nodes=st.lists(st.integers(1, 10**6), max_size=3),
    extra=st.integers(0, 10**9),
)
def test_minimum_stake_formula_and_boundary(min_stake: int, nodes: list[int], extra: int) -> None:
    """calculateMinimumStake == (total compute + extra + 1) * minStakePerComputeUnit, and adding a
    node needs exactly that: one wei less is refused."""
    s, chain_id = _system(min_stake=min_stake)
    needed = (sum(nodes) + 1) * min_stake
    s.hub.registerProvider(sender=PROVIDER_A, value=max(needed, 1))
    for i, units in enumerate(nodes):
        _add_node(s, chain_id, NODES[i], units)
    assert s.registry.getProviderTotalCompute(PROVIDER_A) == sum(nodes)
    assert s.hub.calculateMinimumStake(PROVIDER_A, extra) == (sum(nodes) + extra + 1) * min_stake
    stake = s.stake.stakeOf(PROVIDER_A)
    top_up = (sum(nodes) + extra + 1) * min_stake - stake
    if extra > 0 and min_stake > 0 and top_up > 0:
        if top_up > 1:
            s.hub.increaseStake(sender=PROVIDER_A, value=top_up - 1)
        with boa.reverts("InjectiveAiHub: stake below minimum"):
            _add_node(s, chain_id, NODES[3], extra)
        s.hub.increaseStake(sender=PROVIDER_A, value=1)
    elif top_up > 0:
        s.hub.increaseStake(sender=PROVIDER_A, value=top_up)
    if extra > 0:
        _add_node(s, chain_id, NODES[3], extra)
        assert s.registry.getProviderTotalCompute(PROVIDER_A) == sum(nodes) + extra


@given(min_stake=st.integers(1, CEILING), delta=st.integers(-2, 2))
def test_registration_needs_exactly_the_base_stake(min_stake: int, delta: int) -> None:
    """registerProvider accepts min and more, refuses min - 1 (and zero)."""
    s, _ = _system(min_stake=min_stake)
    value = max(min_stake + delta, 0)
    if value >= min_stake:
        s.hub.registerProvider(sender=PROVIDER_A, value=value)
        assert s.stake.stakeOf(PROVIDER_A) == value
    else:
        with boa.reverts("InjectiveAiHub: stake below minimum"):
            s.hub.registerProvider(sender=PROVIDER_A, value=value)


@given(
    compute_units=st.one_of(st.integers(0, 2**80), st.integers(0, 2**256 - 1)),
    rate=st.integers(1, 2**64),
    elapsed=st.one_of(st.integers(0, 2**40), st.integers(0, 2**256 - 1)),
    delta=st.integers(-1, 1),
    units=st.integers(0, 2**256 - 1),
)
def test_work_rate_cap_is_exact(compute_units: int, rate: int, elapsed: int, delta: int, units: int) -> None:
    """validateWork(units) is true up to computeUnits * rate * elapsed inclusive, false one above,
    and never reverts, even where the product does not fit in 256 bits (SPEC 9)."""
    validator = deploy_contract("WorkRateValidator", rate, sender=ADMIN)
    cap = compute_units * rate * elapsed
    if cap < 2**256:
        units = max(cap + delta, 0) % 2**256
    assert validator.validateWork(1, NODES[0], compute_units, units, elapsed) == (units <= cap)


@given(
    units=st.lists(st.integers(1, 10**12), min_size=1, max_size=6),
    reward_per_unit=st.integers(1, 10**9),
    budget_units=st.integers(1, 4 * 10**12),
    top_up=st.integers(0, 10**21),
)
def test_budget_rewards_and_refund_are_exact(
    units: list[int], reward_per_unit: int, budget_units: int, top_up: int
) -> None:
    """Work is accepted while its reward fits the budget, refused beyond it; a claim pays exactly
    units * rewardPerUnit; the refund returns exactly funded - paid; nothing is left behind."""
    window = 60
    budget = budget_units * reward_per_unit
    s, chain_id = _system(min_stake=0, rate=10**9)
    pool_id = _working_node(s, chain_id, 10, reward_per_unit, window, budget)
    if top_up:
        s.rewards.topUp(pool_id, sender=CREATOR, value=top_up)
    funded, accepted = budget + top_up, []
    for i, u in enumerate(units):
        boa.env.time_travel(seconds=1000)
        key = bytes([i + 1]) * 32
        available = funded - sum(accepted)
        if u * reward_per_unit <= available:
            s.pool.submitWork(pool_id, key, u, sender=NODES[0])
            accepted.append(u * reward_per_unit)
            assert s.rewards.getPoolBudget(pool_id).committed == sum(accepted)
        else:
            with boa.reverts("RewardsDistributor: pool budget exhausted"):
                s.pool.submitWork(pool_id, key, u, sender=NODES[0])
    boa.env.time_travel(seconds=window + 1)
    claimed = [
        bytes([i + 1]) * 32 for i, _ in enumerate(units) if s.rewards.getWork(pool_id, NODES[0], bytes([i + 1]) * 32)[4]
    ]
    before = boa.env.get_balance(PROVIDER_A)
    if claimed:
        assert s.rewards.claimRewards(pool_id, NODES[0], claimed, sender=PROVIDER_A) == sum(accepted)
    assert boa.env.get_balance(PROVIDER_A) - before == sum(accepted)
    s.pool.endComputePool(pool_id, sender=CREATOR)
    if funded > sum(accepted):
        assert s.rewards.refund(pool_id, sender=CREATOR) == funded - sum(accepted)
    assert boa.env.get_balance(s.rewards.address) == 0


@given(
    min_stake=st.integers(1, CEILING),
    extra=st.integers(0, 10**24),
    unbonds=st.lists(st.integers(1, 10**22), max_size=5),
    amount=st.integers(0, 4 * 10**24),
)
def test_slash_is_capped_and_takes_the_newest_unbonds(
    min_stake: int, extra: int, unbonds: list[int], amount: int
) -> None:
    """A slash takes exactly min(amount, calculateMinimumStake(provider, 0), stake + unbonding)
    (SPEC 3.3): active stake first, then the newest unbonds; older entries keep their amounts and
    maturities (nothing matured is stranded); a zero result is refused."""
    stake = min_stake + extra
    s, _ = _system(min_stake=min_stake)
    s.hub.registerProvider(sender=PROVIDER_A, value=stake + sum(unbonds))
    for u in unbonds:
        s.hub.reclaimStake(u, sender=PROVIDER_A)
        boa.env.time_travel(seconds=1)
    queue = [list(e) for e in s.stake.pendingUnbonds(PROVIDER_A)]
    has = stake + sum(unbonds)
    taken = min(amount, min_stake, has)
    assert s.hub.previewSlash(PROVIDER_A, amount) == taken
    if taken == 0:
        with boa.reverts("InjectiveAiHub: nothing to slash"):
            s.hub.slash(PROVIDER_A, amount, "property", sender=VALIDATOR)
        return
    assert s.hub.slash(PROVIDER_A, amount, "property", sender=VALIDATOR) == taken
    assert s.stake.stakeOf(PROVIDER_A) == max(stake - taken, 0)
    want, left = max(taken - stake, 0), []
    for entry_amount, maturity in reversed(queue):
        take = min(entry_amount, want)
        want -= take
        if entry_amount - take:
            left.insert(0, [entry_amount - take, maturity])
    assert [list(e) for e in s.stake.pendingUnbonds(PROVIDER_A)] == left
    assert boa.env.get_balance(s.stake.address) == has


@given(units=st.sampled_from([2**96 - 1, 2**96]), big=st.sampled_from([2**100, 2**200]))
def test_large_values_are_stored_exactly_or_refused(units: int, big: int) -> None:
    """Compute units are stored as given (no truncation); work units above 2**96 - 1 are refused,
    never truncated."""
    s, chain_id = _system(min_stake=0, rate=1)
    s.hub.registerProvider(sender=PROVIDER_A, value=1)
    _add_node(s, chain_id, NODES[1], big)
    assert s.registry.getNode(NODES[1]).computeUnits == big
    assert s.registry.getProviderTotalCompute(PROVIDER_A) == big
    s.hub.removeComputeNode(NODES[1], sender=PROVIDER_A)
    pool_id = _working_node_big(s, chain_id, units)
    boa.env.time_travel(seconds=1)
    if units < 2**96:
        s.pool.submitWork(pool_id, b"\x01" * 32, units, sender=NODES[0])
        assert s.rewards.getWork(pool_id, NODES[0], b"\x01" * 32)[2] == units
    else:
        with boa.reverts("RewardsDistributor: units too large"):
            s.pool.submitWork(pool_id, b"\x01" * 32, units, sender=NODES[0])


def _working_node_big(s, chain_id: int, units: int) -> int:
    _add_node(s, chain_id, NODES[0], 2**100)
    s.hub.validateNode(NODES[0], sender=VALIDATOR)
    s.hub.whitelistProvider(PROVIDER_A, sender=VALIDATOR)
    domain = s.hub.createDomain("llama", s.work_validation.address, "ipfs://d", sender=FEDERATOR)
    pool_id = s.pool.createComputePool(
        domain, MANAGERS[0], "ipfs://p", b"\x01" * 32, 0, 1, 60, sender=CREATOR, value=units
    )
    s.pool.startComputePool(pool_id, sender=CREATOR)
    invite = sigs.invite_digest(chain_id, s.pool.address, pool_id, NODES[0], 0, NEVER)
    s.pool.joinComputePool(pool_id, NODES[0], NEVER, sigs.sign(KEY_OF[MANAGERS[0]], invite), sender=PROVIDER_A)
    return pool_id
