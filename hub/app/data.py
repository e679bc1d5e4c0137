"""What the page shows, read from the chain through the client: the network snapshot, one
account's own view, the wallet's network settings and a sent transaction's state. JSON-ready; amounts
in wei as decimal strings (JSON numbers lose precision)."""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from hub.errors import HubError

if TYPE_CHECKING:
    from hub.app.history import History
    from hub.client import HubClient
    from hub.client.models import Node, Work, WorkSubmitted


class Overview:
    """The network snapshot the page polls, rebuilt at most once per block while the history is
    complete (and on each poll while older blocks are still being read). Events come from one
    `History` for the server's life: a rebuild reads only blocks not read before, and on a long-lived
    deployment each poll reads older blocks for a bounded time (`hub.app.history`). Reads that change
    with chain time (a work's state) are redone on each rebuild."""

    def __init__(self, client: HubClient, *, window: int | None = None, budget_s: float = 1.0) -> None:
        from hub.app.history import History
        from hub.client.base import LOG_CHUNK

        self.client = client
        self.history = History(client, window=window or LOG_CHUNK, budget_s=budget_s)
        self.works = WorkStates(client)
        self._block: int | None = None
        self._snapshot: dict[str, Any] = {}

    def snapshot(self) -> dict[str, Any]:
        block = self.client.block_number()
        if block == self._block and self.history.complete:
            return self._snapshot
        self.history.follow(block)
        self.history.backfill()
        self._snapshot = _snapshot(self.client, block, self.history, self.works)
        self._block = block
        return self._snapshot

    def account(self, address: str) -> dict[str, Any]:
        """`account`, from the events read up to the head."""
        self.history.follow(self.client.block_number())
        return account(self.client, address, self.history, self.works)


class WorkStates:
    """Each work key's state now. A key is accepted once and leaves `submitted` only to be claimed or
    invalidated, for good (RewardsDistributor), so a settled one is read once; the others are read
    on each rebuild (locked turns claimable with time, a hard invalidation voids)."""

    def __init__(self, client: HubClient) -> None:
        from hub.client.models import WorkState

        self.client = client
        self._final = (WorkState.CLAIMED, WorkState.INVALIDATED)
        self._settled: dict[tuple[int, str, str], Work] = {}

    def of(self, event: WorkSubmitted, *, now: int, reward_per_unit: int) -> Work:
        key = (event.pool_id, event.node, event.work_key)
        if key in self._settled:
            return self._settled[key]
        work = self.client.rewards.work(
            event.pool_id, event.node, event.work_key, now=now, reward_per_unit=reward_per_unit
        )
        if work.state in self._final:
            self._settled[key] = work
        return work


def _snapshot(client: HubClient, block: int, history: History, works: WorkStates) -> dict[str, Any]:
    """Providers with their stakes and nodes, pools with budgets and training progress, every
    provider's rewards by state, and the invalidated work (newest first), at `block`'s time; those
    found from events only as far back as the history has read (`history` in the answer)."""
    now = client.now()
    providers = _providers(client, history)
    submissions: dict[int, list[WorkSubmitted]] = defaultdict(list)
    for event in history.submissions:
        submissions[event.pool_id].append(event)
    pools = []
    rewards: dict[tuple[str, int], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for pool in client.pool.list():
        budget = client.rewards.budget(pool.pool_id)
        events = submissions.get(pool.pool_id, [])
        progress, by_node, total = [], defaultdict(int), 0
        for event in events:
            total += event.units
            by_node[event.node] += event.units
            progress.append({"time": event.unlocks_at - budget.challenge_window - 1, "units": total})
            work = works.of(event, now=now, reward_per_unit=budget.reward_per_unit)
            rewards[(event.provider, pool.pool_id)][work.state.value] += work.reward
        pools.append(
            {
                **pool.model_dump(mode="json"),
                "budget": _amounts(budget.model_dump(mode="json")),
                "submissions": len(events),
                "units": total,
                "units_by_node": dict(by_node),
                "progress": progress,
            }
        )
    return {
        "chain": {
            "chain_id": client.chain_id,
            "block": block,
            "time": now,
            "hub": client.hub.address,
            "treasury": client.hub.treasury(),
            "min_stake_per_compute_unit": str(client.hub.min_stake_per_compute_unit()),
            "slashed_pending": str(client.stake.slashed_pending()),
        },
        "history": _coverage(history),
        "providers": providers,
        "pools": pools,
        "rewards": [
            {"provider": provider, "pool_id": pool_id, **{state: str(amount) for state, amount in states.items()}}
            for (provider, pool_id), states in sorted(rewards.items())
        ],
        "invalidations": [
            {**e.model_dump(mode="json"), "reward": str(e.reward)} for e in reversed(history.invalidations)
        ],
    }


def _coverage(history: History) -> dict[str, Any]:
    """Which blocks the event figures cover: `since` to the head, and whether that is the whole
    deployment (from `first_block`)."""
    return {"since": history.since, "first_block": history.first_block, "complete": history.complete}


def _providers(client: HubClient, history: History) -> list[dict[str, Any]]:
    out = []
    for address in history.providers():
        record = client.registry.provider(address)
        stake = client.stake.info(address)
        nodes = [
            {**node.model_dump(mode="json"), "pool_id": client.pool.active_pool_of(node.address)}
            for node in _nodes_of(client, history, address)
        ]
        out.append(
            {
                **record.model_dump(mode="json"),
                "stake": str(stake.stake),
                "unbonding": str(stake.unbonding),
                "withdrawable": str(stake.withdrawable),
                "nodes": nodes,
            }
        )
    return out


def _nodes_of(client: HubClient, history: History, provider: str) -> list[Node]:
    """`provider`'s current nodes among those it added in the blocks read (as `registry.nodes_of`)."""
    nodes = [client.registry.node(key) for key in history.node_keys(provider)]
    return [n for n in nodes if n.provider == provider]


def _amounts(record: dict[str, Any]) -> dict[str, Any]:
    money = {"funded", "refunded", "available", "committed", "paid", "reward_per_unit"}
    return {k: str(v) if k in money else v for k, v in record.items()}


def account(client: HubClient, address: str, history: History, works: WorkStates) -> dict[str, Any]:
    """The connected account: balance, roles, provider record, stake with its unbonds, its nodes with
    their pools, work and rewards, and the pools it created or manages; nodes, work and rewards
    from the events `history` has read (`history` in the answer says how far back)."""
    from hub.client.models import WorkState
    from hub.inputs import parse_address

    address = parse_address(address, what="account")
    now = client.now()
    record = client.registry.provider(address)
    stake = client.stake.info(address)
    active = record.registered or record.node_count
    rates: dict[int, int] = {}
    by_pool: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    by_node: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    claimable: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for event in history.submissions if active else []:
        if event.provider != address:
            continue
        if event.pool_id not in rates:
            rates[event.pool_id] = client.rewards.budget(event.pool_id).reward_per_unit
        work = works.of(event, now=now, reward_per_unit=rates[event.pool_id])
        by_pool[work.pool_id][work.state.value] += work.reward
        if work.state == WorkState.CLAIMABLE:
            claimable[work.pool_id].append((event.node, event.work_key))
        if work.node:
            by_node[work.node]["units"] += work.units
            by_node[work.node][work.state.value] += work.reward
    nodes = [
        {
            **node.model_dump(mode="json"),
            "pool_id": client.pool.active_pool_of(node.address),
            "balance": str(client.balance(node.address)),
            "units": by_node[node.address].get("units", 0),
            "rewards": {k: str(v) for k, v in by_node[node.address].items() if k != "units"},
        }
        for node in (_nodes_of(client, history, address) if active else [])
    ]
    pools = [
        {
            **pool.model_dump(mode="json"),
            "budget": _amounts(client.rewards.budget(pool.pool_id).model_dump(mode="json")),
        }
        for pool in client.pool.list()
        if address in (pool.creator, pool.manager)
    ]
    return {
        "address": address,
        "time": now,
        "balance": str(client.balance(address)),
        "roles": client.hub.roles_of(address),
        "provider": record.model_dump(mode="json"),
        "stake": str(stake.stake),
        "unbonding": str(stake.unbonding),
        "withdrawable": str(stake.withdrawable),
        "unbonds": [{"amount": str(u.amount), "maturity": u.maturity} for u in stake.pending],
        "minimum_stake": str(client.hub.minimum_stake(address)) if record.registered else "0",
        "nodes": nodes,
        "rewards": [
            {
                "pool_id": pool_id,
                **{state: str(amount) for state, amount in states.items()},
                "claim": _next_claim(claimable[pool_id]),
            }
            for pool_id, states in sorted(by_pool.items())
        ],
        "pools": pools,
        "history": _coverage(history),
    }


def _next_claim(pairs: list[tuple[str, str]]) -> dict[str, Any] | None:
    """The keys of the pool's Claim button: one claim transaction pays one node's keys, at most
    MAX_BATCH of them, so the first node's first batch; the button sends the keys, so building the
    transaction reads no logs, and the next batch shows once it is claimed."""
    from hub.client.rewards import MAX_BATCH

    if not pairs:
        return None
    node = pairs[0][0]
    return {"node": node, "work_keys": [key for owner, key in pairs if owner == node][:MAX_BATCH]}


def wallet_network(client: HubClient, rpc_url: str | None) -> dict[str, Any]:
    """What the page gives `wallet_addEthereumChain` (EIP-3085) for the chain this server reads."""
    from hub.networks import BUILTIN_NETWORKS

    known = next((n for n in BUILTIN_NETWORKS.values() if n.chain_id == client.chain_id), None)
    name = {"local": "Injective local devnet"}.get(known.name, known.name) if known else f"chain {client.chain_id}"
    params: dict[str, Any] = {
        "chainId": hex(client.chain_id),
        "chainName": name,
        "nativeCurrency": {"name": "Injective", "symbol": "INJ", "decimals": 18},
        "rpcUrls": [rpc_url or (known.rpc_url if known else "")],
    }
    if known and known.explorer_url:
        params["blockExplorerUrls"] = [known.explorer_url]
    return params


def tx_status(client: HubClient, tx_hash: str) -> dict[str, Any]:
    """pending (not mined yet), confirmed, or failed with the reason the CLI names for it; a
    confirmed pool creation also carries the new pool id."""
    from web3.exceptions import TransactionNotFound

    from hub.inputs import parse_bytes32

    tx_hash = "0x" + parse_bytes32(tx_hash, what="transaction hash").hex()
    try:
        receipt = client.retry(lambda: client.w3.eth.get_transaction_receipt(tx_hash))  # type: ignore[arg-type]
    except TransactionNotFound:
        return {"hash": tx_hash, "state": "pending"}
    out: dict[str, Any] = {"hash": tx_hash, "block": int(receipt["blockNumber"])}
    if receipt["status"] == 1:
        out["state"] = "confirmed"
        if receipt["to"] == client.pool.address:
            from web3.logs import DISCARD

            created = client.pool.contract.events.PoolCreated().process_receipt(receipt, errors=DISCARD)
            if created:
                out["pool_id"] = int(created[0]["args"]["poolId"])
        if has_governance(client) and receipt["to"] == client.governance.address:
            from web3.logs import DISCARD

            proposed = client.governance.contract.events.ProposalCreated().process_receipt(receipt, errors=DISCARD)
            if proposed:
                out["proposal_id"] = int(proposed[0]["args"]["proposalId"])
        return out
    out["state"] = "failed"
    out["reason"] = _failure(client, tx_hash, receipt)
    return out


def _failure(client: HubClient, tx_hash: str, receipt: Any) -> str:
    """The sentence `hub` prints for a transaction mined and reverted (hub/tx.py `Transactor.wait`):
    the contract's reason, replayed on the state just before its block, with the fix."""
    from web3.exceptions import ContractLogicError

    from hub.reverts import revert_error, revert_reason

    tx = client.retry(lambda: client.w3.eth.get_transaction(tx_hash))  # type: ignore[arg-type]
    call = {"from": tx["from"], "to": tx["to"], "data": tx["input"], "value": tx["value"]}
    reason, hint = "reverted", None
    try:
        client.w3.eth.call(call, block_identifier=int(receipt["blockNumber"]) - 1)  # type: ignore[arg-type]
    except ContractLogicError as exc:
        reason = revert_reason(exc.message or str(exc))
        hint = revert_error("", reason).hint
    except Exception:  # a node without history: the reason stays unknown
        pass
    if reason == "reverted" and int(receipt["gasUsed"]) >= int(tx["gas"]):
        reason = f"out of gas ({int(tx['gas']):,} gas)"
    hint = hint or "the state changed between the estimate and the block; check and try again"
    return str(HubError(f"failed on chain: {reason}", hint=hint))


def has_governance(client: HubClient) -> bool:
    """Whether the deployment was made with `hub deploy --governance` (its manifest lists Governance)."""
    return "Governance" in client.deployment.contracts


def governance(client: HubClient, address: str = "") -> dict[str, Any]:
    """Governance's parameters and guardian, every proposal with its state, calls in words, tallies
    against quorum and deadlines (chain time), and for `address` (if given) its voting power, its
    vote on each proposal and how long a vote keeps its stake from unbonding."""
    from hub.inputs import parse_address

    gov = client.governance
    now = client.now()
    params = gov.params()
    guardian, guardian_until = gov.guardian()
    voter = parse_address(address, what="account") if address else None
    proposals = []
    for pid in range(gov.proposal_count(), 0, -1):  # newest first
        p = gov.proposal(pid)
        vote = gov.vote_of(pid, voter) if voter else None
        proposals.append(
            {
                "id": p.id,
                "proposer": p.proposer,
                "state": p.state,
                "vote_start": p.vote_start,
                "vote_end": p.vote_end,
                "eta": p.eta,
                "quorum": str(p.quorum),
                "quorum_reached": p.quorum_reached,
                "for_votes": str(p.for_votes),
                "against_votes": str(p.against_votes),
                "abstain_votes": str(p.abstain_votes),
                "calls": [c.description for c in p.calls],
                "my_vote": {"support": vote[0], "weight": str(vote[1])} if vote else None,
            }
        )
    out: dict[str, Any] = {
        "address": gov.address,
        "time": now,
        "parameters": {
            "voting_delay": params.voting_delay,
            "voting_period": params.voting_period,
            "timelock_delay": params.timelock_delay,
            "quorum_bps": params.quorum_bps,
            "proposal_threshold": str(params.proposal_threshold),
        },
        "guardian": guardian,
        "guardian_until": guardian_until,
        "proposals": proposals,
    }
    if voter:
        out["me"] = {
            "address": voter,
            "power": str(client.stake.stake_of(voter)),
            "locked_until": client.stake.vote_locked_until(voter),
        }
    return out
