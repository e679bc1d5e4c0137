"""What the dashboard shows, read from the chain through the client as one JSON-ready snapshot."""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hub.client import HubClient


def snapshot(client: HubClient) -> dict[str, Any]:
    """Providers with their stakes and nodes, pools with budgets and training progress, and every
    provider's rewards by state. Amounts in wei (as decimal strings: JSON numbers lose precision)."""
    now = client.now()
    providers = _providers(client)
    pools = []
    rewards: dict[tuple[str, int], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for pool in client.pool.list():
        budget = client.rewards.budget(pool.pool_id)
        submissions = client.rewards.work_submitted(pool.pool_id)
        progress, by_node, total = [], defaultdict(int), 0
        for event in sorted(submissions, key=lambda e: e.block_number):
            total += event.units
            by_node[event.node] += event.units
            progress.append({"time": event.unlocks_at - budget.challenge_window - 1, "units": total})
            work = client.rewards.work(
                pool.pool_id, event.node, event.work_key, now=now, reward_per_unit=budget.reward_per_unit
            )
            rewards[(event.provider, pool.pool_id)][work.state.value] += work.reward
        pools.append(
            {
                **pool.model_dump(mode="json"),
                "budget": _amounts(budget.model_dump(mode="json")),
                "submissions": len(submissions),
                "units": total,
                "units_by_node": dict(by_node),
                "progress": progress,
            }
        )
    return {
        "chain": {
            "chain_id": client.chain_id,
            "block": client.block_number(),
            "time": now,
            "hub": client.hub.address,
            "treasury": client.hub.treasury(),
            "min_stake_per_compute_unit": str(client.hub.min_stake_per_compute_unit()),
            "slashed_pending": str(client.stake.slashed_pending()),
        },
        "providers": providers,
        "pools": pools,
        "rewards": [
            {"provider": provider, "pool_id": pool_id, **{state: str(amount) for state, amount in states.items()}}
            for (provider, pool_id), states in sorted(rewards.items())
        ],
    }


def _providers(client: HubClient) -> list[dict[str, Any]]:
    out = []
    for record in client.registry.providers():
        address = record.address
        stake = client.stake.info(address)
        nodes = [
            {**node.model_dump(mode="json"), "pool_id": client.pool.active_pool_of(node.address)}
            for node in client.registry.nodes_of(address)
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


def _amounts(record: dict[str, Any]) -> dict[str, Any]:
    money = {"funded", "refunded", "available", "committed", "paid", "reward_per_unit"}
    return {k: str(v) if k in money else v for k, v in record.items()}
