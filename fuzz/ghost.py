"""The ghost: a Python model of the whole system that predicts every call's exact outcome.

Each public method mirrors one external function of the contracts (same checks, in the same order,
with the same revert strings) and either raises `Revert(reason)` without changing anything, or
applies the call's effects and returns what the contract returns. The state machines run the same
call on chain and compare; the invariants compare the ghost's state with the contracts' views.

The model follows the contracts' NatSpec and SPEC section 2, not their code: where the two differ,
the fuzz suite fails and the difference is a finding (see fuzz/findings/).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from eth_utils import keccak

from fuzz import sigs

ZERO = sigs.ZERO
ADMIN_ROLE = b"\x00" * 32
FEDERATOR_ROLE = keccak(text="FEDERATOR_ROLE")
VALIDATOR_ROLE = keccak(text="VALIDATOR_ROLE")
OTHER_ROLE = keccak(text="FUZZ_OTHER_ROLE")  # a role no contract checks: grant / revoke must still work
ROLES = (ADMIN_ROLE, FEDERATOR_ROLE, VALIDATOR_ROLE, OTHER_ROLE)

# Constants of the contracts.
MAX_PENDING_UNBONDS = 16
MAX_CHALLENGE_WINDOW = 30 * 86400
MAX_UNITS = 2**96 - 1
MAX_AMOUNT = 2**128 - 1
MAX_MIN_STAKE_PER_COMPUTE_UNIT = 10_000 * 10**18

# ComputePool.PoolStatus flag values; 0 for a pool that does not exist.
PENDING, ACTIVE, COMPLETED = 1, 2, 4

# RewardsDistributor work states.
WORK_NONE, WORK_SUBMITTED, WORK_CLAIMED, WORK_INVALIDATED = 0, 1, 2, 3

# MaliciousReceiver modes.
ACCEPT, REENTER, REFUSE = 0, 1, 2

MISSING_ROLE = "AccessControl: missing role"


class Revert(Exception):
    """The call reverts with this reason string."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def require(condition: bool, reason: str) -> None:
    if not condition:
        raise Revert(reason)


@dataclass
class Provider:
    registered: bool = False
    whitelisted: bool = False
    blacklisted: bool = False


@dataclass
class Node:
    provider: str
    units: int
    validated: bool = False


@dataclass
class Pool:
    domain_id: int
    creator: str
    manager: str
    validation: str
    limit: int
    metadata_hash: bytes
    metadata_uri: str
    created_at: int
    rate: int
    window: int
    funded: int
    status: int = PENDING
    total_compute: int = 0
    started_at: int = 0
    ended_at: int = 0
    refunded: int = 0
    available: int = 0
    paid: int = 0

    @property
    def committed(self) -> int:
        return self.funded - self.refunded - self.available


@dataclass
class Work:
    node: str
    provider: str
    units: int
    submitted_at: int
    state: int = WORK_SUBMITTED


@dataclass
class Membership:
    pool: int = 0
    last_work: int = 0
    nonce: int = 0


@dataclass
class Dirty:
    """What changed (or was named) since the invariants last ran: they read these from the chain."""

    accounts: set = field(default_factory=set)
    providers: set = field(default_factory=set)
    nodes: set = field(default_factory=set)
    pools: set = field(default_factory=set)
    works: set = field(default_factory=set)
    roles: bool = False
    time: bool = False
    minimum: bool = False  # the stake minimum changed: every provider's calculateMinimumStake did


class Ghost:
    def __init__(
        self,
        *,
        admin: str,
        federator: str,
        validator: str,
        chain_id: int,
        addresses: dict,
        unbonding_period: int,
        min_stake: int,
        validator_rates: dict,
        receiver: str,
        balances: dict,
        now: int,
    ) -> None:
        self.chain_id = chain_id
        self.addr = addresses  # contract name -> address
        self.unbonding = unbonding_period
        self.rates = dict(validator_rates)  # work-validation contract -> units per compute unit per second
        self.receiver = receiver
        self.receiver_mode = ACCEPT
        self.reentry_attempts = 0
        self.contracts = set(addresses.values()) | set(validator_rates) | {receiver}
        self.now = now

        self.roles = {role: set() for role in ROLES}
        self.roles[ADMIN_ROLE].add(admin)
        self.roles[FEDERATOR_ROLE].add(federator)
        self.roles[VALIDATOR_ROLE].add(validator)
        self.treasury = admin
        self.min_stake = min_stake
        self.domains: list[tuple[str, str, str]] = []

        self.providers: dict[str, Provider] = {}
        self.nodes: dict[str, Node] = {}
        self.node_nonce: dict[str, int] = {}

        self.stake: dict[str, int] = {}
        self.queue: dict[str, list[list[int]]] = {}  # oldest first: [amount, maturity]
        self.slashed_pending = 0

        self.pools: dict[int, Pool] = {}
        self.next_pool_id = 1
        self.membership: dict[str, Membership] = {}
        self.nodes_in_pool: dict[tuple[int, str], int] = {}
        self.node_blacklisted: set[tuple[int, str]] = set()
        self.provider_blacklisted: set[tuple[int, str]] = set()
        # work records are namespaced by node (SPEC 7.3): keyed by (pool, node, work key)
        self.works: dict[tuple[int, str, bytes], Work] = {}
        self.void_from: dict[tuple[int, str], int] = {}
        self.claimed_by: dict[tuple[int, str, bytes], str] = {}  # who was paid for each claimed key
        self.voided_ever: set[tuple[int, str, bytes]] = set()  # keys that were void or invalidated at some point

        self.balances = dict(balances)  # INJ of every address the suite watches
        self.dirty = Dirty()

    # -----------------------------------------------------------------------------------------
    # Views of the model
    # -----------------------------------------------------------------------------------------

    def has(self, role: bytes, account: str) -> bool:
        return account in self.roles[role]

    def provider(self, account: str) -> Provider:
        return self.providers.get(account, Provider())

    def total_compute(self, provider: str) -> int:
        return sum(n.units for n in self.nodes.values() if n.provider == provider)

    def node_count(self, provider: str) -> int:
        return sum(1 for n in self.nodes.values() if n.provider == provider)

    def minimum(self, total_compute: int) -> int:
        return (total_compute + 1) * self.min_stake

    def stake_of(self, account: str) -> int:
        return self.stake.get(account, 0)

    def queue_of(self, account: str) -> list[list[int]]:
        return self.queue.get(account, [])

    def unbonding_of(self, account: str) -> int:
        return sum(a for a, _ in self.queue_of(account))

    def withdrawable_of(self, account: str) -> int:
        total = 0
        for amount, maturity in self.queue_of(account):
            if maturity > self.now:
                break
            total += amount
        return total

    def member(self, node: str) -> Membership:
        return self.membership.get(node, Membership())

    def is_member(self, pool_id: int, node: str) -> bool:
        if pool_id == 0 or self.member(node).pool != pool_id:
            return False
        return self.pools[pool_id].status != COMPLETED

    def active_pool_of(self, node: str) -> int:
        pool_id = self.member(node).pool
        return pool_id if self.is_member(pool_id, node) else 0

    def pool_status(self, pool_id: int) -> int:
        pool = self.pools.get(pool_id)
        return pool.status if pool else 0

    def is_void(self, pool_id: int, work: Work) -> bool:
        # void when the node was hard-invalidated while this work was still challengeable
        void_from = self.void_from.get((pool_id, work.node), 0)
        return void_from != 0 and work.submitted_at + self.pools[pool_id].window >= void_from

    def reward(self, pool_id: int, work: Work) -> int:
        return work.units * self.pools[pool_id].rate

    def claimable(self, pool_id: int, work: Work) -> bool:
        return (
            work.state == WORK_SUBMITTED
            and self.now > work.submitted_at + self.pools[pool_id].window
            and not self.is_void(pool_id, work)
        )

    def stake_total(self) -> int:
        return sum(self.stake.values()) + sum(self.unbonding_of(a) for a in self.queue) + self.slashed_pending

    def rewards_total(self) -> int:
        return sum(p.funded - p.refunded - p.paid for p in self.pools.values())

    def snapshot(self) -> Ghost:
        return copy.deepcopy(self)

    # -----------------------------------------------------------------------------------------
    # Internals shared by several calls
    # -----------------------------------------------------------------------------------------

    def _move(self, src: str, dst: str, amount: int) -> None:
        self.balances[src] = self.balances.get(src, 0) - amount
        self.balances[dst] = self.balances.get(dst, 0) + amount

    def _payable(self, to: str, reason: str) -> None:
        """Check that a native transfer to `to` succeeds (the receiver may refuse it)."""
        if to == self.receiver and self.receiver_mode == REFUSE:
            raise Revert(reason)

    def _paid(self, src: str, to: str, amount: int) -> None:
        if to == self.receiver and self.receiver_mode == REENTER:
            self.reentry_attempts += 1
        self._move(src, to, amount)

    def _only_role(self, role: bytes, sender: str) -> None:
        require(self.has(role, sender), MISSING_ROLE)

    def _registered(self, account: str) -> int:
        require(self.provider(account).registered, "InjectiveAiHub: provider not registered")
        return self.total_compute(account)

    @staticmethod
    def _take_from_queue(queue: list[list[int]], want: int) -> tuple[int, list[list[int]]]:
        """StakeManager._take_from_queue: newest entries first; returns (taken, the new queue)."""
        queue = [list(entry) for entry in queue]
        taken = 0
        while queue and taken < want:
            amount, maturity = queue[-1]
            part = min(amount, want - taken)
            taken += part
            if part == amount:
                queue.pop()
            else:
                queue[-1] = [amount - part, maturity]
        return taken, queue

    def _plan_unbond(self, account: str, amount: int) -> list[list[int]]:
        require(amount > 0, "StakeManager: zero amount")
        require(amount <= self.stake_of(account), "StakeManager: amount exceeds stake")
        queue = [list(entry) for entry in self.queue_of(account)]
        maturity = self.now + self.unbonding
        if queue and queue[-1][1] == maturity:
            require(queue[-1][0] + amount <= MAX_AMOUNT, "StakeManager: unbond too large")
            queue[-1][0] += amount
        else:
            require(len(queue) < MAX_PENDING_UNBONDS, "StakeManager: unbond queue full, withdraw first")
            queue.append([amount, maturity])
        return queue

    def _apply_unbond(self, account: str, amount: int, queue: list[list[int]]) -> None:
        self.stake[account] = self.stake_of(account) - amount
        self.queue[account] = queue
        self.dirty.accounts.add(account)

    def slash_cap(self, account: str, amount: int) -> int:
        """SPEC 3.3: one incident takes at most the provider's bonded requirement."""
        return min(amount, self.minimum(self.total_compute(account)))

    def _plan_slash(self, account: str, amount: int) -> tuple[int, int, list[list[int]]]:
        # SPEC 3.3: takes what exists, possibly nothing; never reverts for lack of stake
        active = self.stake_of(account)
        from_stake = min(amount, active)
        from_queue, queue = 0, self.queue_of(account)
        if from_stake < amount:
            from_queue, queue = self._take_from_queue(queue, amount - from_stake)
        return from_stake, from_queue, queue

    def _apply_slash(self, account: str, plan: tuple[int, int, list[list[int]]]) -> int:
        from_stake, from_queue, queue = plan
        self.stake[account] = self.stake_of(account) - from_stake
        self.queue[account] = queue
        self.slashed_pending += from_stake + from_queue
        self.dirty.accounts.add(account)
        return from_stake + from_queue

    def _release(self, pool_id: int, node: str) -> None:
        record = self.nodes[node]
        self.membership[node] = Membership(0, 0, self.member(node).nonce)
        self.pools[pool_id].total_compute -= record.units
        self.nodes_in_pool[(pool_id, record.provider)] -= 1
        self.dirty.nodes.add(node)
        self.dirty.pools.add(pool_id)

    def _release_if_member(self, node: str) -> None:
        pool_id = self.member(node).pool
        if self.is_member(pool_id, node):
            self._release(pool_id, node)

    def _only_creator(self, pool_id: int, sender: str) -> Pool | None:
        pool = self.pools.get(pool_id)
        require(pool is not None and pool.creator == sender, "ComputePool: caller is not the pool creator")
        return pool

    def _only_manager(self, pool_id: int, sender: str) -> None:
        pool = self.pools.get(pool_id)
        require(
            pool is not None and sender in (pool.manager, pool.creator), "ComputePool: caller is not the pool manager"
        )

    # -----------------------------------------------------------------------------------------
    # InjectiveAiHub: roles (access_control module)
    # -----------------------------------------------------------------------------------------

    def grant_role(self, sender: str, role: bytes, account: str) -> None:
        self._only_role(ADMIN_ROLE, sender)
        require(account != ZERO, "AccessControl: zero account")
        require(not self.has(role, account), "AccessControl: role already granted")
        self.roles[role].add(account)
        self.dirty.roles = True

    def revoke_role(self, sender: str, role: bytes, account: str) -> None:
        self._only_role(ADMIN_ROLE, sender)
        require(self.has(role, account), "AccessControl: role not held")
        self.roles[role].discard(account)
        self.dirty.roles = True

    def renounce_role(self, sender: str, role: bytes, account: str) -> None:
        require(account == sender, "AccessControl: can only renounce for self")
        require(self.has(role, account), "AccessControl: role not held")
        self.roles[role].discard(account)
        self.dirty.roles = True

    # -----------------------------------------------------------------------------------------
    # InjectiveAiHub: admin and federator
    # -----------------------------------------------------------------------------------------

    def set_module_addresses(self, sender: str) -> None:
        self._only_role(ADMIN_ROLE, sender)
        raise Revert("InjectiveAiHub: modules already set")

    def set_treasury(self, sender: str, treasury: str) -> None:
        self._only_role(ADMIN_ROLE, sender)
        require(treasury != ZERO, "InjectiveAiHub: zero treasury")
        self.treasury = treasury

    def set_stake_minimum(self, sender: str, amount: int) -> None:
        self._only_role(FEDERATOR_ROLE, sender)
        require(amount <= MAX_MIN_STAKE_PER_COMPUTE_UNIT, "InjectiveAiHub: stake minimum above the ceiling")
        self.min_stake = amount
        self.dirty.minimum = True

    def create_domain(self, sender: str, name: str, validation: str, uri: str) -> int:
        self._only_role(FEDERATOR_ROLE, sender)
        require(len(name) > 0, "DomainRegistry: empty name")
        require(validation in self.contracts, "DomainRegistry: validation logic is not a contract")
        self.domains.append((name, validation, uri))
        return len(self.domains)

    # -----------------------------------------------------------------------------------------
    # InjectiveAiHub: providers
    # -----------------------------------------------------------------------------------------

    def register_provider(self, sender: str, value: int) -> None:
        require(value > 0 and value >= self.min_stake, "InjectiveAiHub: stake below minimum")
        record = self.provider(sender)
        require(not record.registered, "ComputeRegistry: provider already registered")
        require(not record.blacklisted, "ComputeRegistry: provider is blacklisted")
        require(self.stake_of(sender) + value <= MAX_AMOUNT, "StakeManager: stake too large")
        self.providers[sender] = Provider(registered=True, blacklisted=False, whitelisted=record.whitelisted)
        self.stake[sender] = self.stake_of(sender) + value
        self._move(sender, self.addr["stake"], value)
        self.dirty.providers.add(sender)
        self.dirty.accounts.add(sender)

    def increase_stake(self, sender: str, value: int) -> None:
        self._registered(sender)
        require(value > 0, "StakeManager: zero stake")
        require(self.stake_of(sender) + value <= MAX_AMOUNT, "StakeManager: stake too large")
        self.stake[sender] = self.stake_of(sender) + value
        self._move(sender, self.addr["stake"], value)
        self.dirty.accounts.add(sender)

    def reclaim_stake(self, sender: str, amount: int) -> None:
        total_compute = self._registered(sender)
        stake = self.stake_of(sender)
        require(amount <= stake, "InjectiveAiHub: amount exceeds stake")
        require(stake - amount >= self.minimum(total_compute), "InjectiveAiHub: stake would fall below minimum")
        queue = self._plan_unbond(sender, amount)
        self._apply_unbond(sender, amount, queue)

    def rebond_stake(self, sender: str, amount: int) -> None:
        self._registered(sender)
        require(amount > 0, "StakeManager: zero amount")
        taken, queue = self._take_from_queue(self.queue_of(sender), amount)
        require(taken == amount, "StakeManager: amount exceeds unbonding")
        require(self.stake_of(sender) + amount <= MAX_AMOUNT, "StakeManager: stake too large")
        self.queue[sender] = queue
        self.stake[sender] = self.stake_of(sender) + amount
        self.dirty.accounts.add(sender)

    def deregister_provider(self, sender: str) -> None:
        record = self.provider(sender)
        require(record.registered, "ComputeRegistry: provider not registered")
        require(self.node_count(sender) == 0, "ComputeRegistry: remove the provider's nodes first")
        stake = self.stake_of(sender)
        queue = self._plan_unbond(sender, stake) if stake > 0 else None
        # only the blacklist survives deregistration
        self.providers[sender] = Provider(blacklisted=record.blacklisted)
        self.dirty.providers.add(sender)
        if queue is not None:
            self._apply_unbond(sender, stake, queue)

    def add_compute_node(
        self, sender: str, node: str, specs_uri: str, units: int, signature: bytes, deadline: int
    ) -> None:
        require(self.now <= deadline, "InjectiveAiHub: attestation expired")
        total_compute = self._registered(sender)
        require(self.stake_of(sender) >= self.minimum(total_compute + units), "InjectiveAiHub: stake below minimum")
        record = self.provider(sender)
        require(not record.blacklisted, "ComputeRegistry: provider is blacklisted")
        require(node != ZERO, "ComputeRegistry: zero node key")
        require(units > 0, "ComputeRegistry: compute units must be positive")
        require(node not in self.nodes, "ComputeRegistry: node key already registered")
        nonce = self.node_nonce.get(node, 0)
        digest = sigs.attestation_digest(
            self.chain_id, self.addr["hub"], sender, node, units, specs_uri, nonce, deadline
        )
        try:
            signer = sigs.recover(digest, signature)
        except sigs.SignatureRevert as err:
            raise Revert(err.reason) from None
        require(signer == node, "InjectiveAiHub: attestation not signed by the node key")
        self.nodes[node] = Node(provider=sender, units=units)
        self.node_nonce[node] = nonce + 1
        self.dirty.nodes.add(node)
        self.dirty.providers.add(sender)

    def remove_compute_node(self, sender: str, node: str) -> None:
        record = self.nodes.get(node)
        require(record is not None and record.provider == sender, "InjectiveAiHub: not the node's provider")
        self._release_if_member(node)
        del self.nodes[node]
        self.dirty.nodes.add(node)
        self.dirty.providers.add(sender)

    # -----------------------------------------------------------------------------------------
    # InjectiveAiHub: validators
    # -----------------------------------------------------------------------------------------

    def validate_node(self, sender: str, node: str) -> None:
        self._only_role(VALIDATOR_ROLE, sender)
        record = self.nodes.get(node)
        require(record is not None, "ComputeRegistry: node not registered")
        require(not record.validated, "ComputeRegistry: node already validated")
        record.validated = True
        self.dirty.nodes.add(node)

    def invalidate_node(self, sender: str, node: str) -> None:
        self._only_role(VALIDATOR_ROLE, sender)
        record = self.nodes.get(node)
        require(record is not None, "ComputeRegistry: node not registered")
        require(record.validated, "ComputeRegistry: node not validated")
        record.validated = False
        self.dirty.nodes.add(node)
        self._release_if_member(node)

    def whitelist_provider(self, sender: str, provider: str) -> None:
        self._only_role(VALIDATOR_ROLE, sender)
        record = self.provider(provider)
        require(record.registered, "ComputeRegistry: provider not registered")
        require(not record.whitelisted, "ComputeRegistry: provider already whitelisted")
        require(not record.blacklisted, "ComputeRegistry: provider is blacklisted")
        self.providers[provider] = Provider(registered=True, whitelisted=True)
        self.dirty.providers.add(provider)

    def blacklist_provider(self, sender: str, provider: str, nodes: list[str]) -> None:
        self._only_role(VALIDATOR_ROLE, sender)
        require(provider != ZERO, "ComputeRegistry: zero address")
        record = self.provider(provider)
        require(not record.blacklisted, "ComputeRegistry: provider already blacklisted")
        for node in nodes:
            owner = self.nodes[node].provider if node in self.nodes else ZERO
            require(owner == provider, "InjectiveAiHub: node belongs to another provider")
        self.providers[provider] = Provider(registered=record.registered, blacklisted=True)
        self.dirty.providers.add(provider)
        for node in nodes:
            self._release_if_member(node)

    def release_blacklisted_node(self, sender: str, node: str) -> None:
        record = self.nodes.get(node)
        require(
            record is not None and self.provider(record.provider).blacklisted,
            "ComputePool: provider is not blacklisted",
        )
        require(self.active_pool_of(node) != 0, "ComputePool: node not in a pool")
        self._release_if_member(node)

    def slash(self, sender: str, provider: str, amount: int) -> int:
        self._only_role(VALIDATOR_ROLE, sender)
        require(self.treasury != sender, "InjectiveAiHub: a slash cannot pay its validator")
        plan = self._plan_slash(provider, self.slash_cap(provider, amount))
        require(plan[0] + plan[1] > 0, "InjectiveAiHub: nothing to slash")
        return self._apply_slash(provider, plan)

    # -----------------------------------------------------------------------------------------
    # StakeManager: exits
    # -----------------------------------------------------------------------------------------

    def withdraw(self, sender: str) -> int:
        queue = self.queue_of(sender)
        total, matured = 0, 0
        for amount, maturity in queue[:MAX_PENDING_UNBONDS]:
            if maturity > self.now:
                break
            total += amount
            matured += 1
        require(total > 0, "StakeManager: nothing matured to withdraw")
        self._payable(sender, "StakeManager: INJ transfer failed")
        self.queue[sender] = queue[matured:]
        self._paid(self.addr["stake"], sender, total)
        self.dirty.accounts.add(sender)
        return total

    def sweep_slashed(self, sender: str) -> int:
        amount = self.slashed_pending
        require(amount > 0, "StakeManager: nothing to sweep")
        self._payable(self.treasury, "StakeManager: INJ transfer failed")
        self.slashed_pending = 0
        self._paid(self.addr["stake"], self.treasury, amount)
        return amount

    # -----------------------------------------------------------------------------------------
    # ComputePool: life cycle
    # -----------------------------------------------------------------------------------------

    def create_pool(
        self,
        sender: str,
        value: int,
        domain_id: int,
        manager: str,
        uri: str,
        metadata_hash: bytes,
        limit: int,
        rate: int,
        window: int,
    ) -> int:
        require(1 <= domain_id <= len(self.domains), "ComputePool: unknown domain")
        require(manager != ZERO, "ComputePool: zero manager")
        require(len(uri) > 0, "ComputePool: empty metadata URI")
        require(metadata_hash != b"\x00" * 32, "ComputePool: empty metadata hash")
        require(rate > 0, "ComputePool: reward per unit must be positive")
        require(value > 0, "ComputePool: zero budget")
        require(0 < window <= MAX_CHALLENGE_WINDOW, "ComputePool: challenge window out of range")
        require(window < self.unbonding, "ComputePool: challenge window must be shorter than the unbonding period")
        pool_id = self.next_pool_id
        self.next_pool_id += 1
        self.pools[pool_id] = Pool(
            domain_id=domain_id,
            creator=sender,
            manager=manager,
            validation=self.domains[domain_id - 1][1],
            limit=limit,
            metadata_hash=metadata_hash,
            metadata_uri=uri,
            created_at=self.now,
            rate=rate,
            window=window,
            funded=value,
            available=value,
        )
        self._move(sender, self.addr["rewards"], value)
        self.dirty.pools.add(pool_id)
        return pool_id

    def start_pool(self, sender: str, pool_id: int) -> None:
        pool = self._only_creator(pool_id, sender)
        require(pool.status == PENDING, "ComputePool: pool is not pending")
        pool.status = ACTIVE
        pool.started_at = self.now
        self.dirty.pools.add(pool_id)

    def end_pool(self, sender: str, pool_id: int) -> None:
        pool = self._only_creator(pool_id, sender)
        require(pool.status in (PENDING, ACTIVE), "ComputePool: pool has ended")
        pool.status = COMPLETED
        pool.ended_at = self.now
        self.dirty.pools.add(pool_id)
        # every member is free now: their activePoolOf changes
        self.dirty.nodes.update(n for n, m in self.membership.items() if m.pool == pool_id)

    def set_pool_manager(self, sender: str, pool_id: int, manager: str) -> None:
        pool = self._only_creator(pool_id, sender)
        require(manager != ZERO, "ComputePool: zero manager")
        pool.manager = manager
        self.dirty.pools.add(pool_id)

    # -----------------------------------------------------------------------------------------
    # ComputePool: membership
    # -----------------------------------------------------------------------------------------

    def join_pool(self, sender: str, pool_id: int, node: str, deadline: int, signature: bytes) -> None:
        record = self.nodes.get(node)
        require(record is not None, "ComputePool: node not registered")
        require(sender in (node, record.provider), "ComputePool: caller is not the node or its provider")
        require(self.now <= deadline, "ComputePool: invite expired")
        require(self.pool_status(pool_id) in (PENDING, ACTIVE), "ComputePool: pool is not open")
        require(record.validated, "ComputePool: node not validated")
        provider = self.provider(record.provider)
        require(provider.whitelisted, "ComputePool: provider not whitelisted")
        require((pool_id, node) not in self.node_blacklisted, "ComputePool: node is blacklisted from this pool")
        require(
            (pool_id, record.provider) not in self.provider_blacklisted,
            "ComputePool: provider is blacklisted from this pool",
        )
        require(
            self.stake_of(record.provider) >= self.minimum(self.total_compute(record.provider)),
            "ComputePool: provider stake below minimum",
        )
        membership = self.member(node)
        require(
            membership.pool == 0 or self.pools[membership.pool].status == COMPLETED,
            "ComputePool: node already in a pool",
        )
        pool = self.pools[pool_id]
        total = pool.total_compute + record.units
        require(pool.limit == 0 or total <= pool.limit, "ComputePool: pool compute limit reached")
        digest = sigs.invite_digest(self.chain_id, self.addr["pool"], pool_id, node, membership.nonce, deadline)
        try:
            signer = sigs.recover(digest, signature)
        except sigs.SignatureRevert as err:
            raise Revert(err.reason) from None
        require(signer == pool.manager, "ComputePool: invite not signed by the pool manager")
        self.membership[node] = Membership(pool_id, self.now, membership.nonce + 1)
        pool.total_compute = total
        key = (pool_id, record.provider)
        self.nodes_in_pool[key] = self.nodes_in_pool.get(key, 0) + 1
        self.dirty.nodes.add(node)
        self.dirty.pools.add(pool_id)

    def leave_pool(self, sender: str, pool_id: int, node: str) -> None:
        record = self.nodes.get(node)
        provider = record.provider if record else ZERO
        require(sender in (node, provider), "ComputePool: caller is not the node or its provider")
        require(self.is_member(pool_id, node), "ComputePool: node not in pool")
        self._release(pool_id, node)

    def eject_node(self, sender: str, pool_id: int, node: str) -> None:
        self._only_manager(pool_id, sender)
        require(self.is_member(pool_id, node), "ComputePool: node not in pool")
        self._release(pool_id, node)

    def blacklist_node(self, sender: str, pool_id: int, node: str) -> None:
        self._only_manager(pool_id, sender)
        require((pool_id, node) not in self.node_blacklisted, "ComputePool: node already blacklisted")
        self.node_blacklisted.add((pool_id, node))
        self._release_if_in(pool_id, node)

    def _release_if_in(self, pool_id: int, node: str) -> None:
        if self.is_member(pool_id, node):
            self._release(pool_id, node)

    def blacklist_provider_in_pool(self, sender: str, pool_id: int, provider: str, nodes: list[str]) -> None:
        self._only_manager(pool_id, sender)
        require((pool_id, provider) not in self.provider_blacklisted, "ComputePool: provider already blacklisted")
        # the loop releases as it goes (a repeated node is no longer a member): run it on a copy
        trial = self.snapshot()
        trial.provider_blacklisted.add((pool_id, provider))
        for node in nodes:
            require(trial.is_member(pool_id, node), "ComputePool: node not in pool")
            require(trial.nodes[node].provider == provider, "ComputePool: node belongs to another provider")
            trial._release(pool_id, node)
        require(
            trial.nodes_in_pool.get((pool_id, provider), 0) == 0,
            "ComputePool: provider still has nodes in the pool, list them all",
        )
        self.__dict__.update(trial.__dict__)

    # -----------------------------------------------------------------------------------------
    # ComputePool + RewardsDistributor: work
    # -----------------------------------------------------------------------------------------

    def capacity(self, node: str) -> int:
        """What `node` may claim now (SPEC 7.3): compute units x rate x the seconds since its last
        work or join in which its pool was ACTIVE; 0 outside an active pool."""
        membership, record = self.member(node), self.nodes.get(node)
        pool = self.pools.get(membership.pool)
        if record is None or pool is None or pool.status != ACTIVE:
            return 0
        return record.units * self.rates[pool.validation] * (self.now - max(membership.last_work, pool.started_at))

    def submit_work(self, sender: str, pool_id: int, work_key: bytes, units: int) -> None:
        require(self.pool_status(pool_id) == ACTIVE, "ComputePool: pool is not active")
        membership = self.member(sender)
        require(membership.pool == pool_id, "ComputePool: node not in pool")
        require(units > 0, "ComputePool: zero work units")
        record = self.nodes.get(sender)
        provider = record.provider if record else ZERO
        require(not self.provider(provider).blacklisted, "ComputePool: provider is blacklisted")
        require(
            self.stake_of(provider) >= self.minimum(self.total_compute(provider)),
            "ComputePool: provider stake below minimum",
        )
        pool = self.pools[pool_id]
        require(units <= self.capacity(sender), "ComputePool: work exceeds the node's capacity")
        require(work_key != b"\x00" * 32, "RewardsDistributor: empty work key")
        require(units <= MAX_UNITS, "RewardsDistributor: units too large")
        require((pool_id, sender, work_key) not in self.works, "RewardsDistributor: work key already used")
        reward = units * pool.rate
        require(reward <= pool.available, "RewardsDistributor: pool budget exhausted")
        self.membership[sender] = Membership(pool_id, self.now, membership.nonce)
        pool.available -= reward
        self.works[(pool_id, sender, work_key)] = Work(sender, provider, units, self.now)
        self.dirty.nodes.add(sender)
        self.dirty.pools.add(pool_id)
        self.dirty.works.add((pool_id, sender, work_key))

    def _plan_invalidate(self, pool_id: int, node: str, work_key: bytes) -> Work:
        work = self.works.get((pool_id, node, work_key))
        require(work is not None and work.state == WORK_SUBMITTED, "RewardsDistributor: work not pending")
        require(
            self.now <= work.submitted_at + self.pools[pool_id].window, "RewardsDistributor: challenge window closed"
        )
        return work

    def _apply_invalidate(self, pool_id: int, key: tuple, work: Work) -> None:
        work.state = WORK_INVALIDATED
        self.pools[pool_id].available += self.reward(pool_id, work)
        self.voided_ever.add(key)
        self.dirty.pools.add(pool_id)
        self.dirty.works.add(key)

    def invalidate_work(self, sender: str, pool_id: int, node: str, work_key: bytes) -> None:
        if not self.has(VALIDATOR_ROLE, sender):
            pool = self.pools.get(pool_id)
            require(
                pool is not None and sender in (pool.manager, pool.creator),
                "ComputePool: caller is not a validator or the pool manager",
            )
        work = self._plan_invalidate(pool_id, node, work_key)
        self._apply_invalidate(pool_id, (pool_id, node, work_key), work)

    def hard_invalidate_work(self, sender: str, pool_id: int, node: str, work_key: bytes, slash_amount: int) -> int:
        require(self.has(VALIDATOR_ROLE, sender), "ComputePool: caller is not a validator")
        work = self._plan_invalidate(pool_id, node, work_key)
        if slash_amount > 0:
            require(self.treasury != sender, "ComputePool: a slash cannot pay its validator")
        # SPEC 3.3 / Rules R6, R7: void always, slash what exists, not capped by the stake minimum
        # (the provider may have lowered it by removing nodes since the work)
        plan = self._plan_slash(work.provider, slash_amount) if slash_amount else None
        self._apply_invalidate(pool_id, (pool_id, node, work_key), work)
        # NatSpec: work of the node still in its challenge window at the time of its hard
        # invalidation is void; a later hard invalidation must not shorten that set
        self.void_from.setdefault((pool_id, node), self.now)
        for key, other in self.works.items():
            if key[0] == pool_id and key[1] == node:
                self.dirty.works.add(key)
                if other.state == WORK_SUBMITTED and self.is_void(pool_id, other):
                    self.voided_ever.add(key)
        self.node_blacklisted.add((pool_id, node))
        self._release_if_in(pool_id, node)
        return self._apply_slash(work.provider, plan) if plan is not None else 0

    # -----------------------------------------------------------------------------------------
    # RewardsDistributor: budgets and claims
    # -----------------------------------------------------------------------------------------

    def top_up(self, sender: str, pool_id: int, value: int) -> None:
        pool = self.pools.get(pool_id)
        require(pool is not None and pool.creator == sender, "RewardsDistributor: caller is not the pool creator")
        require(value > 0, "RewardsDistributor: zero top-up")
        require(pool.status != COMPLETED, "RewardsDistributor: pool has ended")
        pool.funded += value
        pool.available += value
        self._move(sender, self.addr["rewards"], value)
        self.dirty.pools.add(pool_id)

    def refund(self, sender: str, pool_id: int) -> int:
        pool = self.pools.get(pool_id)
        require(pool is not None and pool.creator == sender, "RewardsDistributor: caller is not the pool creator")
        require(pool.status == COMPLETED, "RewardsDistributor: pool has not ended")
        amount = pool.available
        require(amount > 0, "RewardsDistributor: nothing to refund")
        self._payable(sender, "RewardsDistributor: INJ transfer failed")
        pool.available = 0
        pool.refunded += amount
        self._paid(self.addr["rewards"], sender, amount)
        self.dirty.pools.add(pool_id)
        return amount

    def claim_rewards(self, sender: str, pool_id: int, node: str, work_keys: list[bytes]) -> int:
        require(len(work_keys) > 0, "RewardsDistributor: no work keys")
        pool = self.pools.get(pool_id)
        done: set[bytes] = set()
        total = 0
        for key in work_keys:
            work = self.works.get((pool_id, node, key))
            state = WORK_CLAIMED if key in done else (work.state if work else WORK_NONE)
            require(state == WORK_SUBMITTED, "RewardsDistributor: work not claimable")
            require(work.provider == sender, "RewardsDistributor: not the node's provider")
            require(self.now > work.submitted_at + pool.window, "RewardsDistributor: work still in challenge window")
            require(not self.is_void(pool_id, work), "RewardsDistributor: work voided")
            done.add(key)
            total += self.reward(pool_id, work)
        self._payable(sender, "RewardsDistributor: INJ transfer failed")
        for key in work_keys:
            self.works[(pool_id, node, key)].state = WORK_CLAIMED
            self.claimed_by[(pool_id, node, key)] = sender
            self.dirty.works.add((pool_id, node, key))
        pool.paid += total
        self._paid(self.addr["rewards"], sender, total)
        self.dirty.pools.add(pool_id)
        return total

    def release_voided_work(self, sender: str, pool_id: int, node: str, work_keys: list[bytes]) -> int:
        require(len(work_keys) > 0, "RewardsDistributor: no work keys")
        done: set[bytes] = set()
        total = 0
        for key in work_keys:
            work = self.works.get((pool_id, node, key))
            state = WORK_INVALIDATED if key in done else (work.state if work else WORK_NONE)
            require(state == WORK_SUBMITTED, "RewardsDistributor: work not pending")
            require(self.is_void(pool_id, work), "RewardsDistributor: work not voided")
            done.add(key)
            total += self.reward(pool_id, work)
        for key in work_keys:
            self.works[(pool_id, node, key)].state = WORK_INVALIDATED
            self.dirty.works.add((pool_id, node, key))
        self.pools[pool_id].available += total
        self.dirty.pools.add(pool_id)
        return total
