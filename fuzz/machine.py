"""The base state machine: deploys the system, runs every call against the ghost, checks invariants.

Rule mixins (fuzz/rules.py) add the actions; the test modules compose them into machines. Every
call goes through `SystemMachine.tx`: the ghost predicts the exact outcome (effects and return
value, or the exact revert string), the chain runs the call, and any difference fails the example
with a `[call:<name>]` tag. After every step the invariants read back from the chain what the step
touched (the ghost records its footprint) plus one more entity in rotation, and compare; at the end
of each example `teardown` reads everything. Failures are tagged `[<invariant name>]`, which
`fuzz/mutants.py` reports as the killer of a mutant.
"""

from __future__ import annotations

import functools
import itertools
from collections import Counter
from typing import Any

import boa
from boa.contracts.base_evm_contract import BoaError
from eth_abi import decode
from eth_utils import keccak
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from fuzz import sigs
from fuzz.ghost import (
    ACCEPT,
    ACTIVE,
    COMPLETED,
    MAX_PENDING_UNBONDS,
    PENDING,
    REENTER,
    ROLES,
    WORK_CLAIMED,
    WORK_SUBMITTED,
    ZERO,
    Ghost,
    Revert,
)
from fuzz.spec import Book, RuleBroken
from fuzz.system import deploy, deploy_contract
from hub.client.scenario import NodePlan, PoolPlan, ProviderPlan, Scenario
from hub.client.scenario import run as run_scenario
from hub.contracts import INJ, SystemParams
from hub.metadata import PublishedMetadata

FUNDS = 10**30  # every actor's starting INJ, far above anything staked or budgeted


def _key(label: str) -> bytes:
    return keccak(text=f"injective-ai-hub fuzz actor {label}")


def _actor(label: str) -> str:
    return sigs.address_of(_key(label))


# Actors, named by role. Node keys and manager keys sign, so their private keys are kept.
ADMIN = _actor("admin")
FEDERATOR = _actor("federator")
VALIDATOR = _actor("validator")
VALIDATOR2 = _actor("validator2")  # not a validator until granted
ATTACKER = _actor("attacker")  # never granted anything
TREASURY = _actor("treasury")
OPERATOR = _actor("operator")  # deploys and drives the malicious receiver
PROVIDER_A = _actor("provider-a")
PROVIDER_B = _actor("provider-b")
CREATOR = _actor("pool-creator")
NODE_KEYS = [_key(f"node-{i}") for i in range(6)]
NODES = [sigs.address_of(k) for k in NODE_KEYS]
MANAGER_KEYS = [_key(f"pool-manager-{i}") for i in range(2)]
MANAGERS = [sigs.address_of(k) for k in MANAGER_KEYS]
KEY_OF = dict(zip(NODES + MANAGERS, NODE_KEYS + MANAGER_KEYS, strict=True))
EOAS = [ADMIN, FEDERATOR, VALIDATOR, VALIDATOR2, ATTACKER, TREASURY, OPERATOR, PROVIDER_A, PROVIDER_B, CREATOR]
EOAS += NODES + MANAGERS

# @dev What the bootstrapped pools record as their metadata (size is not sent).
BOOT_METADATA = PublishedMetadata("ipfs://pool-metadata", b"\x42" * 32, 0)
SECOND_VALIDATOR_RATE = 3  # work-rate cap of the second domain's validation contract


def system_params() -> st.SearchStrategy[SystemParams]:
    return st.builds(
        SystemParams,
        # every pool's window is shorter than this (SPEC 7.1): 2 leaves windows of 1 second
        unbonding_period=st.sampled_from([2, 61, 3601, 7 * 86400]),
        min_stake_per_compute_unit=st.sampled_from([0, 1, 10**15, INJ]),
        max_units_per_compute_unit_per_second=st.sampled_from([1, 10, 1000]),
    )


def pick(seq: list | tuple, index: int) -> Any:
    """The index-th element, wrapping around (None for an empty sequence): shrinks to the first."""
    return seq[index % len(seq)] if seq else None


def revert_reason(err: BoaError) -> str:
    """The Error(string) reason of a failed call (bubbled up through nested calls)."""
    output = bytes(err.call_trace.computation.output or b"")
    if output[:4] == bytes.fromhex("08c379a0"):
        return decode(["string"], output[4:])[0]
    return f"<no reason: 0x{output.hex()}>"


@functools.cache
def _quiet_class(cls: type) -> type:
    """`cls` with a one-line repr. boa renders a contract's repr, its whole storage included, into
    the error of every call that reverts in it; the machines read only the revert reason, and with
    hundreds of expected reverts per example that rendering was about 6% of the suite's time."""
    return type(cls.__name__, (cls,), {"__repr__": lambda self: f"<{self.contract_name} at {self.address}>"})


def quiet(*contracts: Any) -> None:
    """Give the machine's own contracts the one-line repr (only these: other tests keep boa's)."""
    for contract in contracts:
        contract.__class__ = _quiet_class(type(contract))


# The invariant a failed read-back is reported under, per kind of entity.
_READER_TAG = {
    "account": "inv_stake_accounting",
    "provider": "inv_registry_consistency",
    "node": "inv_registry_consistency",
    "pool": "inv_pool_consistency",
    "work": "inv_invalidated_work_never_paid",
}


# Set by the first failed check of an example, so that teardown does not report it a second time.
_example = {"failed": False}


def fail(tag: str, message: str) -> None:
    _example["failed"] = True
    raise AssertionError(f"[{tag}] {message}")


def check(condition: bool, tag: str, message: str) -> None:
    if not condition:
        fail(tag, message)


def step(rule_decorator):
    """@step(rule(...)): a rule that opens a new step, so the next invariants see its footprint."""

    def wrap(fn):
        @functools.wraps(fn)
        def inner(self, **kwargs):
            self.begin_step(fn.__name__)
            return fn(self, **kwargs)

        return rule_decorator(inner)

    return wrap


class BootSteps:
    """The shared set-up's steps (hub/client/scenario.py) as the machine's checked calls, each run
    against the ghost: provider p is `machine.providers[p]` (the third is the malicious receiver),
    the nodes take `NODES` in order, CREATOR creates and starts the pools, MANAGERS[0] signs the
    invites and each node's provider sends its join."""

    def __init__(self, machine: SystemMachine) -> None:
        self.m, self.g = machine, machine.ghost
        self.nodes: dict[tuple[int, int], str] = {}
        self.unused = iter(NODES)

    def register_provider(self, provider: int, plan: ProviderPlan) -> None:
        sender, g = self.m.providers[provider], self.g
        self.m.tx(
            "registerProvider",
            sender,
            self.m.s.hub.registerProvider,
            value=plan.stake,
            ghost=lambda: g.register_provider(sender, plan.stake),
        )

    def add_node(self, provider: int, node: int, plan: NodePlan) -> None:
        address = self.nodes[(provider, node)] = next(self.unused)
        self.m.add_node(self.m.providers[provider], address, plan.compute_units, sigs.GOOD, 2**256 - 1, plan.specs_uri)

    def validate_node(self, provider: int, node: int) -> None:
        address, g = self.nodes[(provider, node)], self.g
        self.m.tx(
            "validateNode",
            VALIDATOR,
            self.m.s.hub.validateNode,
            (address,),
            ghost=lambda: g.validate_node(VALIDATOR, address),
        )

    def whitelist_provider(self, provider: int) -> None:
        address, g = self.m.providers[provider], self.g
        self.m.tx(
            "whitelistProvider",
            VALIDATOR,
            self.m.s.hub.whitelistProvider,
            (address,),
            ghost=lambda: g.whitelist_provider(VALIDATOR, address),
        )

    def create_pool(self, pool: int, plan: PoolPlan, compute_limit: int) -> int | None:
        return self.m.create_pool(
            CREATOR,
            plan.budget,
            plan.domain_id,
            MANAGERS[0],
            compute_limit,
            plan.reward_per_unit,
            plan.challenge_window,
            plan.metadata.uri,
            plan.metadata.hash,
        )

    def join_pool(self, pool_id: int, provider: int, node: int) -> bool:
        address = self.nodes[(provider, node)]
        self.m.join(self.g.nodes[address].provider, pool_id, address, MANAGERS[0], sigs.GOOD, 2**40)
        return self.g.active_pool_of(address) == pool_id

    def start_pool(self, pool_id: int) -> None:
        g = self.g
        self.m.tx(
            "startComputePool",
            CREATOR,
            self.m.s.pool.startComputePool,
            (pool_id,),
            ghost=lambda: g.start_pool(CREATOR, pool_id),
        )


class SystemMachine(RuleBasedStateMachine):
    """Deploys the full system in @initialize and checks every invariant after every step."""

    # How much of a market `initialize` builds before the rules run (subclasses raise these).
    BOOT_PROVIDERS = (0, 3)
    BOOT_NODES_PER_PROVIDER = (0, 2)
    BOOT_POOLS = (0, 1)
    BOOT_WORK_ROUNDS = (0, 0)
    BOOT_WINDOWS = (60, 600, 3600)  # challenge windows of the bootstrapped pools
    MAX_WAIT = 8 * 86400  # longest single advance_time

    # Counters for fuzz_speed.py and for tuning: steps, examples, and each call's outcomes.
    steps_run = 0
    examples_run = 0
    outcomes: Counter = Counter()

    def __init__(self) -> None:
        super().__init__()
        self.step_no = 0
        self.refreshed_at = -1
        self.step_name = ""
        self.step_senders: set[str] = set()
        self.roles_pending = False
        self.rotation = itertools.count()
        self.cache: dict[str, dict] = {k: {} for k in ("account", "provider", "node", "pool", "work")}
        self.statuses: dict[int, int] = {}
        self.verified_withdrawable: dict[str, tuple] = {}
        self.privileged_before: tuple | None = None
        self.stored_invites: list[dict] = []
        self.used_attestations: list[dict] = []
        self.key_counter = itertools.count(1)
        SystemMachine.examples_run += 1
        _example["failed"] = False

    # -----------------------------------------------------------------------------------------
    # Set-up
    # -----------------------------------------------------------------------------------------

    @initialize(params=system_params(), world=st.data())
    def deploy_system(self, params: SystemParams, world: st.DataObject) -> None:
        for account in EOAS:
            boa.env.set_balance(account, FUNDS)
        self.params = params
        self.s = deploy(ADMIN, FEDERATOR, VALIDATOR, params)
        self.receiver = deploy_contract("MaliciousReceiver", sender=OPERATOR)
        self.validator2 = deploy_contract("WorkRateValidator", SECOND_VALIDATOR_RATE, sender=OPERATOR)
        quiet(*self.s.contracts(), self.s.work_validation, self.receiver, self.validator2)
        self.chain_id = boa.env.evm.patch.chain_id
        s = self.s
        addresses = {
            "hub": s.hub.address,
            "registry": s.registry.address,
            "domains": s.domains.address,
            "stake": s.stake.address,
            "pool": s.pool.address,
            "rewards": s.rewards.address,
        }
        self.system_addresses = addresses
        self.R = str(self.receiver.address)
        self.providers = [PROVIDER_A, PROVIDER_B, self.R]
        self.creators = [CREATOR, PROVIDER_A, self.R]
        self.everyone = [
            ADMIN,
            FEDERATOR,
            VALIDATOR,
            VALIDATOR2,
            ATTACKER,
            TREASURY,
            PROVIDER_A,
            PROVIDER_B,
            self.R,
            CREATOR,
            MANAGERS[0],
            NODES[0],
        ]
        self.watched = EOAS + [self.R] + list(addresses.values())
        self.ghost = Ghost(
            admin=ADMIN,
            federator=FEDERATOR,
            validator=VALIDATOR,
            chain_id=self.chain_id,
            addresses=addresses,
            unbonding_period=params.unbonding_period,
            min_stake=params.min_stake_per_compute_unit,
            validator_rates={
                str(s.work_validation.address): params.max_units_per_compute_unit_per_second,
                str(self.validator2.address): SECOND_VALIDATOR_RATE,
            },
            receiver=self.R,
            balances={a: boa.env.get_balance(a) for a in self.watched},
            now=self.now(),
        )
        self.book = Book(s, params.unbonding_period, dict(self.ghost.rates))
        self.wiring = self.read_wiring()
        self.bootstrap(world)
        self.privileged_before = self.privileged_state()

    def bootstrap(self, world: st.DataObject) -> None:
        """Build a small market through the checked calls, so the rules start from deep states."""
        g = self.ghost
        self.tx(
            "createDomain",
            FEDERATOR,
            self.s.hub.createDomain,
            ("llama", self.s.work_validation.address, "ipfs://d"),
            ghost=lambda: g.create_domain(FEDERATOR, "llama", str(self.s.work_validation.address), "ipfs://d"),
        )
        run_scenario(self.draw_scenario(world), BootSteps(self))
        for _ in range(world.draw(st.integers(*self.BOOT_WORK_ROUNDS), label="boot work rounds")):
            self.submit_round(world.draw(st.sampled_from([1, 7, 40, 300]), label="boot gap"), 4)

    def draw_scenario(self, world: st.DataObject) -> Scenario:
        """The market the bootstrap builds, in the shared set-up's terms (hub/client/scenario.py):
        providers staked for 8 units and more, each with validated nodes of 1-4 units, then pools
        joined by every node no earlier pool took, with no compute limit, one the nodes fill exactly,
        or one they overflow by a unit (the last join reverts and that node goes to the next pool)."""
        providers = []
        for _ in range(world.draw(st.integers(*self.BOOT_PROVIDERS), label="boot providers")):
            stake = max(self.ghost.minimum(8) + world.draw(st.integers(0, 4 * INJ), label="boot extra stake"), 1)
            n_nodes = world.draw(st.integers(*self.BOOT_NODES_PER_PROVIDER), label="boot nodes")
            units = [world.draw(st.integers(1, 4), label="boot units") for _ in range(n_nodes)]
            providers.append(ProviderPlan(stake, tuple(NodePlan(u, "ipfs://specs") for u in units)))
        pools = []
        for _ in range(world.draw(st.integers(*self.BOOT_POOLS), label="boot pools")):
            rate = world.draw(st.sampled_from([1, 10**6]), label="boot reward per unit")
            window = world.draw(st.sampled_from(self.BOOT_WINDOWS), label="boot window")
            window = min(window, self.params.unbonding_period - 1)  # the longest window the rules allow
            budget = rate * world.draw(st.sampled_from([10**4, 10**6, 10**8]), label="boot budget units")
            below_fit = world.draw(st.sampled_from([None, 0, 1]), label="boot limit")
            pools.append(PoolPlan(1, BOOT_METADATA, budget, rate, window, limit_below_fit=below_fit))
        return Scenario(tuple(providers), tuple(pools))

    def submit_round(self, wait: int, share: int) -> None:
        """Time passes and every node of an active pool submits 1/share of what it may claim."""
        g = self.ghost
        self.travel(wait)
        g.now = self.now()
        for node in NODES:
            pool_id = g.active_pool_of(node)
            if g.pool_status(pool_id) != ACTIVE or node not in g.nodes:
                continue
            p = g.pools[pool_id]
            capacity = g.capacity(node)
            # a slice of what it may claim, small against the budget so that rounds can repeat
            units = max(min(capacity // share, p.available // p.rate // 8), 1)
            key = self.fresh_work_key()
            self.tx(
                "submitWork",
                node,
                self.s.pool.submitWork,
                (pool_id, key, units),
                ghost=lambda n=node, i=pool_id, k=key, u=units: g.submit_work(n, i, k, u),
            )

    # -----------------------------------------------------------------------------------------
    # Calls
    # -----------------------------------------------------------------------------------------

    @staticmethod
    def now() -> int:
        return boa.env.evm.patch.timestamp

    def begin_step(self, name: str) -> None:
        self.step_no += 1
        self.step_name = name
        self.step_senders = set()
        SystemMachine.steps_run += 1
        SystemMachine.outcomes[("rule", name)] += 1
        self.privileged_before = self.privileged_state()

    def tx(self, name: str, sender: str, fn, args: tuple = (), *, value: int = 0, ghost, pays: bool = False) -> Any:
        """Run `fn(*args)` as `sender` on chain and `ghost()` on the model; they must agree exactly."""
        g = self.ghost
        g.now = self.now()
        self.step_senders.add(sender)
        try:
            expected, expected_reason = ghost(), None
            if sender == self.R and value:
                g._move(OPERATOR, self.R, value)  # the operator funds the receiver's call
        except Revert as err:
            expected, expected_reason = None, err.reason
        pre = self.book.before(name, sender, args)
        try:
            if sender == self.R:
                data = fn.prepare_calldata(*args)
                if pays and g.receiver_mode == REENTER:
                    self.receiver.configure(REENTER, fn.contract.address, data, sender=OPERATOR)
                raw = self.receiver.execute(fn.contract.address, data, value=value, sender=OPERATOR)
                result = decode(["uint256"], raw)[0] if len(raw) == 32 else None
            else:
                if pays and g.receiver_mode == REENTER and g.treasury == self.R:
                    self.receiver.configure(REENTER, fn.contract.address, fn.prepare_calldata(*args), sender=OPERATOR)
                result = fn(*args, sender=sender, value=value)
            reason = None
        except BoaError as err:
            result, reason = None, revert_reason(err)
        SystemMachine.outcomes[(name, reason or "ok")] += 1
        # the money rules first: a broken rule is reported as such, not as a surprise to the ghost
        try:
            self.book.after(name, sender, args, value, pre, result, reason, g.now)
        except RuleBroken as err:
            fail(str(err)[1:].split("]", 1)[0], str(err).split("] ", 1)[1])
        call = f"{name}{tuple(args)!r} from {sender} value={value} at t={g.now}"
        if expected_reason is not None:
            check(
                reason == expected_reason,
                f"call:{name}",
                f"{call}: expected revert {expected_reason!r}, got "
                + (f"revert {reason!r}" if reason else f"success -> {result!r}"),
            )
            return None
        check(reason is None, f"call:{name}", f"{call}: expected success -> {expected!r}, got revert {reason!r}")
        if isinstance(expected, int) and not isinstance(expected, bool):
            check(result == expected, f"call:{name}", f"{call}: returned {result!r}, ghost expected {expected!r}")
        return result

    # Helpers the rules and the bootstrap share -----------------------------------------------

    def add_node(self, provider: str, node: str, units: int, kind: str, deadline: int, uri: str) -> None:
        g = self.ghost
        signature = self.attestation(provider, node, units, uri, deadline, kind)
        self.used_attestations.append(
            dict(provider=provider, node=node, units=units, uri=uri, deadline=deadline, signature=signature)
        )
        self.tx(
            "addComputeNode",
            provider,
            self.s.hub.addComputeNode,
            (node, uri, units, signature, deadline),
            ghost=lambda: g.add_compute_node(provider, node, uri, units, signature, deadline),
        )

    def attestation(self, provider: str, node: str, units: int, uri: str, deadline: int, kind: str) -> bytes:
        g = self.ghost
        nonce = g.node_nonce.get(node, 0)
        chain_id, hub, signer = self.chain_id, self.s.hub.address, KEY_OF[node]
        if kind == sigs.WRONG_SIGNER:
            signer = KEY_OF[pick(NODES, NODES.index(node) + 1)]
        elif kind == sigs.STALE_NONCE:
            nonce = max(nonce - 1, 0) if nonce else 1
        elif kind == sigs.WRONG_FIELD:
            units += 1
        elif kind == sigs.WRONG_CHAIN:
            chain_id += 1
        elif kind == sigs.WRONG_CONTRACT:
            hub = self.s.pool.address
        digest = sigs.attestation_digest(chain_id, hub, provider, node, units, uri, nonce, deadline)
        return sigs.mangle(sigs.sign(signer, digest), kind)

    def invite(self, pool_id: int, node: str, manager: str, kind: str, deadline: int) -> bytes:
        g = self.ghost
        nonce = g.member(node).nonce
        chain_id, contract, signer = self.chain_id, self.s.pool.address, KEY_OF[manager]
        if kind == sigs.WRONG_SIGNER:
            signer = KEY_OF[pick(MANAGERS, MANAGERS.index(manager) + 1)]
        elif kind == sigs.STALE_NONCE:
            nonce = max(nonce - 1, 0) if nonce else 1
        elif kind == sigs.WRONG_FIELD:
            pool_id += 1
        elif kind == sigs.WRONG_CHAIN:
            chain_id += 1
        elif kind == sigs.WRONG_CONTRACT:
            contract = self.s.hub.address
        digest = sigs.invite_digest(chain_id, contract, pool_id, node, nonce, deadline)
        return sigs.mangle(sigs.sign(signer, digest), kind)

    def join(self, sender: str, pool_id: int, node: str, manager: str, kind: str, deadline: int) -> None:
        g = self.ghost
        signature = self.invite(pool_id, node, manager, kind, deadline)
        self.tx(
            "joinComputePool",
            sender,
            self.s.pool.joinComputePool,
            (pool_id, node, deadline, signature),
            ghost=lambda: g.join_pool(sender, pool_id, node, deadline, signature),
        )

    def create_pool(
        self,
        creator: str,
        budget: int,
        domain_id: int,
        manager: str,
        limit: int,
        rate: int,
        window: int,
        uri: str = "ipfs://pool-metadata",
        metadata_hash: bytes = b"\x42" * 32,
    ) -> int | None:
        g = self.ghost
        args = (domain_id, manager, uri, metadata_hash, limit, rate, window)
        return self.tx(
            "createComputePool",
            creator,
            self.s.pool.createComputePool,
            args,
            value=budget,
            ghost=lambda: g.create_pool(creator, budget, *args),
        )

    def fresh_work_key(self) -> bytes:
        return keccak(text=f"work-{next(self.key_counter)}")

    # -----------------------------------------------------------------------------------------
    # Time
    # -----------------------------------------------------------------------------------------

    def travel(self, seconds: int) -> None:
        if seconds > 0:
            boa.env.time_travel(seconds=seconds)
            self.ghost.now = self.now()
            self.ghost.dirty.time = True

    @step(rule(seconds=st.one_of(st.sampled_from([1, 2, 59, 600, 3600, 86400]), st.integers(1, 8 * 86400))))
    def advance_time(self, seconds: int) -> None:
        """Time passes (at most MAX_WAIT at once: machines about short windows keep them open)."""
        self.travel(min(seconds, self.MAX_WAIT))

    @step(rule(index=st.integers(0, 255), delta=st.sampled_from([0, 1, -1])))
    def advance_to_boundary(self, index: int, delta: int) -> None:
        """Land exactly on (or one second around) a maturity, an unlock time or a deadline."""
        g = self.ghost
        targets = [m for q in g.queue.values() for _, m in q]
        targets += [w.submitted_at + g.pools[p].window for (p, _, _), w in g.works.items() if w.state == WORK_SUBMITTED]
        targets += [i["deadline"] for i in self.stored_invites]
        targets = sorted(t + delta for t in targets if t + delta > g.now)
        if targets:
            self.travel(pick(targets, index) - g.now)

    # -----------------------------------------------------------------------------------------
    # Reading the chain back
    # -----------------------------------------------------------------------------------------

    def read_wiring(self) -> tuple:
        s = self.s
        return (
            str(s.hub.computeRegistry()),
            str(s.hub.domainRegistry()),
            str(s.hub.stakeManager()),
            str(s.hub.computePool()),
            str(s.hub.rewardsDistributor()),
            str(s.stake.computePool()),
            str(s.rewards.computePool()),
            str(s.pool.computeRegistry()),
            str(s.pool.domainRegistry()),
            str(s.pool.stakeManager()),
            str(s.pool.rewardsDistributor()),
        )

    def privileged_state(self) -> tuple:
        """What only role holders may change: treasury, stake minimum, domains, validation and lists."""
        g = self.ghost
        return (
            g.treasury,
            g.min_stake,
            len(g.domains),
            tuple(frozenset(g.roles[r]) for r in ROLES),
            frozenset(n for n, r in g.nodes.items() if r.validated),
            frozenset(p for p, r in g.providers.items() if r.whitelisted),
            frozenset(p for p, r in g.providers.items() if r.blacklisted),
        )

    def read_account(self, account: str) -> dict:
        s = self.s
        return dict(
            stake=s.stake.stakeOf(account),
            queue=[list(e) for e in s.stake.pendingUnbonds(account)],
            unbonding=s.stake.unbondingOf(account),
            withdrawable=s.stake.withdrawableOf(account),
        )

    def read_provider(self, provider: str) -> dict:
        record = self.s.registry.getProvider(provider)
        return dict(
            registered=record.registered,
            whitelisted=record.whitelisted,
            blacklisted=record.blacklisted,
            total_compute=record.totalCompute,
            node_count=record.nodeCount,
            minimum=self.s.hub.calculateMinimumStake(provider, 0),
        )

    def read_node(self, node: str) -> dict:
        s = self.s
        record = s.registry.getNode(node)
        return dict(
            provider=str(record.provider),
            units=record.computeUnits,
            validated=record.validated,
            nonce=s.registry.nodeNonce(node),
            active_pool=s.pool.activePoolOf(node),
            invite_nonce=s.pool.inviteNonce(node),
            last_work=s.pool.lastWorkAt(node),
        )

    def read_pool(self, pool_id: int) -> dict:
        s = self.s
        return dict(
            pool=s.pool.getPool(pool_id),
            budget=s.rewards.getPoolBudget(pool_id),
            nodes_in_pool={p: s.pool.providerNodesInPool(pool_id, p) for p in self.providers},
        )

    def read_work(self, key: tuple) -> tuple:
        return self.s.rewards.getWork(*key)

    def refresh(self, everything: bool = False) -> None:
        """Read back from the chain every entity the last step touched, plus one in rotation."""
        if self.refreshed_at == self.step_no and not everything:
            return
        g, dirty = self.ghost, self.ghost.dirty
        accounts = set(self.providers) | set(g.stake) | set(g.queue)
        kinds = {
            "account": (accounts, self.read_account, dirty.accounts),
            "provider": (set(self.providers) | set(g.providers), self.read_provider, dirty.providers),
            "node": (set(NODES), self.read_node, dirty.nodes),
            "pool": (set(g.pools), self.read_pool, dirty.pools),
            "work": (set(g.works), self.read_work, dirty.works),
        }
        # a step's arguments may name entities the ghost did not change: read those too
        if dirty.time:
            dirty.accounts.update(a for a in accounts if g.queue_of(a))
        if dirty.minimum:
            dirty.providers.update(kinds["provider"][0])
        ordered = [(kind, k) for kind, (universe, _, _) in kinds.items() for k in sorted(universe, key=repr)]
        extra = {pick(ordered, next(self.rotation))} if ordered else set()
        for kind, (universe, reader, touched) in kinds.items():
            wanted = universe if everything else (touched | {k for kd, k in extra if kd == kind})
            for item in wanted:
                try:
                    self.cache[kind][item] = reader(item)
                except BoaError as err:  # a view that reverts is a broken invariant too
                    fail(_READER_TAG[kind], f"reading {kind} {item!r} reverted: {revert_reason(err)}")
        self.roles_pending = self.roles_pending or dirty.roles
        g.dirty = type(dirty)()
        self.refreshed_at = self.step_no

    # -----------------------------------------------------------------------------------------
    # Invariants
    # -----------------------------------------------------------------------------------------

    @invariant()
    def inv_balances_match_ghost(self) -> None:
        """Every watched address holds exactly the INJ the ghost expects (no pocketing, no loss)."""
        self.refresh()
        for account in self.watched:
            got, want = boa.env.get_balance(account), self.ghost.balances.get(account, 0)
            check(got == want, "inv_balances_match_ghost", f"{account} holds {got}, ghost expects {want}")

    @invariant()
    def inv_solvency(self) -> None:
        """INJ held == active stakes + pending unbonds + unspent budgets + undistributed slashes."""
        self.refresh()
        s, g, tag = self.s, self.ghost, "inv_solvency"
        for name in ("hub", "registry", "domains", "pool"):
            check(boa.env.get_balance(self.system_addresses[name]) == 0, tag, f"{name} holds INJ")
        stake_balance = boa.env.get_balance(s.stake.address)
        pending = s.stake.slashedPending()
        check(pending == g.slashed_pending, tag, f"slashedPending {pending} != ghost {g.slashed_pending}")
        held = sum(a["stake"] + a["unbonding"] for a in self.cache["account"].values()) + pending
        check(
            stake_balance == held == g.stake_total(),
            tag,
            f"StakeManager holds {stake_balance}, stakes + unbonds + slashed = {held}, ghost {g.stake_total()}",
        )
        rewards_balance = boa.env.get_balance(s.rewards.address)
        budgets = sum(p["budget"].funded - p["budget"].refunded - p["budget"].paid for p in self.cache["pool"].values())
        check(
            rewards_balance == budgets == g.rewards_total(),
            tag,
            f"RewardsDistributor holds {rewards_balance}, unspent budgets {budgets}, ghost {g.rewards_total()}",
        )

    @invariant()
    def inv_stake_accounting(self) -> None:
        """Per account: active stake, the unbond queue and its sums equal the ghost's."""
        self.refresh()
        g, tag = self.ghost, "inv_stake_accounting"
        for account, got in self.cache["account"].items():
            want = dict(
                stake=g.stake_of(account),
                queue=g.queue_of(account),
                unbonding=g.unbonding_of(account),
                withdrawable=g.withdrawable_of(account),
            )
            check(got == want, tag, f"{account}: chain {got} != ghost {want}")

    @invariant()
    def inv_unbond_queue_cap(self) -> None:
        """No account ever has more than MAX_PENDING_UNBONDS pending unbonds."""
        self.refresh()
        for account, got in self.cache["account"].items():
            check(
                len(got["queue"]) <= MAX_PENDING_UNBONDS,
                "inv_unbond_queue_cap",
                f"{account} has {len(got['queue'])} pending unbonds",
            )

    @invariant()
    def inv_matured_unbonds_withdrawable(self) -> None:
        """Whatever happened, `withdraw` pays every matured unbond now (tried in an anchor)."""
        g, s = self.ghost, self.s
        for account in sorted(g.queue):
            matured = g.withdrawable_of(account)
            state = (tuple(map(tuple, g.queue_of(account))), g.now)
            if matured == 0 or self.verified_withdrawable.get(account) == state:
                continue
            with boa.env.anchor():
                before = boa.env.get_balance(account)
                try:
                    if account == self.R:
                        self.receiver.configure(ACCEPT, ZERO, b"", sender=OPERATOR)
                        paid = decode(
                            ["uint256"],
                            self.receiver.execute(
                                s.stake.address, s.stake.withdraw.prepare_calldata(), sender=OPERATOR
                            ),
                        )[0]
                    else:
                        paid = s.stake.withdraw(sender=account)
                except BoaError as err:
                    fail(
                        "inv_matured_unbonds_withdrawable", f"{account} cannot withdraw {matured}: {revert_reason(err)}"
                    )
                check(
                    paid == matured and boa.env.get_balance(account) - before == matured,
                    "inv_matured_unbonds_withdrawable",
                    f"{account} withdrew {paid}, {matured} had matured",
                )
            self.verified_withdrawable[account] = state

    @invariant()
    def inv_registry_consistency(self) -> None:
        """One owner per node key; provider totals == sum of its nodes' units; node counts match."""
        self.refresh()
        g, tag = self.ghost, "inv_registry_consistency"
        for node, got in self.cache["node"].items():
            record = g.nodes.get(node)
            want = (record.provider, record.units, record.validated) if record else (ZERO, 0, False)
            check((got["provider"], got["units"], got["validated"]) == want, tag, f"node {node}: {got} != {want}")
            check(got["nonce"] == g.node_nonce.get(node, 0), tag, f"node {node} nonce {got['nonce']}")
        owned: dict[str, list] = {}
        for got in self.cache["node"].values():
            if got["provider"] != ZERO:
                owned.setdefault(got["provider"], []).append(got["units"])
        for provider, got in self.cache["provider"].items():
            record = g.provider(provider)
            want = dict(
                registered=record.registered,
                whitelisted=record.whitelisted,
                blacklisted=record.blacklisted,
                total_compute=g.total_compute(provider),
                node_count=g.node_count(provider),
                minimum=g.minimum(g.total_compute(provider)),
            )
            check(got == want, tag, f"provider {provider}: chain {got} != ghost {want}")
            units = owned.get(provider, [])
            check(
                got["total_compute"] == sum(units) and got["node_count"] == len(units),
                tag,
                f"provider {provider} totals {got['total_compute']}/{got['node_count']} != its nodes {units}",
            )
            check(not (got["whitelisted"] and got["blacklisted"]), tag, f"{provider} is white- and blacklisted")
        active = sum(1 for n in self.cache["node"].values() if n["provider"] != ZERO)
        validated = sum(1 for n in self.cache["node"].values() if n["validated"])
        check(
            active == len(g.nodes) and validated == sum(n.validated for n in g.nodes.values()),
            tag,
            f"{active} registered / {validated} validated nodes on chain, ghost {len(g.nodes)}",
        )

    @invariant()
    def inv_pool_consistency(self) -> None:
        """A node is in at most one active pool; pool compute == sum of its nodes; status only moves forward."""
        self.refresh()
        g, tag = self.ghost, "inv_pool_consistency"
        members: dict[int, list] = {}
        for node, got in self.cache["node"].items():
            m = g.member(node)
            want = (g.active_pool_of(node), m.nonce, m.last_work)
            check(
                (got["active_pool"], got["invite_nonce"], got["last_work"]) == want,
                tag,
                f"node {node}: (activePoolOf, inviteNonce, lastWorkAt) {got} != {want}",
            )
            if got["active_pool"]:
                members.setdefault(got["active_pool"], []).append(node)
                check(got["provider"] != ZERO and got["validated"], tag, f"{node} is in a pool unregistered/invalid")
        for pool_id, got in self.cache["pool"].items():
            pool, record = g.pools[pool_id], got["pool"]
            want = (
                pool.domain_id,
                pool.creator,
                pool.manager,
                pool.validation,
                pool.status,
                pool.limit,
                pool.total_compute,
                pool.metadata_hash,
                pool.created_at,
                pool.started_at,
                pool.ended_at,
                pool.metadata_uri,
            )
            check(tuple(record) == want, tag, f"pool {pool_id}: chain {tuple(record)} != ghost {want}")
            before = self.statuses.get(pool_id, PENDING)
            check(
                record.status in (PENDING, ACTIVE, COMPLETED) and record.status >= before,
                tag,
                f"pool {pool_id} status went {before} -> {record.status}",
            )
            self.statuses[pool_id] = record.status
            if record.status != COMPLETED:
                units = sum(self.cache["node"][n]["units"] for n in members.get(pool_id, []))
                check(
                    record.totalCompute == units, tag, f"pool {pool_id} compute {record.totalCompute} != nodes {units}"
                )
                check(
                    record.computeLimit == 0 or record.totalCompute <= record.computeLimit,
                    tag,
                    f"pool {pool_id} compute {record.totalCompute} over its limit {record.computeLimit}",
                )
            for provider, count in got["nodes_in_pool"].items():
                check(
                    count == g.nodes_in_pool.get((pool_id, provider), 0),
                    tag,
                    f"pool {pool_id} providerNodesInPool[{provider}] = {count}",
                )

    @invariant()
    def inv_rewards_committed_within_budget(self) -> None:
        """Rewards committed never exceed what the pool was funded with (less refunds)."""
        self.refresh()
        g, tag = self.ghost, "inv_rewards_committed_within_budget"
        for pool_id, got in self.cache["pool"].items():
            b, pool = got["budget"], g.pools[pool_id]
            want = (
                pool.creator,
                pool.rate,
                pool.window,
                pool.funded,
                pool.refunded,
                pool.available,
                pool.committed,
                pool.paid,
            )
            check(tuple(b) == want, tag, f"pool {pool_id} budget: chain {tuple(b)} != ghost {want}")
            check(
                b.committed <= b.funded - b.refunded and b.committed + b.available == b.funded - b.refunded,
                tag,
                f"pool {pool_id}: committed {b.committed} + available {b.available} vs funded {b.funded} "
                f"- refunded {b.refunded}",
            )

    @invariant()
    def inv_claimable_plus_paid_within_committed(self) -> None:
        """Per pool: claimable + paid <= committed; exactly paid + pending work == committed."""
        self.refresh()
        g, tag = self.ghost, "inv_claimable_plus_paid_within_committed"
        for pool_id, pool in g.pools.items():
            pending = [w for (p, _, _), w in g.works.items() if p == pool_id and w.state == WORK_SUBMITTED]
            claimable = sum(g.reward(pool_id, w) for w in pending if g.claimable(pool_id, w))
            locked = sum(g.reward(pool_id, w) for w in pending)
            got = self.cache["pool"].get(pool_id)
            committed, paid = (got["budget"].committed, got["budget"].paid) if got else (pool.committed, pool.paid)
            check(
                claimable + paid <= committed and locked + paid == committed,
                tag,
                f"pool {pool_id}: claimable {claimable} + paid {paid} vs committed {committed} (pending {locked})",
            )

    @invariant()
    def inv_invalidated_work_never_paid(self) -> None:
        """Every work record equals the ghost's; invalidated or voided work is never claimed."""
        self.refresh()
        g, tag = self.ghost, "inv_invalidated_work_never_paid"
        for key, got in self.cache["work"].items():
            w = g.works[key]
            want = (
                w.node,
                w.provider,
                w.units,
                w.submitted_at,
                w.state,
                w.submitted_at + g.pools[key[0]].window + 1,
                g.is_void(key[0], w),
            )
            check(tuple(got) == want, tag, f"work {key}: chain {tuple(got)} != ghost {want}")
            check(not (got[4] == WORK_CLAIMED and key in g.voided_ever), tag, f"voided work {key} was claimed")

    @invariant()
    def inv_claims_only_to_provider(self) -> None:
        """Every claimed work key was paid to the provider recorded for its node, and to no one else."""
        self.refresh()
        g, tag = self.ghost, "inv_claims_only_to_provider"
        for key, got in self.cache["work"].items():
            if got[4] == WORK_CLAIMED:
                check(
                    g.claimed_by.get(key) == g.works[key].provider == got[1],
                    tag,
                    f"work {key} claimed by {g.claimed_by.get(key)}, its provider is {got[1]}",
                )

    @invariant()
    def inv_roles_match_ghost(self) -> None:
        """hasRole on the hub equals the ghost's role sets (read after every step that changed a role)."""
        self.refresh()
        if not self.roles_pending:
            return
        self.roles_pending = False
        g = self.ghost
        for role in ROLES:
            for account in self.everyone:
                got = self.s.hub.hasRole(role, account)
                check(
                    got == g.has(role, account),
                    "inv_roles_match_ghost",
                    f"hasRole({role.hex()[:8]}, {account}) = {got}",
                )

    @invariant()
    def inv_no_unprivileged_change(self) -> None:
        """Privileged state (treasury, minimum, domains, roles, validation, lists, wiring) only changes
        in a step whose sender held a role, and then only as the ghost predicted."""
        s, g, tag = self.s, self.ghost, "inv_no_unprivileged_change"
        check(
            (str(s.hub.treasury()), s.hub.minStakePerComputeUnit(), s.domains.domainCount())
            == (g.treasury, g.min_stake, len(g.domains)),
            tag,
            f"treasury/minimum/domains on chain differ from the ghost ({g.treasury}, {g.min_stake})",
        )
        before, after = self.privileged_before, self.privileged_state()
        senders = sorted(self.step_senders)
        if not any(a in members for a in senders for members in before[3][:3]):
            check(after[:3] == before[:3], tag, f"{self.step_name} by {senders} changed treasury/minimum/domains")
            for role, was, now in zip(ROLES, before[3], after[3], strict=True):
                # anyone may renounce a role of their own, nothing else
                check(
                    now <= was and was - now <= set(senders),
                    tag,
                    f"{self.step_name} by {senders} changed role {role.hex()[:8]}: {sorted(was ^ now)}",
                )
            for i, what in ((4, "validated nodes"), (5, "whitelisted providers"), (6, "blacklisted providers")):
                check(after[i] <= before[i], tag, f"{self.step_name} by {senders} added {what}: {after[i] - before[i]}")
        if self.step_name == "attacker_calls_module":
            check(self.read_wiring() == self.wiring, tag, "module wiring changed")

    @invariant()
    def inv_reentrancy_never_succeeds(self) -> None:
        """The malicious receiver never re-enters a paying contract successfully."""
        if self.ghost.receiver_mode == REENTER or self.step_name == "set_receiver_mode":
            check(self.receiver.reentrySuccesses() == 0, "inv_reentrancy_never_succeeds", "a re-entry succeeded")
            check(
                self.receiver.reentryAttempts() == self.ghost.reentry_attempts,
                "inv_reentrancy_never_succeeds",
                f"{self.receiver.reentryAttempts()} re-entries tried, ghost {self.ghost.reentry_attempts}",
            )

    def teardown(self) -> None:
        """At the end of each example read everything back, not just the last footprint."""
        if not hasattr(self, "ghost") or _example["failed"]:
            return
        self.refresh(everything=True)
        self.roles_pending = True
        self.step_name, self.step_senders = "teardown", set()
        self.privileged_before = self.privileged_state()
        self.verified_withdrawable.clear()
        for name in sorted(dir(self)):
            if name.startswith("inv_"):
                getattr(self, name)()
        check(self.read_wiring() == self.wiring, "inv_no_unprivileged_change", "module wiring changed")
        check(self.receiver.reentrySuccesses() == 0, "inv_reentrancy_never_succeeds", "a re-entry succeeded")
