"""What spans contracts, in one place: checks before a transaction is signed (each names what is
wrong in one line where the contract would only revert, or succeed for the wrong account), and
actions that send to more than one contract. The command line calls them; the web app and scripts
can too. Bindings stay one contract each."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hub.errors import HubError

if TYPE_CHECKING:
    from hub.client.hub_client import HubClient
    from hub.client.results import NodeLeave, ProviderBlacklisting


def check_work_signer(client: HubClient, pool_id: int, signer_label: str) -> None:
    """Work is signed by the node key itself: when the client's account is another key (its
    provider's, the operator's), say so and name the pool's nodes, instead of the contract's
    "node not in pool". `signer_label` names the account as the user gave it (`--account NAME`)."""
    signer = client.address
    membership = client.pool.membership(pool_id, signer)
    if membership.in_pool or membership.pool_status.value == "none":
        return  # a member, or no such pool (the contract's check says that one)
    members = client.pool.members(pool_id)
    nodes = ", ".join(members) if members else "none yet"
    what = f"{signer_label} ({signer})"
    if membership.registered:
        message = f"{what} is a node key but not a member of pool {pool_id} (its nodes: {nodes})"
        hint = "join first (`hub node join --invite FILE`), or sign with a member node's account"
    elif client.registry.provider(signer).registered:
        message = f"{what} is a provider, not a node key: work is signed by the node (pool {pool_id}'s nodes: {nodes})"
        hint = "pass the node key's account as --account"
    else:
        message = f"{what} is not a node key in pool {pool_id} (its nodes: {nodes})"
        hint = "pass the node key's account as --account"
    raise HubError(message, hint=hint)


def check_own_work(client: HubClient, pool_id: int, keys: list[bytes]) -> None:
    """Rewards go to the provider of the node that submitted the work: a key submitted by another
    provider's node is named with its owner, instead of "not found" or a revert."""
    wanted = {"0x" + key.hex() for key in keys}
    # keys are per node: the same key may be another node's too, so refuse only when none is ours
    events = [e for e in client.rewards.work_submitted(pool_id) if e.work_key in wanted]
    ours = {e.work_key for e in events if e.provider == client.address}
    for event in events:
        if event.work_key not in ours:
            raise HubError(
                f"work key {event.work_key} in pool {pool_id} belongs to provider {event.provider} "
                f"(submitted by its node {event.node}), not to {client.address}",
                hint=f"only {event.provider} can claim it; `hub rewards --pool {pool_id}` lists your own work keys",
            )


def blacklist_provider(
    client: HubClient, provider: str, nodes: list[str] | None = None
) -> tuple[ProviderBlacklisting, list[NodeLeave]]:
    """Blacklist `provider` network-wide (the hub releases the first 64 of its nodes from their
    pools with it), then release each other node still in a pool, one transaction each
    (`ComputePool.releaseBlacklistedNode`). `nodes`: the provider's nodes (default: its current
    ones, from the logs). Returns the blacklisting and the releases after it."""
    from hub.client.hub_contract import MAX_BATCH

    if nodes is None:
        nodes = [n.address for n in client.registry.nodes_of(provider)]
    blacklisting = client.hub.blacklist_provider(provider, nodes)
    later = [node for node in nodes[MAX_BATCH:] if client.pool.active_pool_of(node)]
    return blacklisting, [client.pool.release_blacklisted_node(node) for node in later]
