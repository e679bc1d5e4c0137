"""RewardsDistributor: pool budgets, work rewards (locked / claimable / claimed), claims, refunds."""

from __future__ import annotations

from collections.abc import Sequence

from hub.amounts import format_inj
from hub.client.base import ContractBinding, address_arg, key_arg
from hub.client.models import Budget, ClaimResult, Work, WorkInvalidated, WorkState, WorkSubmitted, hex32
from hub.client.results import Refund, TopUp, VoidedRelease, typed
from hub.errors import HubError

# @dev Most work keys per claim or release call (RewardsDistributor.MAX_BATCH).
MAX_BATCH = 64
_ZERO = "0x0000000000000000000000000000000000000000"


class RewardsContract(ContractBinding):
    NAME = "RewardsDistributor"

    # -- reads

    def budget(self, pool_id: int) -> Budget:
        creator, rate, window, funded, refunded, available, committed, paid = self._read("getPoolBudget", pool_id)
        return Budget(
            pool_id=pool_id,
            creator=creator,
            reward_per_unit=rate,
            challenge_window=window,
            funded=funded,
            refunded=refunded,
            available=available,
            committed=committed,
            paid=paid,
        )

    def work(
        self,
        pool_id: int,
        node: str,
        work_key: bytes | str,
        *,
        now: int | None = None,
        reward_per_unit: int | None = None,
    ) -> Work:
        """One work key of `node` (keys are namespaced by node) and its state at `now` (default: the
        latest block's time)."""
        key = key_arg(work_key)
        node, provider, units, submitted_at, state, unlocks_at, voided = self._read(
            "getWork", pool_id, address_arg(node, "node"), key
        )
        now = self.client.now() if now is None else now
        if reward_per_unit is None:
            reward_per_unit = self.budget(pool_id).reward_per_unit
        if state == 0:
            shown = WorkState.NONE
        elif state == 2:
            shown = WorkState.CLAIMED
        elif state == 3:
            shown = WorkState.INVALIDATED
        elif voided:
            shown = WorkState.VOIDED
        else:
            shown = WorkState.CLAIMABLE if now >= unlocks_at else WorkState.LOCKED
        return Work(
            pool_id=pool_id,
            work_key=hex32(key),
            node=None if node == _ZERO else node,
            provider=None if provider == _ZERO else provider,
            units=units,
            reward=units * reward_per_unit,
            submitted_at=submitted_at,
            unlocks_at=unlocks_at if state else 0,
            voided=voided,
            state=shown,
        )

    def work_submitted(
        self,
        pool_id: int | None = None,
        *,
        node: str | None = None,
        provider: str | None = None,
        from_block: int | None = None,
        to_block: int | None = None,
    ) -> list[WorkSubmitted]:
        """WorkSubmitted events, filtered by pool and node (indexed) and provider (client-side). With a
        pool and no blocks given, only the blocks where the pool could accept work (`active_blocks`)."""
        if pool_id is not None and from_block is None and to_block is None:
            span = self.active_blocks(pool_id)
            if span is None:
                return []
            from_block, to_block = span
        filters = {}
        if pool_id is not None:
            filters["poolId"] = pool_id
        if node is not None:
            filters["node"] = address_arg(node, "node")
        want_provider = address_arg(provider, "provider") if provider is not None else None
        found = []
        for event in self._logs("WorkSubmitted", filters, from_block, to_block):
            args = event["args"]
            if want_provider is not None and args["provider"] != want_provider:
                continue
            found.append(WorkSubmitted.from_event(event))
        return found

    def work_events(self, from_block: int, to_block: int) -> tuple[list[WorkSubmitted], list[WorkInvalidated]]:
        """Every WorkSubmitted and WorkInvalidated event in blocks [from_block, to_block], oldest first,
        both read by one eth_getLogs per LOG_CHUNK blocks (a node refuses a longer range: Injective's
        `block-range-cap`). A caller that must answer quickly asks for a short range."""
        submitted: list[WorkSubmitted] = []
        invalidated: list[WorkInvalidated] = []
        for name, event in self._logs_of(("WorkSubmitted", "WorkInvalidated"), from_block, to_block):
            if name == "WorkSubmitted":
                submitted.append(WorkSubmitted.from_event(event))
            else:
                invalidated.append(WorkInvalidated.from_event(event))
        return submitted, invalidated

    def active_blocks(self, pool_id: int, *, unlocked_by: int | None = None) -> tuple[int, int] | None:
        """The blocks [first, last] in which `pool_id` could accept work, or None if it never started:
        the contract accepts work only while the pool is ACTIVE, so from the first block of the
        second it started to the last of the second it ended (or the latest block). With
        `unlocked_by` (a chain time), only up to the last block whose work is past its challenge
        window by then. Found from the pool's times by bisecting block times (`_first_block_at`):
        claiming in a pool then reads the pool's life, not the deployment's."""
        pool = self.reads.pool(pool_id)
        if not pool.started_at:
            return None
        head = self.client.block_number()
        first = self._first_block_at(pool.started_at, self.client.deployment.start_block, head)
        last = head if not pool.ended_at else self._first_block_at(pool.ended_at + 1, first, head) - 1
        if unlocked_by is not None:
            # claimable once now >= unlocksAt = submitted + window + 1 (RewardsDistributor.submitWork)
            window = self.budget(pool_id).challenge_window
            last = min(last, self._first_block_at(unlocked_by - window, first, last) - 1)
        return (first, last) if first <= last else None

    def _first_block_at(self, time: int, low: int, high: int) -> int:
        """The first block in [low, high] whose time is `time` or later (high + 1 if none): block times
        never decrease, so a bisection asks for about log2(high - low) blocks (25 for 30 million)."""
        while low <= high:
            middle = (low + high) // 2
            block = self.client.retry(lambda m=middle: self.client.w3.eth.get_block(m))
            if block["timestamp"] >= time:
                high = middle - 1
            else:
                low = middle + 1
        return low

    def rewards_of(self, provider: str, pool_id: int | None = None, *, unlocked_by: int | None = None) -> list[Work]:
        """Every work key submitted by `provider`'s nodes (optionally in one pool), with its state now.
        With a pool, only the pool's active blocks are read (`active_blocks`, `unlocked_by` passed on);
        without one, every block since the deployment: narrowing that to each pool's blocks would
        cost two bisections of block times per pool (about 50 block reads), as many requests as a
        year of windows once a deployment has had some 60 pools, and the pools' blocks overlap."""
        now = self.client.now()
        rates: dict[int, int] = {}
        works = []
        if pool_id is not None:
            span = self.active_blocks(pool_id, unlocked_by=unlocked_by)
            if span is None:
                return []
            events = self.work_submitted(pool_id, provider=provider, from_block=span[0], to_block=span[1])
        else:
            events = self.work_submitted(provider=provider)
        for event in events:
            if event.pool_id not in rates:
                rates[event.pool_id] = self.budget(event.pool_id).reward_per_unit
            works.append(
                self.work(event.pool_id, event.node, event.work_key, now=now, reward_per_unit=rates[event.pool_id])
            )
        return works

    # -- provider: claim

    def claim(
        self, pool_id: int, work_keys: Sequence[bytes | str] | None = None, *, node: str | None = None
    ) -> ClaimResult:
        """Claim rewards in `pool_id` for the signer (a provider): the given work keys (of `node`, or
        of whichever of the signer's nodes submitted them, from the logs), or every claimable one
        found in the WorkSubmitted logs of the pool's active blocks up to the last whose work has
        unlocked (`active_blocks`). Sent per node, in batches of 64."""
        me = self.client.address
        if work_keys is None:
            unlocked = self.rewards_of(me, pool_id, unlocked_by=self.client.now())
            pairs = [(w.node, w.work_key) for w in unlocked if w.state == WorkState.CLAIMABLE]
            if not pairs:
                raise HubError(
                    f"nothing to claim in pool {pool_id} for {me}",
                    hint="`hub rewards` shows what is locked and when it unlocks",
                )
        else:
            keys = [hex32(key_arg(k)) for k in work_keys]
            if not keys:
                raise HubError("no work keys given")
            pairs = [(address_arg(node, "node"), k) for k in keys] if node else self._pairs_of(pool_id, keys, me)
        return self._claim_pairs(pool_id, pairs)

    def _claim_pairs(self, pool_id: int, pairs: list[tuple[str, str]]) -> ClaimResult:
        """Claim the (node, key) pairs in `pool_id`: one call per node and batch of 64 keys."""
        total = fee = 0
        hashes = []
        for by_node, keys_of_node in _by_node(pairs).items():
            for start in range(0, len(keys_of_node), MAX_BATCH):
                batch = [key_arg(k) for k in keys_of_node[start : start + MAX_BATCH]]
                result = self._send("claimRewards", pool_id, by_node, batch, action="claim rewards")
                events = self._events(result, "RewardsClaimed")
                total += int(events[0]["args"]["amount"]) if events else 0
                hashes.append(result.tx_hash)
                fee += result.fee
        keys = [k for _, k in pairs]
        return ClaimResult(pool_id=pool_id, amount=total, work_keys=keys, tx_hashes=hashes, fee=fee)

    def _pairs_of(self, pool_id: int, keys: list[str], provider: str) -> list[tuple[str, str]]:
        """(node, key) for each of `keys` submitted in `pool_id` by a node of `provider`."""
        wanted = set(keys)
        pairs = [(e.node, e.work_key) for e in self.work_submitted(pool_id, provider=provider) if e.work_key in wanted]
        missing = wanted - {k for _, k in pairs}
        if missing:
            raise HubError(
                f"work key {sorted(missing)[0]} was not submitted in pool {pool_id} by a node of {provider}",
                hint="`hub rewards` lists your work keys; --node names the node that submitted it",
            )
        return pairs

    def claim_all(self) -> list[ClaimResult]:
        """Claim everything claimable for the signer, pool by pool, from one read of the logs since
        the deployment (`rewards_of`): each pool's claim reads no logs again."""
        me = self.client.address
        claimable: dict[int, list[tuple[str, str]]] = {}
        for w in self.rewards_of(me):
            if w.state == WorkState.CLAIMABLE:
                claimable.setdefault(w.pool_id, []).append((w.node, w.work_key))
        if not claimable:
            raise HubError(f"nothing to claim for {me}", hint="`hub rewards` shows what is locked and when it unlocks")
        return [self._claim_pairs(pool_id, claimable[pool_id]) for pool_id in sorted(claimable)]

    # -- anyone: release voided work

    def release_voided(
        self, pool_id: int, work_keys: Sequence[bytes | str] | None = None, *, node: str | None = None
    ) -> VoidedRelease:
        """Return the rewards of one node's voided work to the pool's budget (up to 64 keys per call;
        call again for more). Without keys, the first node with voided work
        found in the logs, and its voided keys."""
        if work_keys is None:
            now = self.client.now()
            rate = self.budget(pool_id).reward_per_unit
            voided = [
                (e.node, e.work_key)
                for e in self.work_submitted(pool_id, node=node)
                if self.work(pool_id, e.node, e.work_key, now=now, reward_per_unit=rate).state == WorkState.VOIDED
            ]
            if voided:
                node = voided[0][0]
            work_keys = [k for n, k in voided if n == node]
        elif node is None:
            raise HubError("name the node whose voided work to release", hint="--node ADDRESS")
        if not work_keys:
            raise HubError(f"no voided work to release in pool {pool_id}")
        batch = [key_arg(k) for k in work_keys[:MAX_BATCH]]
        result = self._send(
            "releaseVoidedWork", pool_id, address_arg(node, "node"), batch, action="release voided work"
        )
        released = self._event(result, "VoidedWorkReleased")
        return typed(
            result, VoidedRelease, pool_id=released["poolId"], count=released["count"], amount=released["amount"]
        )

    # -- pool creator: top up, refund

    def top_up(self, pool_id: int, amount: int) -> TopUp:
        if amount <= 0:
            raise HubError("the top-up must be more than zero", hint="e.g. 10 (INJ)")
        self._require_creator(pool_id)
        result = self._send("topUp", pool_id, value=amount, action="top up pool")
        topped = self._event(result, "PoolToppedUp")
        return typed(result, TopUp, pool_id=topped["poolId"], amount=topped["amount"], available=topped["available"])

    def refund(self, pool_id: int) -> Refund:
        """Return the ended pool's unused budget to its creator."""
        budget = self._require_creator(pool_id)
        if budget.available == 0:
            raise HubError(f"pool {pool_id} has no unused budget to refund ({format_inj(budget.available)})")
        result = self._send("refund", pool_id, action="refund budget")
        refunded = self._event(result, "BudgetRefunded")
        return typed(result, Refund, pool_id=refunded["poolId"], creator=refunded["creator"], amount=refunded["amount"])

    def _require_creator(self, pool_id: int) -> Budget:
        self.reads.pool(pool_id)  # a one-line error for an unknown pool
        budget = self.budget(pool_id)
        if budget.creator != self.client.address:
            raise HubError(
                f"{self.client.address} is not the creator of pool {pool_id} ({budget.creator} is)",
                hint="use the account that created the pool",
            )
        return budget


def _by_node(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    """(node, key) pairs grouped by node, in first-seen order: a claim call takes one node's keys."""
    grouped: dict[str, list[str]] = {}
    for node, key in pairs:
        grouped.setdefault(node, []).append(key)
    return grouped
