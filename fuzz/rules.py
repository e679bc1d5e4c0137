"""Rule sets, one per part of the system; the test modules compose them into machines.

Every rule picks its actors and targets from the ghost's state by index (so it usually aims at
something that exists and shrinks towards the first candidate), and picks amounts, deadlines and
signatures by kind, so the boundaries the contracts check (exactly the minimum, exactly the
capacity, one second past the deadline, a replayed nonce, a malleable signature) come up often.
Nothing is filtered: calls the ghost expects to revert run too and must revert with its reason.
"""

from __future__ import annotations

import boa
from boa.contracts.base_evm_contract import BoaError
from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from fuzz import sigs
from fuzz.ghost import (
    ACCEPT,
    ACTIVE,
    ADMIN_ROLE,
    COMPLETED,
    FEDERATOR_ROLE,
    MAX_CHALLENGE_WINDOW,
    MAX_MIN_STAKE_PER_COMPUTE_UNIT,
    MAX_PENDING_UNBONDS,
    OTHER_ROLE,
    PENDING,
    REENTER,
    REFUSE,
    VALIDATOR_ROLE,
    WORK_SUBMITTED,
    ZERO,
    Revert,
)
from fuzz.machine import (
    ADMIN,
    ATTACKER,
    CREATOR,
    FEDERATOR,
    MANAGERS,
    NODES,
    OPERATOR,
    PROVIDER_A,
    TREASURY,
    VALIDATOR,
    VALIDATOR2,
    SystemMachine,
    check,
    fail,
    pick,
    revert_reason,
    step,
)
from hub.contracts import INJ

INDEX = st.integers(0, 63)
CEILING = MAX_MIN_STAKE_PER_COMPUTE_UNIT  # the federator's bound on the stake minimum (SPEC 3.2)
RAW = st.integers(0, 10 * INJ)
SIG_KIND = st.sampled_from(sigs.KINDS[:1] * 4 + sigs.KINDS[1:])  # mostly good, every breakage present
DEADLINE_KIND = st.sampled_from(["never", "never", "now", "now+60", "now-1"])


class Rules(SystemMachine):
    """Pickers shared by the rule sets."""

    def sender_with(self, role: bytes | None, index: int, extra: tuple = ()) -> str:
        """Mostly a current holder of `role`; sometimes anyone else (then the call must revert)."""
        holders = sorted(self.ghost.roles[role]) if role is not None else []
        others = list(extra) + self.everyone
        if holders and index % 4 != 3:
            return pick(holders, index)
        return pick(others, index // 4)

    @staticmethod
    def choose(index: int, good: list, other: list) -> object:
        """Three times in four a target the call should accept (if any), else anything."""
        if good and index % 4 != 3:
            return pick(good, index)
        return pick(list(other) or list(good), index // 4)

    def registered(self) -> list[str]:
        return [p for p in self.providers if self.ghost.provider(p).registered]

    def pools_with(self, *statuses: int) -> list[int]:
        return [i for i, p in sorted(self.ghost.pools.items()) if p.status in statuses]

    def deadline(self, kind: str) -> int:
        now = self.now()
        return {"never": 2**256 - 1, "now": now, "now+60": now + 60, "now-1": now - 1}[kind]

    def pool_ids(self) -> list[int]:
        return sorted(self.ghost.pools) + [self.ghost.next_pool_id]  # plus one that does not exist

    def blacklist(self, sender: str, provider: str, listing: str) -> None:
        g = self.ghost
        mine = sorted(n for n, r in g.nodes.items() if r.provider == provider)
        others = sorted(n for n, r in g.nodes.items() if r.provider != provider)
        nodes = {"all": mine, "none": [], "some": mine[:1], "foreign": mine + others[:1]}[listing]
        self.tx(
            "blacklistProvider",
            sender,
            self.s.hub.blacklistProvider,
            (provider, nodes),
            ghost=lambda: g.blacklist_provider(sender, provider, nodes),
        )

    def work_keys(self, pool_id: int | None = None) -> list[tuple[int, str, bytes]]:
        return [k for k in self.ghost.works if pool_id is None or k[0] == pool_id]


class AdminRules(Rules):
    """Roles, treasury, stake minimum, domains, module wiring."""

    @step(rule(who=INDEX, role=st.sampled_from([FEDERATOR_ROLE, VALIDATOR_ROLE, OTHER_ROLE, ADMIN_ROLE]), to=INDEX))
    def grant_role(self, who: int, role: bytes, to: int) -> None:
        g, sender = self.ghost, self.sender_with(ADMIN_ROLE, who)
        # the attacker is never granted anything: it stays the actor without roles
        account = pick([VALIDATOR2, ZERO] + [a for a in self.everyone if a != ATTACKER], to)
        self.tx(
            "grantRole",
            sender,
            self.s.hub.grantRole,
            (role, account),
            ghost=lambda: g.grant_role(sender, role, account),
        )

    @step(rule(who=INDEX, role=st.sampled_from([VALIDATOR_ROLE, FEDERATOR_ROLE, OTHER_ROLE, ADMIN_ROLE]), of=INDEX))
    def revoke_role(self, who: int, role: bytes, of: int) -> None:
        g, sender = self.ghost, self.sender_with(ADMIN_ROLE, who)
        account = pick(sorted(g.roles[role] - {ADMIN}) + self.everyone, of)
        self.tx(
            "revokeRole",
            sender,
            self.s.hub.revokeRole,
            (role, account),
            ghost=lambda: g.revoke_role(sender, role, account),
        )

    @step(
        rule(
            who=INDEX,
            role=st.sampled_from([VALIDATOR_ROLE, FEDERATOR_ROLE, OTHER_ROLE]),
            other=st.booleans(),
            admin=st.integers(0, 15),
        )
    )
    def renounce_role(self, who: int, role: bytes, other: bool, admin: int) -> None:
        g = self.ghost
        role = ADMIN_ROLE if admin == 0 else role  # renouncing the last admin freezes the roles: rare
        sender = self.sender_with(role, who)
        account = ATTACKER if other else sender
        self.tx(
            "renounceRole",
            sender,
            self.s.hub.renounceRole,
            (role, account),
            ghost=lambda: g.renounce_role(sender, role, account),
        )

    @step(rule(who=INDEX, to=st.integers(0, 5)))
    def set_treasury(self, who: int, to: int) -> None:
        g, sender = self.ghost, self.sender_with(ADMIN_ROLE, who)
        treasury = [TREASURY, self.R, VALIDATOR, ZERO, ADMIN, TREASURY][to]
        self.tx(
            "setTreasury", sender, self.s.hub.setTreasury, (treasury,), ghost=lambda: g.set_treasury(sender, treasury)
        )

    @step(rule(who=INDEX, amount=st.sampled_from([0, 1, 10**15, INJ, 3 * INJ, CEILING, CEILING + 1])))
    def set_stake_minimum(self, who: int, amount: int) -> None:
        g, sender = self.ghost, self.sender_with(FEDERATOR_ROLE, who)
        self.tx(
            "setStakeMinimum",
            sender,
            self.s.hub.setStakeMinimum,
            (amount,),
            ghost=lambda: g.set_stake_minimum(sender, amount),
        )

    @step(rule(who=INDEX, name=st.sampled_from(["llama-7b", "", "tiny"]), logic=st.integers(0, 5)))
    def create_domain(self, who: int, name: str, logic: int) -> None:
        g, sender = self.ghost, self.sender_with(FEDERATOR_ROLE, who)
        validation = [
            self.s.work_validation.address,
            self.validator2.address,
            ATTACKER,
            ZERO,
            self.s.work_validation.address,
            self.validator2.address,
        ][logic]
        validation = str(validation)
        self.tx(
            "createDomain",
            sender,
            self.s.hub.createDomain,
            (name, validation, "ipfs://domain"),
            ghost=lambda: g.create_domain(sender, name, validation, "ipfs://domain"),
        )

    @step(rule(who=INDEX))
    def set_module_addresses(self, who: int) -> None:
        g, s, sender = self.ghost, self.s, self.sender_with(ADMIN_ROLE, who)
        args = (s.registry.address, s.domains.address, s.stake.address, s.pool.address, s.rewards.address)
        self.tx(
            "setModuleAddresses", sender, s.hub.setModuleAddresses, args, ghost=lambda: g.set_module_addresses(sender)
        )


class StakeRules(Rules):
    """Provider registration and stake: stake, unbond, rebond, withdraw, deregister, slash, sweep."""

    def stake_amount(self, kind: str, raw: int) -> int:
        g = self.ghost
        minimum = max(g.min_stake, 1)
        return {"min": minimum, "min-1": minimum - 1, "plenty": 10 * minimum + raw, "zero": 0, "raw": raw}[kind]

    @step(rule(who=INDEX, kind=st.sampled_from(["min", "min-1", "plenty", "plenty", "zero", "raw"]), raw=RAW))
    def register_provider(self, who: int, kind: str, raw: int) -> None:
        g = self.ghost
        sender = self.choose(
            who, [p for p in self.providers if not g.provider(p).registered], self.providers + [ATTACKER]
        )
        value = self.stake_amount(kind, raw)
        self.tx(
            "registerProvider",
            sender,
            self.s.hub.registerProvider,
            value=value,
            ghost=lambda: g.register_provider(sender, value),
        )

    @step(rule(who=INDEX, kind=st.sampled_from(["min", "plenty", "zero", "raw"]), raw=RAW))
    def increase_stake(self, who: int, kind: str, raw: int) -> None:
        g, value = self.ghost, self.stake_amount(kind, raw)
        sender = self.choose(who, self.registered(), self.providers + [ATTACKER])
        self.tx(
            "increaseStake",
            sender,
            self.s.hub.increaseStake,
            value=value,
            ghost=lambda: g.increase_stake(sender, value),
        )

    def reclaim_amount(self, account: str, kind: str, raw: int) -> int:
        g = self.ghost
        stake, spare = g.stake_of(account), g.stake_of(account) - g.minimum(g.total_compute(account))
        return {
            "to_minimum": spare,
            "past_minimum": spare + 1,
            "all": stake,
            "all+1": stake + 1,
            "zero": 0,
            "small": 1 + raw % max(spare, 1),
            "raw": raw,
        }[kind]

    @step(
        rule(
            who=INDEX,
            kind=st.sampled_from(["to_minimum", "past_minimum", "all", "all+1", "zero", "small", "small", "raw"]),
            raw=RAW,
        )
    )
    def reclaim_stake(self, who: int, kind: str, raw: int) -> None:
        g, sender = self.ghost, self.choose(who, self.registered(), self.providers + [ATTACKER])
        amount = max(self.reclaim_amount(sender, kind, raw), 0)
        self.tx(
            "reclaimStake", sender, self.s.hub.reclaimStake, (amount,), ghost=lambda: g.reclaim_stake(sender, amount)
        )

    @step(rule(who=INDEX, count=st.integers(2, 20), gap=st.sampled_from([0, 1])))
    def reclaim_burst(self, who: int, count: int, gap: int) -> None:
        """Several small unbonds in a row (one second apart, or merged in the same second): fills the queue."""
        g, sender = self.ghost, self.choose(who, self.registered(), self.providers)
        for _ in range(count):
            spare = g.stake_of(sender) - g.minimum(g.total_compute(sender))
            amount = max(min(spare, 1 + spare // 32), 1)
            if not (g.provider(sender).registered and 0 < amount <= spare):
                break
            full = len(g.queue_of(sender)) >= MAX_PENDING_UNBONDS
            self.tx(
                "reclaimStake",
                sender,
                self.s.hub.reclaimStake,
                (amount,),
                ghost=lambda a=amount: g.reclaim_stake(sender, a),
            )
            if full:
                break
            self.travel(gap)

    @step(rule(who=INDEX, kind=st.sampled_from(["all", "all+1", "newest", "part", "zero", "raw"]), raw=RAW))
    def rebond_stake(self, who: int, kind: str, raw: int) -> None:
        g = self.ghost
        sender = self.choose(who, [p for p in self.registered() if g.queue_of(p)], self.providers + [ATTACKER])
        queue = g.queue_of(sender)
        newest = queue[-1][0] if queue else 0
        amount = {
            "all": g.unbonding_of(sender),
            "all+1": g.unbonding_of(sender) + 1,
            "newest": newest,
            "part": newest + (queue[-2][0] // 2 if len(queue) > 1 else 0),
            "zero": 0,
            "raw": raw,
        }[kind]
        self.tx("rebondStake", sender, self.s.hub.rebondStake, (amount,), ghost=lambda: g.rebond_stake(sender, amount))

    @step(rule(who=INDEX))
    def deregister_provider(self, who: int) -> None:
        g, sender = self.ghost, self.choose(who, self.registered(), self.providers + [ATTACKER])
        self.tx(
            "deregisterProvider", sender, self.s.hub.deregisterProvider, ghost=lambda: g.deregister_provider(sender)
        )

    @step(rule(who=INDEX))
    def withdraw(self, who: int) -> None:
        g = self.ghost
        sender = self.choose(who, [a for a in sorted(g.queue) if g.withdrawable_of(a)], self.providers + [ATTACKER])
        self.tx("withdraw", sender, self.s.stake.withdraw, ghost=lambda: g.withdraw(sender), pays=True)

    @step(rule(who=INDEX))
    def sweep_slashed(self, who: int) -> None:
        g, sender = self.ghost, pick([ATTACKER, PROVIDER_A, VALIDATOR, ADMIN], who)
        self.tx("sweepSlashed", sender, self.s.stake.sweepSlashed, ghost=lambda: g.sweep_slashed(sender), pays=True)

    @step(
        rule(
            who=INDEX,
            whom=INDEX,
            kind=st.sampled_from(["stake", "into_queue", "everything", "more", "zero", "small"]),
            raw=RAW,
        )
    )
    def slash(self, who: int, whom: int, kind: str, raw: int) -> None:
        g, sender = self.ghost, self.sender_with(VALIDATOR_ROLE, who)
        provider = self.choose(
            whom, [p for p in self.providers if g.stake_of(p) or g.queue_of(p)], self.providers + [ATTACKER]
        )
        stake, unbonding = g.stake_of(provider), g.unbonding_of(provider)
        newest = g.queue_of(provider)[-1][0] if g.queue_of(provider) else 0
        amount = {
            "stake": stake,
            "into_queue": stake + max(newest // 2, 1),
            "everything": stake + unbonding,
            "more": stake + unbonding + 1 + raw,
            "zero": 0,
            "small": 1 + raw % max(stake, 1),
        }[kind]
        self.tx(
            "slash",
            sender,
            self.s.hub.slash,
            (provider, amount, "fuzz"),
            ghost=lambda: g.slash(sender, provider, amount),
        )


class NodeRules(Rules):
    """Nodes: add with an attestation (good or broken), remove, validate, (in)validate, white/blacklist."""

    @step(
        rule(
            who=INDEX,
            node=INDEX,
            units=st.sampled_from([1, 2, 3, 0, 10**6]),
            kind=SIG_KIND,
            deadline=DEADLINE_KIND,
            uri=st.sampled_from(["ipfs://specs", "ipfs://gpu-h100"]),
        )
    )
    def add_compute_node(self, who: int, node: int, units: int, kind: str, deadline: str, uri: str) -> None:
        g = self.ghost
        sender = self.choose(who, self.registered(), self.providers + [ATTACKER])
        node_key = self.choose(node, [n for n in NODES if n not in g.nodes], NODES)
        self.add_node(sender, node_key, units, kind, self.deadline(deadline), uri)

    @step(rule(index=INDEX, who=INDEX))
    @precondition(lambda self: self.used_attestations)
    def replay_attestation(self, index: int, who: int) -> None:
        """Send an attestation that was already used (or refused) again, maybe by another provider."""
        a, g = pick(self.used_attestations, index), self.ghost
        sender = a["provider"] if who % 2 == 0 else pick(self.providers, who)
        args = (a["node"], a["uri"], a["units"], a["signature"], a["deadline"])
        self.tx(
            "addComputeNode",
            sender,
            self.s.hub.addComputeNode,
            args,
            ghost=lambda: g.add_compute_node(sender, a["node"], a["uri"], a["units"], a["signature"], a["deadline"]),
        )

    @step(rule(who=INDEX, node=INDEX))
    def remove_compute_node(self, who: int, node: int) -> None:
        g = self.ghost
        node_key = self.choose(node, sorted(g.nodes), NODES)
        owner = g.nodes[node_key].provider if node_key in g.nodes else ATTACKER
        sender = owner if who % 3 else pick(self.providers + [ATTACKER], who)
        self.tx(
            "removeComputeNode",
            sender,
            self.s.hub.removeComputeNode,
            (node_key,),
            ghost=lambda: g.remove_compute_node(sender, node_key),
        )

    @step(rule(who=INDEX, node=INDEX))
    def validate_node(self, who: int, node: int) -> None:
        g, sender = self.ghost, self.sender_with(VALIDATOR_ROLE, who)
        node_key = self.choose(node, [n for n, r in sorted(g.nodes.items()) if not r.validated], NODES)
        self.tx(
            "validateNode",
            sender,
            self.s.hub.validateNode,
            (node_key,),
            ghost=lambda: g.validate_node(sender, node_key),
        )

    @step(rule(who=INDEX, node=INDEX))
    def invalidate_node(self, who: int, node: int) -> None:
        g, sender = self.ghost, self.sender_with(VALIDATOR_ROLE, who)
        node_key = self.choose(node, [n for n, r in sorted(g.nodes.items()) if r.validated], NODES)
        self.tx(
            "invalidateNode",
            sender,
            self.s.hub.invalidateNode,
            (node_key,),
            ghost=lambda: g.invalidate_node(sender, node_key),
        )

    @step(rule(who=INDEX, whom=INDEX))
    def whitelist_provider(self, who: int, whom: int) -> None:
        g, sender = self.ghost, self.sender_with(VALIDATOR_ROLE, who)
        provider = self.choose(
            whom, [p for p in self.registered() if not g.provider(p).whitelisted], self.providers + [ATTACKER]
        )
        self.tx(
            "whitelistProvider",
            sender,
            self.s.hub.whitelistProvider,
            (provider,),
            ghost=lambda: g.whitelist_provider(sender, provider),
        )

    @step(
        rule(
            who=INDEX,
            whom=INDEX,
            really=st.integers(0, 3),
            listing=st.sampled_from(["all", "all", "none", "some", "foreign"]),
        )
    )
    def blacklist_provider(self, who: int, whom: int, really: int, listing: str) -> None:
        """A network-wide blacklist, releasing all, none, some of the provider's nodes (anyone
        releases the rest later) or naming a node of another provider (refused)."""
        # blacklisting is for good: mostly aim it at the attacker or at nobody, sometimes at a provider
        sender = self.sender_with(VALIDATOR_ROLE, who) if really == 0 else pick([ATTACKER, PROVIDER_A], who)
        provider = pick(self.providers + [ATTACKER, ZERO], whom)
        self.blacklist(sender, provider, listing)

    @step(rule(who=INDEX, node=INDEX))
    def release_blacklisted_node(self, who: int, node: int) -> None:
        """Anyone takes a network-blacklisted provider's node out of its pool (SPEC 3.4)."""
        g = self.ghost
        seated = [n for n in NODES if g.active_pool_of(n) and g.provider(g.nodes[n].provider).blacklisted]
        node_key = self.choose(node, seated, NODES)
        sender = pick([ATTACKER, PROVIDER_A, CREATOR, node_key], who)
        self.tx(
            "releaseBlacklistedNode",
            sender,
            self.s.pool.releaseBlacklistedNode,
            (node_key,),
            ghost=lambda: g.release_blacklisted_node(sender, node_key),
        )


class PoolRules(Rules):
    """Pools: create, start, end, manager rotation, invites, join, leave, eject, blacklists."""

    @step(
        rule(
            who=INDEX,
            domain=INDEX,
            limit=st.sampled_from([0, 0, 1, 3, 5, -1, -2]),
            rate=st.sampled_from([1, 10**6]),
            window=st.sampled_from([60, 600, 3600, 1, MAX_CHALLENGE_WINDOW, -1, -1, 0]),
            budget_units=st.sampled_from([0, 10**3, 10**5, 10**7]),
            broken=st.sampled_from(["none"] * 6 + ["domain", "manager", "uri", "hash", "rate", "window0", "window+"]),
        )
    )
    def create_compute_pool(
        self, who: int, domain: int, limit: int, rate: int, window: int, budget_units: int, broken: str
    ) -> None:
        """A pool with a valid set of parameters, or with exactly one of them broken. A negative
        limit means: what the free validated nodes fill exactly (-1), or that plus one unit short (-2)."""
        g = self.ghost
        if limit < 0:
            fit = sum(r.units for n, r in g.nodes.items() if r.validated and not g.active_pool_of(n))
            limit = max(fit + limit + 1, 0)
        creator = pick(self.creators + [ATTACKER], who)
        domain_id = 1 + domain % len(self.ghost.domains) if self.ghost.domains else 1
        manager_key = pick(MANAGERS, who // 3)
        uri, metadata_hash, budget = "ipfs://pool", b"\x42" * 32, budget_units * rate
        if broken == "domain":
            domain_id = [0, len(self.ghost.domains) + 1][domain % 2]
        manager_key = ZERO if broken == "manager" else manager_key
        uri = "" if broken == "uri" else uri
        metadata_hash = b"\x00" * 32 if broken == "hash" else metadata_hash
        rate = 0 if broken == "rate" else rate
        # -1: the longest window the unbonding period allows; 0: exactly the unbonding period (refused)
        window = {-1: g.unbonding - 1, 0: g.unbonding}.get(window, window)
        window = {"window0": 0, "window+": MAX_CHALLENGE_WINDOW + 1}.get(broken, window)
        self.create_pool(creator, budget, domain_id, manager_key, limit, rate, window, uri, metadata_hash)

    @step(rule(index=INDEX))
    def next_training_run(self, index: int) -> None:
        """A creator ends a running pool and opens the next run with the same terms; its nodes move over."""
        g = self.ghost
        old = pick(self.pools_with(ACTIVE) or self.pool_ids(), index)
        previous = g.pools.get(old)
        creator = previous.creator if previous else CREATOR
        members = [n for n in NODES if g.is_member(old, n)]
        self.tx("endComputePool", creator, self.s.pool.endComputePool, (old,), ghost=lambda: g.end_pool(creator, old))
        if previous is None or previous.status != COMPLETED:
            return
        manager = previous.manager if previous.manager in MANAGERS else MANAGERS[0]
        new = self.create_pool(
            creator, previous.funded, previous.domain_id, manager, previous.limit, previous.rate, previous.window
        )
        if new is None:
            return
        self.tx(
            "startComputePool", creator, self.s.pool.startComputePool, (new,), ghost=lambda: g.start_pool(creator, new)
        )
        for node in members:
            self.join(g.nodes[node].provider, new, node, manager, sigs.GOOD, 2**40)

    @step(rule(who=INDEX, pool=INDEX))
    def start_compute_pool(self, who: int, pool: int) -> None:
        g, pool_id = self.ghost, self.choose(pool, self.pools_with(PENDING), self.pool_ids())
        sender = g.pools[pool_id].creator if pool_id in g.pools and who % 4 else pick(self.creators + [ATTACKER], who)
        self.tx(
            "startComputePool",
            sender,
            self.s.pool.startComputePool,
            (pool_id,),
            ghost=lambda: g.start_pool(sender, pool_id),
        )

    @step(rule(who=INDEX, pool=INDEX))
    def end_compute_pool(self, who: int, pool: int) -> None:
        g, pool_id = self.ghost, self.choose(pool, self.pools_with(ACTIVE, PENDING), self.pool_ids())
        # pools run for a while: the creator ends one in a third of the tries, others are refused
        sender = (
            g.pools[pool_id].creator if pool_id in g.pools and who % 3 == 0 else pick(self.creators + [ATTACKER], who)
        )
        self.tx(
            "endComputePool", sender, self.s.pool.endComputePool, (pool_id,), ghost=lambda: g.end_pool(sender, pool_id)
        )

    @step(rule(who=INDEX, pool=INDEX, manager=st.integers(0, 2)))
    def set_pool_manager(self, who: int, pool: int, manager: int) -> None:
        g, pool_id = self.ghost, pick(self.pool_ids(), pool)
        sender = g.pools[pool_id].creator if pool_id in g.pools and who % 4 else pick(self.creators + [ATTACKER], who)
        new = [MANAGERS[1], MANAGERS[0], ZERO][manager]
        self.tx(
            "setPoolManager",
            sender,
            self.s.pool.setPoolManager,
            (pool_id, new),
            ghost=lambda: g.set_pool_manager(sender, pool_id, new),
        )

    def joiner(self, node: str, how: int) -> str:
        record = self.ghost.nodes.get(node)
        return [node, record.provider if record else node, ATTACKER, node][how % 4]

    def signing_manager(self, pool_id: int, index: int) -> str:
        pool = self.ghost.pools.get(pool_id)
        current = pool.manager if pool and pool.manager in MANAGERS else MANAGERS[0]
        return current if index % 3 else pick(MANAGERS, index)

    @step(rule(how=INDEX, node=INDEX, pool=INDEX, kind=SIG_KIND, deadline=DEADLINE_KIND, signer=INDEX))
    def join_compute_pool(self, how: int, node: int, pool: int, kind: str, deadline: str, signer: int) -> None:
        g = self.ghost
        free = [n for n, r in sorted(g.nodes.items()) if r.validated and not g.active_pool_of(n)]
        node_key = self.choose(node, free, NODES)
        pool_id = self.choose(pool, self.pools_with(PENDING, ACTIVE), self.pool_ids())
        self.join(
            self.joiner(node_key, how),
            pool_id,
            node_key,
            self.signing_manager(pool_id, signer),
            kind,
            self.deadline(deadline),
        )

    @step(rule(node=INDEX, pool=INDEX, deadline=st.sampled_from([0, 1, 60, 600]), signer=INDEX))
    def sign_invite(self, node: int, pool: int, deadline: int, signer: int) -> None:
        """A manager signs an invite now; a later step uses it (maybe expired, replayed or revoked)."""
        g = self.ghost
        node_key = self.choose(node, [n for n, r in sorted(g.nodes.items()) if r.validated], NODES)
        pool_id = self.choose(pool, self.pools_with(PENDING, ACTIVE), self.pool_ids())
        manager, expiry = self.signing_manager(pool_id, signer), self.now() + deadline
        self.stored_invites.append(
            dict(
                pool=pool_id,
                node=node_key,
                deadline=expiry,
                signature=self.invite(pool_id, node_key, manager, sigs.GOOD, expiry),
            )
        )

    @step(rule(index=INDEX, how=INDEX))
    @precondition(lambda self: self.stored_invites)
    def join_with_stored_invite(self, index: int, how: int) -> None:
        g, i = self.ghost, pick(self.stored_invites, index)
        sender = self.joiner(i["node"], how)
        args = (i["pool"], i["node"], i["deadline"], i["signature"])
        self.tx("joinComputePool", sender, self.s.pool.joinComputePool, args, ghost=lambda: g.join_pool(sender, *args))

    @step(rule(how=INDEX, node=INDEX, pool=INDEX))
    def leave_compute_pool(self, how: int, node: int, pool: int) -> None:
        g = self.ghost
        node_key = self.choose(node, [n for n in NODES if g.active_pool_of(n)], NODES)
        pool_id = g.active_pool_of(node_key) if pool % 3 else pick(self.pool_ids(), pool)
        sender = self.joiner(node_key, how)
        self.tx(
            "leaveComputePool",
            sender,
            self.s.pool.leaveComputePool,
            (pool_id, node_key),
            ghost=lambda: g.leave_pool(sender, pool_id, node_key),
        )

    def pool_operator(self, pool_id: int, who: int) -> str:
        pool = self.ghost.pools.get(pool_id)
        staff = [pool.manager, pool.creator] if pool else []
        return pick(staff, who) if staff and who % 4 else pick([ATTACKER, PROVIDER_A, VALIDATOR], who)

    @step(rule(who=INDEX, node=INDEX, pool=INDEX))
    def eject_node(self, who: int, node: int, pool: int) -> None:
        g = self.ghost
        node_key = self.choose(node, [n for n in NODES if g.active_pool_of(n)], NODES)
        pool_id = g.active_pool_of(node_key) if pool % 3 else pick(self.pool_ids(), pool)
        sender = self.pool_operator(pool_id, who)
        self.tx(
            "ejectNode",
            sender,
            self.s.pool.ejectNode,
            (pool_id, node_key),
            ghost=lambda: g.eject_node(sender, pool_id, node_key),
        )

    @step(rule(who=INDEX, node=INDEX, pool=INDEX))
    def blacklist_node(self, who: int, node: int, pool: int) -> None:
        g = self.ghost
        node_key = self.choose(node, [n for n in NODES if g.active_pool_of(n)], NODES)
        pool_id = g.active_pool_of(node_key) if pool % 3 else pick(self.pool_ids(), pool)
        sender = self.pool_operator(pool_id, who)
        self.tx(
            "blacklistNode",
            sender,
            self.s.pool.blacklistNode,
            (pool_id, node_key),
            ghost=lambda: g.blacklist_node(sender, pool_id, node_key),
        )

    @step(
        rule(
            who=INDEX,
            pool=INDEX,
            whom=INDEX,
            listing=st.sampled_from(["exact", "exact", "missing", "extra", "duplicate", "other", "empty"]),
        )
    )
    def blacklist_provider_in_pool(self, who: int, pool: int, whom: int, listing: str) -> None:
        g = self.ghost
        pool_id = self.choose(pool, sorted({g.active_pool_of(n) for n in NODES} - {0}), self.pool_ids())
        provider = self.choose(
            whom, sorted({g.nodes[n].provider for n in NODES if g.is_member(pool_id, n)}), self.providers + [ATTACKER]
        )
        sender = self.pool_operator(pool_id, who)
        mine = [n for n in NODES if g.is_member(pool_id, n) and g.nodes[n].provider == provider]
        others = [n for n in NODES if n not in mine]
        nodes = {
            "exact": mine,
            "missing": mine[1:],
            "extra": mine + others[:1],
            "duplicate": mine + mine[:1],
            "other": others[:1] + mine,
            "empty": [],
        }[listing]
        self.tx(
            "blacklistProvider(pool)",
            sender,
            self.s.pool.blacklistProvider,
            (pool_id, provider, nodes),
            ghost=lambda: g.blacklist_provider_in_pool(sender, pool_id, provider, nodes),
        )


class WorkRules(Rules):
    """Work and rewards: submit, soft / hard invalidation, claims, voided-work release, top-up, refund."""

    @step(
        rule(
            node=INDEX,
            pool=INDEX,
            key=st.sampled_from(["fresh", "fresh", "fresh", "reuse", "zero"]),
            units=st.sampled_from(["small", "small", "capacity", "capacity+1", "one", "zero", "budget", "budget+1"]),
            wait=st.sampled_from([0, 1, 30, 300]),
            raw=st.integers(1, 1000),
        )
    )
    def submit_work(self, node: int, pool: int, key: str, units: str, wait: int, raw: int) -> None:
        g = self.ghost
        working = [n for n in NODES if g.pool_status(g.active_pool_of(n)) == ACTIVE]
        node_key = self.choose(node, working, NODES)
        pool_id = g.member(node_key).pool if node % 4 != 3 and g.member(node_key).pool else pick(self.pool_ids(), pool)
        self.travel(wait)
        g.now = self.now()
        work_key = {
            "fresh": self.fresh_work_key(),
            "zero": b"\x00" * 32,
            # a key already used in the pool, by this node (refused) or by another (its own namespace)
            "reuse": pick(self.work_keys(pool_id), node)[2] if self.work_keys(pool_id) else b"\x01" * 32,
        }[key]
        record, p = g.nodes.get(node_key), g.pools.get(pool_id)
        capacity = g.capacity(node_key) if record and p else 0
        affordable = p.available // p.rate if p else 0
        amount = {
            "capacity": capacity,
            "capacity+1": capacity + 1,
            "small": min(raw, capacity) or 1,
            "one": 1,
            "zero": 0,
            "budget": min(capacity, affordable),
            "budget+1": affordable + 1,
        }[units]
        self.tx(
            "submitWork",
            node_key,
            self.s.pool.submitWork,
            (pool_id, work_key, amount),
            ghost=lambda: g.submit_work(node_key, pool_id, work_key, amount),
        )

    @step(rule(wait=st.sampled_from([1, 10, 60, 300]), share=st.sampled_from([1, 2, 3])))
    def work_round(self, wait: int, share: int) -> None:
        """Time passes and every node of an active pool submits 1/share of what it may claim."""
        self.submit_round(wait, share)

    def pick_work(self, index: int) -> tuple[int, str, bytes]:
        """Mostly a work key still in its challenge window."""
        g = self.ghost
        open_keys = [
            k
            for k, w in g.works.items()
            if w.state == WORK_SUBMITTED and g.now <= w.submitted_at + g.pools[k[0]].window
        ]
        return self.choose(index, open_keys, list(g.works) or [(1, NODES[0], b"\x01" * 32)])

    @step(rule(who=INDEX, work=INDEX))
    def invalidate_work(self, who: int, work: int) -> None:
        g = self.ghost
        pool_id, node, key = self.pick_work(work)
        sender = self.sender_with(VALIDATOR_ROLE, who) if who % 2 else self.pool_operator(pool_id, who // 2)
        self.tx(
            "invalidateWork",
            sender,
            self.s.pool.invalidateWork,
            (pool_id, node, key),
            ghost=lambda: g.invalidate_work(sender, pool_id, node, key),
        )

    @step(rule(who=INDEX, work=INDEX, slash=st.sampled_from([0, 0, 1, INJ, 10**30])))
    def hard_invalidate_work(self, who: int, work: int, slash: int) -> None:
        g = self.ghost
        pool_id, node, key = self.pick_work(work)
        # an auditor who caught a node goes on to its newest claim still open
        caught = sorted(
            (w.submitted_at, k)
            for k, w in g.works.items()
            if (k[0], w.node) in g.void_from
            and w.state == WORK_SUBMITTED
            and g.now <= w.submitted_at + g.pools[k[0]].window
        )
        if caught and work % 3 == 0:
            pool_id, node, key = caught[-1][1]
        sender = self.sender_with(VALIDATOR_ROLE, who, extra=(MANAGERS[0],))
        self.tx(
            "hardInvalidateWork",
            sender,
            self.s.pool.hardInvalidateWork,
            (pool_id, node, key, slash, "fraud"),
            ghost=lambda: g.hard_invalidate_work(sender, pool_id, node, key, slash),
        )

    @step(rule(index=INDEX, early=st.booleans(), claimer=st.sampled_from(["provider"] * 3 + ["other", "node"])))
    def claim_when_unlocked(self, index: int, early: bool, claimer: str) -> None:
        """Someone claims a work key the moment its challenge window ends (or one second early):
        mostly its provider, sometimes another provider or the node key itself (refused)."""
        g = self.ghost
        pending = sorted((k for k, w in g.works.items() if w.state == WORK_SUBMITTED), key=repr)
        if not pending:
            return
        pool_id, node, key = pick(pending, index)
        work = g.works[(pool_id, node, key)]
        self.travel(work.submitted_at + g.pools[pool_id].window + (0 if early else 1) - self.now())
        sender = {
            "provider": work.provider,
            "other": pick([p for p in self.providers + [ATTACKER] if p != work.provider], index),
            "node": work.node,
        }[claimer]
        self.tx(
            "claimRewards",
            sender,
            self.s.rewards.claimRewards,
            (pool_id, node, [key]),
            ghost=lambda: g.claim_rewards(sender, pool_id, node, [key]),
            pays=True,
        )

    def probe_claim_at_window_end(self) -> None:
        """Rule R19 (SPEC 8: a key pays strictly after submittedAt + window), tried once per
        example whatever the draw: its provider claims one key of the round just submitted on the
        last second of its window (refused), then one second later (paid). The drawn rules reach
        that second with the provider as the claimer too rarely to be relied on."""
        g = self.ghost
        fresh = sorted((k for k, w in g.works.items() if w.submitted_at == self.now()), key=repr)
        if not fresh:
            return
        pool_id, node, key = fresh[0]
        work = g.works[(pool_id, node, key)]
        self.travel(work.submitted_at + g.pools[pool_id].window - self.now())
        # the refusal is stated from the SPEC, not from the ghost; rolled back in case it pays
        with boa.env.anchor():
            try:
                self.s.rewards.claimRewards(pool_id, node, [key], sender=work.provider)
                reason = None
            except BoaError as err:
                reason = revert_reason(err)
        if reason != "RewardsDistributor: work still in challenge window":
            fail(
                "rule:R19",
                f"claimRewards by the provider at submittedAt + window (t={self.now()}) gave "
                f"{reason or 'a payment'}; the window has not fully passed",
            )
        self.travel(1)
        paid = self.tx(
            "claimRewards",
            work.provider,
            self.s.rewards.claimRewards,
            (pool_id, node, [key]),
            ghost=lambda: g.claim_rewards(work.provider, pool_id, node, [key]),
            pays=True,
        )
        if not paid:
            fail("rule:R19", f"claimRewards one second after the window (t={self.now()}) paid {paid}")

    @step(
        rule(
            index=INDEX,
            claims=st.integers(1, 4),
            spacing=st.sampled_from([1, 5, 30]),
            start=st.sampled_from(["now", "oldest_closing"]),
            gap=st.sampled_from(["none", "second", "past_oldest", "past_oldest"]),
        )
    )
    def fraud_case(self, index: int, claims: int, spacing: int, start: str, gap: str) -> None:
        """A working node makes a burst of claims `spacing` seconds apart; a validator then
        hard-invalidates its newest open claim (now, or on the last second of its oldest open
        claim's window) and, after a pause (none, a second, or until just after its oldest open
        claim left its window), its next newest."""
        g, s = self.ghost, self.s
        node = pick([n for n in NODES if g.pool_status(g.active_pool_of(n)) == ACTIVE] or NODES, index)
        for _ in range(claims):
            pool_id = g.active_pool_of(node)
            if g.pool_status(pool_id) != ACTIVE:
                break
            self.travel(spacing)
            g.now = self.now()
            p = g.pools[pool_id]
            capacity = g.capacity(node)
            units, key = max(min(capacity, p.available // p.rate // 16), 1), self.fresh_work_key()
            self.tx(
                "submitWork",
                node,
                s.pool.submitWork,
                (pool_id, key, units),
                ghost=lambda i=pool_id, k=key, u=units: g.submit_work(node, i, k, u),
            )
        for round_ in range(2):
            open_claims = sorted(
                (w.submitted_at, k)
                for k, w in g.works.items()
                if w.node == node and w.state == WORK_SUBMITTED and g.now <= w.submitted_at + g.pools[k[0]].window
            )
            if not open_claims:
                return
            pool_id, _, key = open_claims[-1][1]
            if round_ == 0 and start == "oldest_closing":
                oldest = g.works[open_claims[0][1]]
                self.travel(oldest.submitted_at + g.pools[pool_id].window - g.now)
            self.tx(
                "hardInvalidateWork",
                VALIDATOR,
                s.pool.hardInvalidateWork,
                (pool_id, node, key, 0, "fraud case"),
                ghost=lambda p=pool_id, k=key: g.hard_invalidate_work(VALIDATOR, p, node, k, 0),
            )
            if round_ == 0 and gap != "none":
                oldest = g.works[open_claims[0][1]]
                self.travel(1 if gap == "second" else oldest.submitted_at + g.pools[pool_id].window + 1 - g.now)

    @step(
        rule(
            who=INDEX,
            pool=INDEX,
            listing=st.sampled_from(
                ["claimable", "claimable", "claimable", "one", "duplicate", "locked", "any", "empty", "unknown"]
            ),
        )
    )
    def claim_rewards(self, who: int, pool: int, listing: str) -> None:
        g = self.ghost
        pairs = sorted({(p, n) for p, n, _ in g.works}) or [(pick(self.pool_ids(), pool), NODES[0])]
        claimable = sorted({(p, n) for (p, n, _), w in g.works.items() if g.claimable(p, w)})
        pool_id, node = pick(claimable, pool) if claimable and pool % 4 else pick(pairs, pool)
        mine = sorted(k for (p, n, k), w in g.works.items() if (p, n) == (pool_id, node) and g.claimable(p, w))
        owner = g.nodes[node].provider if node in g.nodes else None
        owners = sorted({g.works[(pool_id, node, k)].provider for k in mine}) or ([owner] if owner else [])
        sender = pick(owners, who) if owners and who % 4 else pick(self.providers + [ATTACKER], who)
        every = sorted(k for p, n, k in g.works if (p, n) == (pool_id, node))
        keys = {
            "claimable": mine[:64],
            "one": mine[:1] or every[:1],
            "duplicate": mine[:1] * 2,
            "locked": every[-1:],
            "any": [pick(every, who)] if every else [],
            "empty": [],
            "unknown": [b"\x05" * 32],
        }[listing]
        # sometimes the keys are named under another node of the pool: not that node's work
        if listing == "any" and who % 3 == 0:
            node = pick([n for n in NODES if n != node], who)
        self.tx(
            "claimRewards",
            sender,
            self.s.rewards.claimRewards,
            (pool_id, node, keys),
            ghost=lambda: g.claim_rewards(sender, pool_id, node, keys),
            pays=True,
        )

    @step(rule(who=INDEX, pool=INDEX, listing=st.sampled_from(["voided", "voided", "one", "any", "empty"])))
    def release_voided_work(self, who: int, pool: int, listing: str) -> None:
        g = self.ghost
        pairs = sorted({(p, n) for p, n, _ in g.works}) or [(pick(self.pool_ids(), pool), NODES[0])]
        void_pairs = sorted(
            {(p, n) for (p, n, _), w in g.works.items() if w.state == WORK_SUBMITTED and g.is_void(p, w)}
        )
        pool_id, node = pick(void_pairs, pool) if void_pairs and pool % 4 else pick(pairs, pool)
        voided = sorted(
            k
            for (p, n, k), w in g.works.items()
            if (p, n) == (pool_id, node) and w.state == WORK_SUBMITTED and g.is_void(p, w)
        )
        every = sorted(k for p, n, k in g.works if (p, n) == (pool_id, node))
        keys = {
            "voided": voided[:64],
            "one": voided[:1] or every[:1],
            "any": [pick(every, who)] if every else [],
            "empty": [],
        }[listing]
        sender = pick([ATTACKER, PROVIDER_A, CREATOR], who)
        self.tx(
            "releaseVoidedWork",
            sender,
            self.s.rewards.releaseVoidedWork,
            (pool_id, node, keys),
            ghost=lambda: g.release_voided_work(sender, pool_id, node, keys),
        )

    @step(rule(who=INDEX, pool=INDEX, amount=st.sampled_from([0, 1, 10**6, 10**12])))
    def top_up(self, who: int, pool: int, amount: int) -> None:
        g, pool_id = self.ghost, self.choose(pool, self.pools_with(PENDING, ACTIVE), self.pool_ids())
        sender = g.pools[pool_id].creator if pool_id in g.pools and who % 4 else pick(self.creators + [ATTACKER], who)
        self.tx(
            "topUp",
            sender,
            self.s.rewards.topUp,
            (pool_id,),
            value=amount,
            ghost=lambda: g.top_up(sender, pool_id, amount),
        )

    @step(rule(who=INDEX, pool=INDEX))
    def refund(self, who: int, pool: int) -> None:
        g, pool_id = self.ghost, self.choose(pool, self.pools_with(COMPLETED), self.pool_ids())
        sender = g.pools[pool_id].creator if pool_id in g.pools and who % 4 else pick(self.creators + [ATTACKER], who)
        self.tx("refund", sender, self.s.rewards.refund, (pool_id,), ghost=lambda: g.refund(sender, pool_id), pays=True)

    @step(rule(kind=st.sampled_from(["slash", "invalidate_node", "remove_node", "blacklist", "unstake"]), index=INDEX))
    def churn(self, kind: str, index: int) -> None:
        """Something outside the pool hits a working node: its provider is slashed, unstakes or is
        blacklisted, or the node is invalidated or removed."""
        g, s = self.ghost, self.s
        node = pick([n for n in NODES if g.active_pool_of(n)] or sorted(g.nodes) or NODES, index)
        provider = g.nodes[node].provider if node in g.nodes else PROVIDER_A
        if kind == "slash":
            amount = g.stake_of(provider) // 2 + index
            self.tx(
                "slash",
                VALIDATOR,
                s.hub.slash,
                (provider, amount, "churn"),
                ghost=lambda: g.slash(VALIDATOR, provider, amount),
            )
        elif kind == "invalidate_node":
            self.tx(
                "invalidateNode",
                VALIDATOR,
                s.hub.invalidateNode,
                (node,),
                ghost=lambda: g.invalidate_node(VALIDATOR, node),
            )
        elif kind == "remove_node":
            self.tx(
                "removeComputeNode",
                provider,
                s.hub.removeComputeNode,
                (node,),
                ghost=lambda: g.remove_compute_node(provider, node),
            )
        elif kind == "blacklist":
            self.blacklist(VALIDATOR, provider, "all" if index % 3 else "none")
        else:
            amount = max(g.stake_of(provider) - g.minimum(g.total_compute(provider)), 0)
            self.tx(
                "reclaimStake", provider, s.hub.reclaimStake, (amount,), ghost=lambda: g.reclaim_stake(provider, amount)
            )

    @step(rule(mode=st.sampled_from([ACCEPT, REENTER, REFUSE])))
    def set_receiver_mode(self, mode: int) -> None:
        """The malicious receiver (a provider, a pool creator, maybe the treasury) changes behaviour."""
        s = self.s
        self.receiver.configure(mode, s.stake.address, s.stake.withdraw.prepare_calldata(), sender=OPERATOR)
        self.ghost.receiver_mode = mode


class AttackerRules(Rules):
    """Somebody without the right role calls a privileged function of a module directly."""

    @step(rule(which=st.integers(0, 17), who=st.integers(0, 3)))
    def attacker_calls_module(self, which: int, who: int) -> None:
        s = self.s
        sender = [ATTACKER, ADMIN, VALIDATOR, FEDERATOR][who]
        node, pool_id, key = NODES[0], 1, b"\x01" * 32
        calls = [
            (s.registry.registerProvider, (sender,), "ComputeRegistry: caller is not the hub"),
            (s.registry.deregisterProvider, (PROVIDER_A,), "ComputeRegistry: caller is not the hub"),
            (s.registry.whitelistProvider, (sender,), "ComputeRegistry: caller is not the hub"),
            (s.registry.blacklistProvider, (PROVIDER_A,), "ComputeRegistry: caller is not the hub"),
            (s.registry.addNode, (sender, node, 1, "x"), "ComputeRegistry: caller is not the hub"),
            (s.registry.removeNode, (node,), "ComputeRegistry: caller is not the hub"),
            (s.registry.setNodeValidated, (node, True), "ComputeRegistry: caller is not the hub"),
            (s.domains.createDomain, ("x", s.work_validation.address, "x"), "DomainRegistry: caller is not the hub"),
            (s.stake.wire, (sender,), "StakeManager: caller is not the hub"),
            (s.stake.unbond, (PROVIDER_A, 1), "StakeManager: caller is not the hub"),
            (s.stake.rebond, (PROVIDER_A, 1), "StakeManager: caller is not the hub"),
            (s.stake.slash, (PROVIDER_A, 1, sender, "x"), "StakeManager: caller not allowed"),
            (s.pool.wire, (sender, sender, sender, sender), "ComputePool: caller is not the hub"),
            (s.pool.releaseNode, (node,), "ComputePool: caller is not the hub"),
            (s.rewards.wire, (sender,), "RewardsDistributor: caller is not the hub"),
            (
                s.rewards.recordWork,
                (pool_id, key, node, sender, 1),
                "RewardsDistributor: caller is not the compute pool",
            ),
            (
                s.rewards.invalidateWork,
                (pool_id, node, key, True),
                "RewardsDistributor: caller is not the compute pool",
            ),
            (s.rewards.openPool, (99, sender, 1, 1), "RewardsDistributor: caller is not the compute pool"),
        ]
        fn, args, reason = calls[which]

        def expect():
            raise Revert(reason)

        self.tx(fn.func_name if hasattr(fn, "func_name") else "module call", sender, fn, args, ghost=expect)

    @step(rule(amount=st.sampled_from([1, INJ])))
    def attacker_stakes_directly(self, amount: int) -> None:
        """Paying the StakeManager directly is refused (only the hub stakes)."""
        s = self.s

        def expect():
            raise Revert("StakeManager: caller is not the hub")

        self.tx("stake", ATTACKER, s.stake.stake, (ATTACKER,), value=amount, ghost=expect)


class AdversaryRules(Rules):
    """Providers, nodes and pool creators ordering their own calls against the money rules of
    docs/SPEC.md: banking work capacity across a pool's start, leaving the system between two calls
    (remove the node, deregister, withdraw, register again, rejoin), squatting another node's next
    work key, slashing a provider dry before its fraud is voided, working below the minimum."""

    def submit(self, node: str, pool_id: int, units: int, key: bytes | None = None) -> bytes:
        g, key = self.ghost, key or self.fresh_work_key()
        self.tx(
            "submitWork",
            node,
            self.s.pool.submitWork,
            (pool_id, key, units),
            ghost=lambda: g.submit_work(node, pool_id, key, units),
        )
        return key

    def working_nodes(self) -> list[str]:
        g = self.ghost
        return [n for n in NODES if g.pool_status(g.active_pool_of(n)) == ACTIVE]

    def open_pool(self, creator: str = CREATOR) -> int | None:
        """A fresh PENDING pool with a budget and the longest window the unbonding period allows."""
        window = min(600, self.ghost.unbonding - 1)
        return self.create_pool(creator, 10**6 * 10**6, 1, MANAGERS[0], 0, 10**6, window)

    @step(rule(index=INDEX, wait=st.sampled_from([1, 60, 3600, 86400]), late=st.sampled_from([0, 1, 2])))
    def bank_capacity_across_start(self, index: int, wait: int, late: int) -> None:
        """A node joins a PENDING pool, the pool starts `wait` seconds later, and `late` seconds
        after the start the node claims for every second since it joined (SPEC 7.3: only active
        seconds count), then for what it may really claim."""
        g = self.ghost
        free = [n for n, r in sorted(g.nodes.items()) if r.validated and not g.active_pool_of(n)]
        node = pick(free, index)
        pending = self.pools_with(PENDING)
        pool_id = pick(pending, index) if pending else self.open_pool()
        if node is None or pool_id is None:
            return
        pool = g.pools[pool_id]
        manager = pool.manager if pool.manager in MANAGERS else MANAGERS[0]
        self.join(g.nodes[node].provider, pool_id, node, manager, sigs.GOOD, 2**256 - 1)
        joined = g.now
        self.travel(wait)
        self.tx(
            "startComputePool",
            pool.creator,
            self.s.pool.startComputePool,
            (pool_id,),
            ghost=lambda: g.start_pool(pool.creator, pool_id),
        )
        self.travel(late)
        banked = g.nodes[node].units * g.rates[pool.validation] * (g.now - joined)
        self.submit(node, pool_id, max(banked, 1))
        self.submit(node, pool_id, max(g.capacity(node), 1))

    @step(rule(index=INDEX, rejoin=st.booleans(), slash=st.sampled_from([0, 1, INJ, 10**30])))
    def leave_between_calls(self, index: int, rejoin: bool, slash: int) -> None:
        """A node submits; its provider removes it, deregisters if it has no node left, waits out
        the unbonding period and withdraws; a validator then tries to void the work; the provider
        registers again, re-adds and rejoins the node and claims at once."""
        g, s = self.ghost, self.s
        node = pick(self.working_nodes(), index)
        if node is None:
            return
        provider, pool_id = g.nodes[node].provider, g.active_pool_of(node)
        pool, units = g.pools[pool_id], g.nodes[node].units
        self.travel(1)
        key = self.submit(node, pool_id, max(min(g.capacity(node), pool.available // pool.rate // 8), 1))
        self.tx(
            "removeComputeNode",
            provider,
            s.hub.removeComputeNode,
            (node,),
            ghost=lambda: g.remove_compute_node(provider, node),
        )
        if g.node_count(provider) == 0:
            self.tx(
                "deregisterProvider", provider, s.hub.deregisterProvider, ghost=lambda: g.deregister_provider(provider)
            )
        self.travel(g.unbonding)
        self.tx("withdraw", provider, s.stake.withdraw, ghost=lambda: g.withdraw(provider), pays=True)
        self.tx(
            "hardInvalidateWork",
            VALIDATOR,
            s.pool.hardInvalidateWork,
            (pool_id, node, key, slash, "fraud after leaving"),
            ghost=lambda: g.hard_invalidate_work(VALIDATOR, pool_id, node, key, slash),
        )
        if not rejoin:
            return
        if not g.provider(provider).registered:
            stake = max(g.minimum(units), 1)
            self.tx(
                "registerProvider",
                provider,
                s.hub.registerProvider,
                value=stake,
                ghost=lambda: g.register_provider(provider, stake),
            )
        top_up = g.minimum(g.total_compute(provider) + units) - g.stake_of(provider)
        if top_up > 0:
            self.tx(
                "increaseStake",
                provider,
                s.hub.increaseStake,
                value=top_up,
                ghost=lambda: g.increase_stake(provider, top_up),
            )
        self.add_node(provider, node, units, sigs.GOOD, 2**256 - 1, "ipfs://specs")
        self.tx("validateNode", VALIDATOR, s.hub.validateNode, (node,), ghost=lambda: g.validate_node(VALIDATOR, node))
        if not g.provider(provider).whitelisted:
            self.tx(
                "whitelistProvider",
                VALIDATOR,
                s.hub.whitelistProvider,
                (provider,),
                ghost=lambda: g.whitelist_provider(VALIDATOR, provider),
            )
        manager = pool.manager if pool.manager in MANAGERS else MANAGERS[0]
        self.join(provider, pool_id, node, manager, sigs.GOOD, 2**256 - 1)
        self.travel(1)
        self.submit(node, pool_id, max(g.capacity(node), 1))

    @step(rule(index=INDEX, units=st.sampled_from([1, 2])))
    def squat_next_key(self, index: int, units: int) -> None:
        """Another node of the pool submits the victim's next work key first (keys are derived
        from public data). Rule R16: the victim's submission under that key then has exactly the
        outcome it has under a key nobody used."""
        g, s = self.ghost, self.s
        node = pick(self.working_nodes(), index)
        if node is None:
            return
        pool_id = g.active_pool_of(node)
        squatters = [n for n in self.working_nodes() if n != node and g.active_pool_of(n) == pool_id]
        if not squatters:
            return
        self.travel(1)
        key = self.submit(pick(squatters, index), pool_id, units)
        amount = max(g.capacity(node), 1)
        outcomes = []
        for candidate in (self.fresh_work_key(), key):
            with boa.env.anchor():
                try:
                    s.pool.submitWork(pool_id, candidate, amount, sender=node)
                    outcomes.append("accepted")
                except BoaError as err:
                    outcomes.append(revert_reason(err))
        check(
            outcomes[0] == outcomes[1],
            "rule:R16",
            f"{node}'s submission of {amount} units is {outcomes[0]!r} under a fresh key but {outcomes[1]!r} "
            "under the key another node used first",
        )
        self.submit(node, pool_id, amount, key)

    @step(rule(index=INDEX, slash=st.sampled_from([1, INJ, 10**30])))
    def slash_dry_then_void(self, index: int, slash: int) -> None:
        """Validators slash a provider until nothing is left, then hard-invalidate its node's open
        work asking for a slash: Rule R7, the work is voided all the same."""
        g, s = self.ghost, self.s
        open_work = sorted(
            k
            for k, w in g.works.items()
            if w.state == WORK_SUBMITTED and g.now <= w.submitted_at + g.pools[k[0]].window
        )
        target = pick(open_work, index)
        if target is None:
            return
        pool_id, node, key = target
        provider = g.works[target].provider
        for _ in range(MAX_PENDING_UNBONDS + 2):
            if g.stake_of(provider) + g.unbonding_of(provider) == 0 or g.slash_cap(provider, 10**30) == 0:
                break
            self.tx(
                "slash",
                VALIDATOR,
                s.hub.slash,
                (provider, 10**30, "dry"),
                ghost=lambda: g.slash(VALIDATOR, provider, 10**30),
            )
        self.tx(
            "hardInvalidateWork",
            VALIDATOR,
            s.pool.hardInvalidateWork,
            (pool_id, node, key, slash, "fraud, nothing left"),
            ghost=lambda: g.hard_invalidate_work(VALIDATOR, pool_id, node, key, slash),
        )

    @step(rule(index=INDEX))
    def work_below_minimum(self, index: int) -> None:
        """A provider is slashed below its minimum; its node then tries to submit (Rule R17)."""
        g, s = self.ghost, self.s
        node = pick(self.working_nodes(), index)
        if node is None:
            return
        provider = g.nodes[node].provider
        if g.slash_cap(provider, 10**30) and g.stake_of(provider) >= g.minimum(g.total_compute(provider)):
            self.tx(
                "slash",
                VALIDATOR,
                s.hub.slash,
                (provider, 10**30, "below minimum"),
                ghost=lambda: g.slash(VALIDATOR, provider, 10**30),
            )
        self.travel(1)
        self.submit(node, g.active_pool_of(node), 1)

    @step(rule(index=INDEX, start_first=st.booleans()))
    def cancel_pending_pool(self, index: int, start_first: bool) -> None:
        """A creator cancels a pool that never started and takes its whole budget back (SPEC 7.1);
        or cancels a running one after starting it."""
        g, s = self.ghost, self.s
        pending = self.pools_with(PENDING)
        pool_id = pick(pending, index) if pending else self.open_pool(pick(self.creators, index))
        if pool_id is None:
            return
        creator = g.pools[pool_id].creator
        if start_first:
            self.tx(
                "startComputePool",
                creator,
                s.pool.startComputePool,
                (pool_id,),
                ghost=lambda: g.start_pool(creator, pool_id),
            )
        self.tx(
            "endComputePool", creator, s.pool.endComputePool, (pool_id,), ghost=lambda: g.end_pool(creator, pool_id)
        )
        self.tx("refund", creator, s.rewards.refund, (pool_id,), ghost=lambda: g.refund(creator, pool_id), pays=True)
