"""ComputePool: pool life cycle, invites, membership, work submission and invalidation."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hub.client.base import ContractBinding, address_arg, key_arg
from hub.client.models import NodeMembership, Pool, PoolInvite, PoolStatus, hex32
from hub.client.results import (
    ManagerChange,
    NodeBlacklisting,
    NodeJoin,
    NodeLeave,
    PoolCreation,
    PoolStatusChange,
    ProviderBarring,
    SubmittedWork,
    WorkInvalidation,
    typed,
)
from hub.errors import HubError

if TYPE_CHECKING:
    from hub.metadata import PublishedMetadata
    from hub.tx import TxResult

# @dev Longest challenge window a pool may set (ComputePool.MAX_CHALLENGE_WINDOW).
MAX_CHALLENGE_WINDOW = 30 * 86400
# @dev Most nodes per blacklistProvider call (ComputePool.MAX_BATCH).
MAX_BATCH = 64
# @dev Default life of an invite.
DEFAULT_INVITE_SECONDS = 24 * 3600


def make_work_key(pool_id: int, peer_id: str, epoch: int) -> str:
    """A work key bound to (pool, peer, epoch): keccak256(abi.encode(uint256, string, uint256))."""
    from eth_abi import encode
    from eth_utils import keccak

    return hex32(keccak(encode(["uint256", "string", "uint256"], [pool_id, peer_id, epoch])))


class PoolContract(ContractBinding):
    NAME = "ComputePool"

    # -- reads

    def count(self) -> int:
        return self._read("poolCount")

    def get(self, pool_id: int) -> Pool:
        """Pool `pool_id`; a HubError if it does not exist."""
        raw = self._read("getPool", pool_id)
        if raw[1] == "0x0000000000000000000000000000000000000000":
            raise HubError(f"no pool {pool_id}", hint="`hub pool list` shows the pools")
        return _pool(pool_id, raw)

    def list(self) -> list[Pool]:
        return [self.get(i) for i in range(1, self.count() + 1)]

    def metadata(self, pool_id: int, *, timeout_s: float = 30.0) -> bytes:
        """The pool's metadata bytes, fetched from its URI and verified against its hash."""
        from hub.metadata import fetch_metadata

        pool = self.get(pool_id)
        return fetch_metadata(pool.metadata_uri, pool.metadata_hash, timeout_s=timeout_s)

    def active_pool_of(self, node: str) -> int:
        """The pool `node` is in (0: none; a completed pool counts as none)."""
        return self._read("activePoolOf", address_arg(node, "node"))

    def invite_nonce(self, node: str) -> int:
        return self._read("inviteNonce", address_arg(node, "node"))

    def last_work_at(self, node: str) -> int:
        return self._read("lastWorkAt", address_arg(node, "node"))

    def members(self, pool_id: int, provider: str | None = None) -> list[str]:
        """Nodes in the pool now (optionally only `provider`'s), found from NodeJoined logs."""
        filters: dict[str, Any] = {"poolId": pool_id}
        if provider is not None:
            filters["provider"] = address_arg(provider, "provider")
        joined = dict.fromkeys(e["args"]["node"] for e in self._logs("NodeJoined", filters))
        return [node for node in joined if self.active_pool_of(node) == pool_id]

    def membership(self, pool_id: int, node: str) -> NodeMembership:
        """Everything that decides whether `node` can submit work in `pool_id`."""
        node = address_arg(node, "node")
        record = self.reads.node(node)
        provider = self.reads.provider(record.provider) if record.provider else None
        raw = self._read("getPool", pool_id)
        return NodeMembership(
            pool_id=pool_id,
            node=node,
            provider=record.provider,
            registered=record.provider is not None,
            validated=record.validated,
            provider_whitelisted=bool(provider and provider.whitelisted),
            provider_blacklisted=bool(provider and provider.blacklisted),
            pool_status=PoolStatus.from_flag(raw[4]),
            in_pool=self.active_pool_of(node) == pool_id,
        )

    def require_ready(self, pool_id: int, node: str) -> NodeMembership:
        """`membership`, or a HubError naming the first thing that stops `node` submitting work."""
        membership = self.membership(pool_id, node)
        problems = membership.problems()
        if problems:
            problem, fix = problems[0]
            raise HubError(problem, hint=fix)
        return membership

    # -- pool life cycle

    def create(
        self,
        domain_id: int,
        metadata: PublishedMetadata,
        *,
        budget: int,
        reward_per_unit: int,
        challenge_window: int,
        compute_limit: int = 0,
        manager: str | None = None,
    ) -> PoolCreation:
        """Create a pool funded with `budget` wei."""
        self.reads.domain(domain_id)  # a one-line error for an unknown domain
        if reward_per_unit <= 0:
            raise HubError("the reward per unit must be more than zero", hint="e.g. --reward-per-unit 1000wei")
        if budget <= 0:
            raise HubError("the pool needs a budget of more than zero", hint="e.g. --budget 10 (INJ)")
        if not 0 < challenge_window <= MAX_CHALLENGE_WINDOW:
            raise HubError(
                f"the challenge window must be 1 s to 30 days, got {challenge_window} s",
                hint="e.g. --challenge-window 1h",
            )
        unbonding = self.reads.unbonding_period()
        if challenge_window >= unbonding:
            # docs/SPEC.md 7.1: the stake behind work must outlast the work's window
            raise HubError(
                f"the challenge window ({challenge_window} s) must be shorter than the unbonding period "
                f"({unbonding} s)",
                hint=f"e.g. --challenge-window {max(unbonding // 2, 1)}s",
            )
        if compute_limit < 0:
            raise HubError("the compute limit cannot be negative", hint="0 means no limit")
        manager = address_arg(manager, "manager") if manager else self.client.address
        result = self._send(
            "createComputePool",
            domain_id,
            manager,
            metadata.uri,
            metadata.hash,
            compute_limit,
            reward_per_unit,
            challenge_window,
            value=budget,
            action="create pool",
        )
        created = self._event(result, "PoolCreated")
        funded = self._event(result, "PoolFunded", contract="RewardsDistributor")
        return typed(
            result,
            PoolCreation,
            pool_id=created["poolId"],
            domain_id=created["domainId"],
            creator=created["creator"],
            manager=created["manager"],
            compute_limit=created["computeLimit"],
            budget=funded["amount"],
            reward_per_unit=funded["rewardPerUnit"],
            challenge_window=funded["challengeWindow"],
        )

    def _require_creator(self, pool_id: int, status: PoolStatus | None = None) -> Pool:
        pool = self.get(pool_id)
        if pool.creator != self.client.address:
            raise HubError(
                f"{self.client.address} is not the creator of pool {pool_id} ({pool.creator} is)",
                hint="use the account that created the pool",
            )
        if status is not None and pool.status != status:
            raise HubError(
                f"pool {pool_id} is {pool.status.value}, not {status.value}", hint=f"`hub pool show {pool_id}`"
            )
        return pool

    def _require_manager(self, pool_id: int) -> Pool:
        pool = self.get(pool_id)
        if self.client.address not in (pool.manager, pool.creator):
            raise HubError(
                f"{self.client.address} is not the manager or creator of pool {pool_id}",
                hint=f"use the manager account ({pool.manager})",
            )
        return pool

    def start(self, pool_id: int) -> PoolStatusChange:
        self._require_creator(pool_id, PoolStatus.PENDING)
        return self._status_change(self._send("startComputePool", pool_id, action="start pool"))

    def _status_change(self, result: TxResult) -> PoolStatusChange:
        changed = self._event(result, "PoolStatusChanged")
        return typed(
            result, PoolStatusChange, pool_id=changed["poolId"], status=PoolStatus.from_flag(changed["status"])
        )

    def end(self, pool_id: int) -> PoolStatusChange:
        """End an ACTIVE pool, or cancel a PENDING one (its whole budget becomes refundable)."""
        pool = self._require_creator(pool_id)
        if pool.status not in (PoolStatus.PENDING, PoolStatus.ACTIVE):
            raise HubError(f"pool {pool_id} has already ended", hint=f"`hub pool show {pool_id}`")
        return self._status_change(self._send("endComputePool", pool_id, action="end pool"))

    def set_manager(self, pool_id: int, manager: str) -> ManagerChange:
        self._require_creator(pool_id)
        result = self._send("setPoolManager", pool_id, address_arg(manager, "manager"), action="set pool manager")
        changed = self._event(result, "PoolManagerChanged")
        return typed(result, ManagerChange, pool_id=changed["poolId"], manager=changed["manager"])

    # -- membership

    def invite(self, pool_id: int, node: str, *, deadline: int | None = None) -> PoolInvite:
        """The signer (the pool's manager) invites `node`; valid until `deadline` (default: 24 h from now)."""
        from hub import signatures

        node = address_arg(node, "node")
        pool = self.get(pool_id)
        if pool.status not in (PoolStatus.PENDING, PoolStatus.ACTIVE):
            raise HubError(f"pool {pool_id} has ended: it takes no new nodes")
        if pool.manager != self.client.address:
            raise HubError(
                f"only the pool's manager {pool.manager} can sign invites, not {self.client.address}",
                hint="sign with the manager account, or the creator sets you as manager (`hub pool set-manager`)",
            )
        if deadline is None:
            deadline = self.client.now() + DEFAULT_INVITE_SECONDS
        nonce = self.invite_nonce(node)
        typed = signatures.pool_invite(self.client.chain_id, self.address, pool_id, node, nonce, deadline)
        return PoolInvite(
            chain_id=self.client.chain_id,
            pool_contract=self.address,
            pool_id=pool_id,
            node=node,
            nonce=nonce,
            deadline=deadline,
            signature=self.client.sign_typed(typed),
        )

    def join(self, invite: PoolInvite) -> NodeJoin:
        """Join the invited node; the signer is the node key or its provider."""
        if invite.chain_id != self.client.chain_id or invite.pool_contract != self.address:
            raise HubError(
                f"the invite is for chain {invite.chain_id} and pool contract {invite.pool_contract}, "
                "not this deployment",
                hint="ask the pool manager for an invite on this network",
            )
        if invite.deadline < self.client.now():
            raise HubError(
                f"the invite to pool {invite.pool_id} has expired", hint="ask the pool manager for a new one"
            )
        if invite.nonce != self.invite_nonce(invite.node):
            raise HubError("the invite was already used", hint="ask the pool manager for a new one")
        owner = self.reads.node(invite.node).provider
        if self.client.address not in (invite.node, owner):
            raise HubError(
                f"the invite is for node {invite.node}: sign with that node key or its provider",
                hint="pass --account of the node key or of its provider",
            )
        signature = bytes.fromhex(invite.signature.removeprefix("0x"))
        result = self._send(
            "joinComputePool", invite.pool_id, invite.node, invite.deadline, signature, action="join pool"
        )
        joined = self._event(result, "NodeJoined")
        return typed(
            result,
            NodeJoin,
            pool_id=joined["poolId"],
            node=joined["node"],
            provider=joined["provider"],
            compute_units=joined["computeUnits"],
        )

    def _left(self, result: TxResult) -> NodeLeave:
        left = self._event(result, "NodeLeft")
        return typed(
            result,
            NodeLeave,
            pool_id=left["poolId"],
            node=left["node"],
            provider=left["provider"],
            compute_units=left["computeUnits"],
            reason=left["reason"],
        )

    def leave(self, pool_id: int, node: str | None = None) -> NodeLeave:
        """Take `node` (default: the signer, a node key) out of the pool."""
        node = address_arg(node, "node") if node else self.client.address
        return self._left(self._send("leaveComputePool", pool_id, node, action="leave pool"))

    def eject(self, pool_id: int, node: str) -> NodeLeave:
        self._require_manager(pool_id)
        return self._left(self._send("ejectNode", pool_id, address_arg(node, "node"), action="eject node"))

    def blacklist_node(self, pool_id: int, node: str) -> NodeBlacklisting:
        """Bar `node` from the pool, and take it out if it is a member."""
        self._require_manager(pool_id)
        result = self._send("blacklistNode", pool_id, address_arg(node, "node"), action="blacklist node")
        barred = self._event(result, "NodeBlacklisted")
        left = bool(self._events(result, "NodeLeft"))
        return typed(result, NodeBlacklisting, pool_id=barred["poolId"], node=barred["node"], left=left)

    def blacklist_provider(self, pool_id: int, provider: str, nodes: list[str] | None = None) -> ProviderBarring:
        """Bar `provider` from the pool and remove its nodes (found from the logs unless given)."""
        self._require_manager(pool_id)
        provider = address_arg(provider, "provider")
        members = self.members(pool_id, provider) if nodes is None else [address_arg(n, "node") for n in nodes]
        if len(members) > MAX_BATCH:
            raise HubError(
                f"the provider has {len(members)} nodes in the pool; at most {MAX_BATCH} per call",
                hint="eject some with `hub pool eject` first",
            )
        result = self._send("blacklistProvider", pool_id, provider, members, action="blacklist provider")
        barred = self._event(result, "ProviderBlacklisted")
        return typed(
            result,
            ProviderBarring,
            pool_id=barred["poolId"],
            provider=barred["provider"],
            nodes_removed=barred["nodesRemoved"],
        )

    def release_blacklisted_node(self, node: str) -> NodeLeave:
        """Anyone: take a node of a network-blacklisted provider out of its pool (docs/SPEC.md 3.4)."""
        return self._left(
            self._send("releaseBlacklistedNode", address_arg(node, "node"), action="release blacklisted node")
        )

    # -- work

    def submit_work(self, pool_id: int, work_key: bytes | str, units: int) -> SubmittedWork:
        """Submit `units` of work under `work_key`, signed by the node key; the result carries the
        reward it locked and when that unlocks."""
        if units <= 0:
            raise HubError("work units must be more than zero")
        result = self._send("submitWork", pool_id, key_arg(work_key), units, action="submit work")
        return SubmittedWork.from_event(result, self._event(result, "WorkSubmitted", contract="RewardsDistributor"))

    def _invalidation(self, result: TxResult) -> WorkInvalidation:
        work = self._event(result, "WorkInvalidated", contract="RewardsDistributor")
        slashed = self._events(result, "Slashed", contract="StakeManager")
        return WorkInvalidation.from_event(result, work, slashed=slashed[0]["args"]["slashed"] if slashed else 0)

    def invalidate_work(self, pool_id: int, node: str, work_key: bytes | str) -> WorkInvalidation:
        """Soft invalidation (a validator or the pool's manager) of `node`'s work key: the work's
        reward returns to the budget."""
        return self._invalidation(
            self._send(
                "invalidateWork", pool_id, address_arg(node, "node"), key_arg(work_key), action="invalidate work"
            )
        )

    def hard_invalidate_work(
        self, pool_id: int, node: str, work_key: bytes | str, *, slash_amount: int = 0, reason: str = ""
    ) -> WorkInvalidation:
        """Hard invalidation (a validator, for fraud) of `node`'s work key: voids the node's locked
        rewards in the pool, ejects and bars the node, and slashes its provider `slash_amount`, or all
        it holds if less (not capped by the stake minimum, SPEC 3.3)."""
        if slash_amount < 0:
            raise HubError("the slash amount cannot be negative")
        if len(reason.encode()) > 128:
            raise HubError("the reason is longer than 128 bytes", hint="shorten --reason")
        result = self._send(
            "hardInvalidateWork",
            pool_id,
            address_arg(node, "node"),
            key_arg(work_key),
            slash_amount,
            reason,
            action="hard-invalidate work",
        )
        return self._invalidation(result)


def _pool(pool_id: int, raw: tuple) -> Pool:
    (domain, creator, manager, logic, status, limit, total, mhash, created, started, ended, uri) = raw
    return Pool(
        pool_id=pool_id,
        domain_id=domain,
        creator=creator,
        manager=manager,
        validation_logic=logic,
        status=PoolStatus.from_flag(status),
        compute_limit=limit,
        total_compute=total,
        metadata_hash=hex32(mhash),
        metadata_uri=uri,
        created_at=created,
        started_at=started,
        ended_at=ended,
    )
