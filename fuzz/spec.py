"""The rules of docs/SPEC.md ("Rule R<n>:" lines), checked against what the chain did, independently
of the ghost.

The ghost (fuzz/ghost.py) predicts every call's exact outcome, and a ghost written by reading the
code agrees with the code's bugs. The book below predicts nothing and never reads the ghost: it
learns only from calls that succeeded on chain (arguments, value, return value) and from chain
reads taken just before a call (or just after one that reverted, which changed nothing), keeps its
own record of when each pool was ACTIVE and each node a member, and after every call checks the
rules that bound money. A failure is tagged
`[rule:R<n>]` and is checked before the ghost's comparison, so a mutant that breaks a money rule is
reported as killed by that rule. R16 (no node blocks another) and R13's cancellation are checked by
differential moves in fuzz/rules.py (AdversaryRules); the rules on balances, claims and registry
consistency (R1-R3, R9, R14, R19) by the machine's invariants.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from eth_utils import keccak

VALIDATOR_ROLE = keccak(text="VALIDATOR_ROLE")
PENDING_STATUS = 1

# The calls after which a node may have left its pool (SPEC 7.2: leave, eject, blacklists, the hub
# removing, invalidating or blacklisting it, anyone releasing a blacklisted provider's node, fraud,
# the pool's end, and a join elsewhere after the pool completed).
LEAVING = {
    "leaveComputePool",
    "ejectNode",
    "blacklistNode",
    "blacklistProvider(pool)",
    "blacklistProvider",
    "releaseBlacklistedNode",
    "removeComputeNode",
    "invalidateNode",
    "hardInvalidateWork",
    "endComputePool",
    "joinComputePool",
}

MAX_MIN_STAKE_PER_COMPUTE_UNIT = 10_000 * 10**18  # SPEC 3.2
MAX_PENDING_UNBONDS = 16  # SPEC 5.2

# The rules the book checks, as docs/SPEC.md states them (abridged).
RULES = {
    "R4": "minStakePerComputeUnit <= MAX_MIN_STAKE_PER_COMPUTE_UNIT",
    "R5": "a registered provider with no nodes can always deregister, unless its unbond queue is full (SPEC 5.2)",
    "R6": "a slash takes at most min(requested, minimum, held); a hard invalidation exactly min(requested, held)",
    "R7": "a hard invalidation inside the window always voids, stake or no stake",
    "R8": "after blacklistProvider(p, nodes), none of nodes is in a pool",
    "R10": "a blacklisted address is never registered again; a re-registered provider is not whitelisted",
    "R11": "an unbond never matures before now + UNBONDING_PERIOD",
    "R12": "every pool's window is shorter than the unbonding period, so stake behind work outlasts it",
    "R13": "a PENDING pool can be cancelled by its creator (PENDING -> COMPLETED)",
    "R15": "accepted units <= rate x compute units x seconds the pool was ACTIVE and the node a member",
    "R16": "one node's submissions never make another node's submission fail",
    "R17": "no work from a provider below its minimum stake or blacklisted",
    "R18": "committed rewards never exceed funded - refunded; a pool's budget is never zero",
}


class RuleBroken(AssertionError):
    pass


def broken(rule: str, message: str) -> None:
    raise RuleBroken(f"[rule:{rule}] {RULES[rule]}: {message}")


@dataclass
class Membership:
    start: int
    units: int
    end: int | None = None


@dataclass
class Work:
    provider: str
    reward: int
    submitted_at: int
    window: int
    state: str = "open"  # open, invalidated (soft or hard), released (voided, budget back), claimed


@dataclass
class PoolBook:
    logic: str
    window: int
    reward_per_unit: int
    funded: int
    refunded: int = 0
    started: int | None = None
    ended: int | None = None


@dataclass
class Book:
    """What the chain was seen to do, and the rules over it."""

    s: Any  # the deployed system
    unbonding: int
    rates: dict  # validation contract -> units per compute unit per second (deployment parameters)
    pools: dict = field(default_factory=dict)
    members: dict = field(default_factory=dict)  # (pool, node) -> [Membership]
    accepted: dict = field(default_factory=dict)  # (pool, node) -> units
    works: dict = field(default_factory=dict)  # (pool, node, key) -> Work

    # -- chain reads before a call --------------------------------------------------------------
    # Only what a rule needs to judge a success is read before the call: a call that reverts changes
    # nothing, so what a rule needs to judge a revert is read after it, and only when one happens.

    def before(self, name: str, sender: str, args: tuple) -> dict:
        s = self.s
        if name == "submitWork":
            provider = str(s.registry.getNode(sender).provider)
            return dict(provider=provider, **self._standing(provider, held=False))
        if name in ("withdraw", "reclaimStake", "deregisterProvider"):
            return dict(queue=self._queue(sender))
        if name == "hardInvalidateWork":
            work = self.works.get(tuple(args[:3]))
            return dict(held=self._held(work.provider if work is not None else sender))
        if name == "slash":
            return self._standing(args[0], held=True)
        if name == "registerProvider":
            return dict(blacklisted=s.registry.getProvider(sender).blacklisted)
        return {}

    def _queue(self, account: str) -> list[tuple]:
        return [tuple(e) for e in self.s.stake.pendingUnbonds(account)]

    def _held(self, provider: str) -> int:
        """Active stake plus every pending unbond: all a slash can reach."""
        return self.s.stake.stakeOf(provider) + sum(amount for amount, _ in self._queue(provider))

    def _standing(self, provider: str, held: bool) -> dict:
        """A provider's stake, its minimum by the SPEC 3.2 formula, its blacklist bit, and (if asked)
        what it holds in all."""
        s = self.s
        record = s.registry.getProvider(provider)
        stake = s.stake.stakeOf(provider)
        out = dict(
            stake=stake,
            minimum=(record.totalCompute + 1) * s.hub.minStakePerComputeUnit(),
            blacklisted=record.blacklisted,
        )
        if held:
            out["held"] = self._held(provider)
        return out

    # -- after a call ---------------------------------------------------------------------------

    def after(
        self, name: str, sender: str, args: tuple, value: int, pre: dict, result: Any, reason: str | None, now: int
    ) -> None:
        if reason is not None:
            if name == "hardInvalidateWork":
                self._void_never_reverts(sender, args, reason, now)
            if name == "deregisterProvider":
                record = self.s.registry.getProvider(sender)
                if record.registered and record.nodeCount == 0 and not self._queue_full(pre, now):
                    broken("R5", f"{sender} (registered, no nodes) could not deregister: {reason!r}")
            if name == "endComputePool":
                pool = self.s.pool.getPool(args[0])
                if pool.status == PENDING_STATUS and str(pool.creator) == sender:
                    broken("R13", f"the creator could not cancel PENDING pool {args[0]}: {reason!r}")
            return
        handler = getattr(self, f"_on_{name}", None)
        if handler is not None:
            handler(sender, args, value, pre, result, now)
        if name in LEAVING:
            self._close_memberships(now)

    def _queue_full(self, pre: dict, now: int) -> bool:
        """SPEC 5.2: a full queue asks the provider to withdraw first, unless this second's unbond
        merges into the newest entry (a full exit right after a partial one)."""
        queue = pre["queue"]
        return len(queue) >= MAX_PENDING_UNBONDS and queue[-1][1] != now + self.unbonding

    def _close_memberships(self, now: int) -> None:
        """A membership ends when the chain says the node is no longer in the pool after one of the
        calls SPEC 7.2 lists as a way out; ending late would only loosen R15, never tighten it."""
        for (pool_id, node), spans in self.members.items():
            if spans[-1].end is None and self.s.pool.activePoolOf(node) != pool_id:
                spans[-1].end = now

    def _on_setStakeMinimum(self, sender, args, value, pre, result, now) -> None:
        if self.s.hub.minStakePerComputeUnit() > MAX_MIN_STAKE_PER_COMPUTE_UNIT:
            broken("R4", f"the minimum is now {self.s.hub.minStakePerComputeUnit()}")

    def _on_registerProvider(self, sender, args, value, pre, result, now) -> None:
        if pre["blacklisted"] or self.s.registry.getProvider(sender).whitelisted:
            broken("R10", f"{sender} registered (blacklisted before: {pre['blacklisted']}) and is whitelisted")

    def _unbonded(self, sender, args, value, pre, result, now) -> None:
        queue = [tuple(e) for e in self.s.stake.pendingUnbonds(sender)]
        # the entry this call created or merged into is the newest one, if the queue changed at all
        if queue != pre["queue"] and queue and queue[-1][1] < now + self.unbonding:
            broken("R11", f"{sender} unbonded at t={now}, maturing at {queue[-1][1]}")

    _on_reclaimStake = _unbonded
    _on_deregisterProvider = _unbonded

    def _on_slash(self, sender, args, value, pre, result, now) -> None:
        bound = min(args[1], pre["minimum"], pre["held"])
        if result > bound:
            broken("R6", f"slash took {result}; requested {args[1]}, cap {pre['minimum']}, held {pre['held']}")

    def _on_createComputePool(self, sender, args, value, pre, result, now) -> None:
        window = args[6]
        if value == 0:
            broken("R18", f"pool {result} was created with a zero budget")
        if window >= self.unbonding:
            broken("R12", f"pool {result} has window {window} >= unbonding period {self.unbonding}")
        logic = str(self.s.pool.getPool(result).validationLogic)
        self.pools[result] = PoolBook(logic=logic, window=window, reward_per_unit=args[5], funded=value)

    def _on_topUp(self, sender, args, value, pre, result, now) -> None:
        self.pools[args[0]].funded += value

    def _on_refund(self, sender, args, value, pre, result, now) -> None:
        self.pools[args[0]].refunded += result
        self._budget(args[0])

    def _on_startComputePool(self, sender, args, value, pre, result, now) -> None:
        self.pools[args[0]].started = now

    def _on_endComputePool(self, sender, args, value, pre, result, now) -> None:
        pool = self.pools[args[0]]
        if pool.started is not None:
            pool.ended = now

    def _on_joinComputePool(self, sender, args, value, pre, result, now) -> None:
        pool_id, node = args[0], args[1]
        units = self.s.registry.getNode(node).computeUnits
        self.members.setdefault((pool_id, node), []).append(Membership(start=now, units=units))

    def _on_submitWork(self, sender, args, value, pre, result, now) -> None:
        pool_id, key, units = args
        pool = self.pools[pool_id]
        spans = self.members.get((pool_id, sender), [])
        if not (spans and spans[-1].end is None and pool.started is not None and pool.ended is None):
            broken("R15", f"{sender} submitted to pool {pool_id} at t={now} without being a member of it while ACTIVE")
        if pre["stake"] < pre["minimum"] or pre["blacklisted"]:
            broken(
                "R17",
                f"{sender} submitted at t={now}: provider stake {pre['stake']}, minimum {pre['minimum']}, "
                f"blacklisted {pre['blacklisted']}",
            )
        total = self.accepted.get((pool_id, sender), 0) + units
        self.accepted[(pool_id, sender)] = total
        cap = self.cap(pool_id, sender, now)
        if total > cap:
            broken("R15", f"{sender} has {total} units accepted in pool {pool_id}, its active membership allows {cap}")
        self.works[(pool_id, sender, key)] = Work(pre["provider"], units * pool.reward_per_unit, now, pool.window)
        self._budget(pool_id)

    def cap(self, pool_id: int, node: str, now: int) -> int:
        """compute units x rate x seconds in which the pool was ACTIVE and the node a member."""
        pool = self.pools[pool_id]
        if pool.started is None:
            return 0
        active_end = pool.ended if pool.ended is not None else now
        total = 0
        for span in self.members.get((pool_id, node), []):
            end = span.end if span.end is not None else now
            seconds = max(min(end, active_end) - max(span.start, pool.started), 0)
            total += span.units * self.rates[pool.logic] * seconds
        return total

    def _on_invalidateWork(self, sender, args, value, pre, result, now) -> None:
        self.works[tuple(args[:3])].state = "invalidated"

    def _on_hardInvalidateWork(self, sender, args, value, pre, result, now) -> None:
        self.works[tuple(args[:3])].state = "invalidated"
        if result != min(args[3], pre["held"]):
            broken("R6", f"hard invalidation took {result}; requested {args[3]}, held {pre['held']}")

    def _on_releaseVoidedWork(self, sender, args, value, pre, result, now) -> None:
        for key in args[2]:
            self.works[(args[0], args[1], key)].state = "released"

    def _on_claimRewards(self, sender, args, value, pre, result, now) -> None:
        for key in args[2]:
            self.works[(args[0], args[1], key)].state = "claimed"

    def _budget(self, pool_id: int) -> None:
        pool = self.pools[pool_id]
        committed = sum(w.reward for k, w in self.works.items() if k[0] == pool_id and w.state in ("open", "claimed"))
        if committed > pool.funded - pool.refunded:
            broken("R18", f"pool {pool_id}: {committed} committed, funded {pool.funded} - refunded {pool.refunded}")

    def _on_withdraw(self, sender, args, value, pre, result, now) -> None:
        """SPEC 7.1: stake active when a work was submitted stays in custody for the work's whole
        window. So every unbond paid now began (maturity - unbonding period) before the provider's
        oldest work that is still challengeable and not invalidated."""
        open_since = [
            w.submitted_at
            for w in self.works.values()
            if w.provider == sender and w.state == "open" and now <= w.submitted_at + w.window
        ]
        if not open_since:
            return
        for amount, maturity in pre["queue"]:
            if maturity <= now and maturity - self.unbonding >= min(open_since):
                broken(
                    "R12",
                    f"{sender} withdrew {amount} unbonded at t={maturity - self.unbonding} at t={now}, while its "
                    f"work of t={min(open_since)} is challengeable",
                )

    def _on_blacklistProvider(self, sender, args, value, pre, result, now) -> None:
        provider, nodes = args
        for node in nodes:
            if self.s.pool.activePoolOf(node):
                broken("R8", f"{node} of blacklisted {provider} is still in pool {self.s.pool.activePoolOf(node)}")

    def _void_never_reverts(self, sender: str, args: tuple, reason: str, now: int) -> None:
        key, slash = tuple(args[:3]), args[3]
        work = self.works.get(key)
        if work is None or work.state != "open" or now > work.submitted_at + work.window:
            return
        hub = self.s.hub
        if hub.hasRole(VALIDATOR_ROLE, sender) and (slash == 0 or str(hub.treasury()) != sender):
            broken("R7", f"hard invalidation of {key} at t={now} reverted: {reason!r}")
