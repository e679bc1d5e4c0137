"""`hub validator ...`: whitelist / blacklist providers, validate nodes, slash, invalidate work."""

from __future__ import annotations

from typing import Annotated

import typer

from hub.cli._chain import ChainContext, chain_command, sub_app
from hub.inputs import UINT256_MAX

app = sub_app("Validators (VALIDATOR_ROLE): police providers, nodes and work.")

ProviderArgument = Annotated[str, typer.Argument(help="The provider's address.")]
NodeArgument = Annotated[str, typer.Argument(help="The node key's address.")]


def _address(text: str, what: str) -> str:
    from hub.inputs import parse_address

    return parse_address(text, what=what)


@chain_command(app, "whitelist")
def whitelist(ctx: ChainContext, provider: ProviderArgument) -> None:
    """Whitelist a provider: its validated nodes may join pools."""
    address = _address(provider, "provider")
    ctx.print_tx(ctx.client().hub.whitelist_provider(address), f"whitelisted provider {address}", provider=address)


@chain_command(app, "blacklist")
def blacklist(
    ctx: ChainContext,
    provider: ProviderArgument,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation (scripts).")] = False,
) -> None:
    """Blacklist a provider for good and release its nodes from their pools (slash first if its stake
    should go). Says what will happen and asks first."""
    from hub.cli._output import confirm_or_stop
    from hub.client import workflows

    address = _address(provider, "provider")
    client = ctx.client()
    nodes = [n.address for n in client.registry.nodes_of(address)]
    confirm_or_stop(
        f"blacklist provider {address} for good: it can never register again and its {len(nodes)} node(s) "
        "leave their pools. Go on?",
        yes,
    )
    result, later = workflows.blacklist_provider(client, address, nodes)
    released = [*result.released, *(leave.node for leave in later)]
    ctx.print_tx(
        result,
        f"blacklisted provider {address}; released {len(released)} of its {len(nodes)} node(s) from their pools",
        provider=address,
        nodes=nodes,
        released=released,
    )


@chain_command(app, "validate-node")
def validate_node(ctx: ChainContext, node: NodeArgument) -> None:
    """Mark a node validated: it may join pools."""
    address = _address(node, "node")
    result = ctx.client().hub.validate_node(address)
    ctx.print_tx(result, f"validated node {result.node} of provider {result.provider}", node=result.node)


@chain_command(app, "invalidate-node")
def invalidate_node(ctx: ChainContext, node: NodeArgument) -> None:
    """Withdraw a node's validation and take it out of its pool."""
    address = _address(node, "node")
    result = ctx.client().hub.invalidate_node(address)
    ctx.print_tx(result, f"invalidated node {result.node} of provider {result.provider}", node=result.node)


@chain_command(app, "slash")
def slash(
    ctx: ChainContext,
    provider: ProviderArgument,
    amount: Annotated[str, typer.Argument(help="Most to slash: INJ (10, 0.5) or wei (1000wei).")],
    reason: Annotated[str, typer.Option("--reason", help="Why, for the record (at most 128 bytes).")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation (scripts).")] = False,
) -> None:
    """Slash a provider's stake, at most its bonded requirement per call; the INJ is held for the
    treasury, never paid to you. Shows what would be taken and asks first."""
    from hub.amounts import format_inj, parse_amount
    from hub.cli._output import confirm_or_stop
    from hub.errors import HubError

    address = _address(provider, "provider")
    value = parse_amount(amount, what="slash amount", allow_zero=False)
    client = ctx.client()
    # what the chain would take: capped by the provider's bonded requirement and by what it holds
    taken = client.hub.preview_slash(address, value)
    if taken == 0:
        raise HubError(f"{address} has nothing to slash", hint="`hub provider show` shows its stake")
    confirm_or_stop(
        f"slash {format_inj(taken)} from {address} (asked {format_inj(value)}; one slash takes at most the "
        "provider's bonded requirement and what it holds) to the treasury. Go on?",
        yes,
    )
    result = client.hub.slash(address, value, reason)
    ctx.print_tx(
        result,
        f"slashed {format_inj(result.slashed)} from {address} ({format_inj(result.from_stake)} from its stake, "
        f"{format_inj(result.from_unbonding)} from unbonds)",
        provider=address,
        slashed=result.slashed,
        reason=reason,
    )


@chain_command(app, "invalidate-work")
def invalidate_work(
    ctx: ChainContext,
    pool_id: Annotated[int, typer.Argument(help="The pool id.", min=0, max=UINT256_MAX)],
    node: Annotated[str, typer.Argument(help="The node that submitted the work (keys are per node).")],
    work_key: Annotated[str, typer.Argument(help="The work key (0x + 64 hex digits).")],
    hard: Annotated[
        bool, typer.Option("--hard", help="Fraud: void the node's locked rewards, eject and bar it.")
    ] = False,
    slash_amount: Annotated[
        str | None, typer.Option("--slash", help="With --hard: also slash up to this much of its provider's stake.")
    ] = None,
    reason: Annotated[str, typer.Option("--reason", help="With --hard: why, for the record.")] = "",
) -> None:
    """Invalidate work inside its challenge window: soft (its reward returns to the budget) or --hard."""
    from hub.amounts import format_inj, parse_amount
    from hub.errors import HubError
    from hub.inputs import parse_bytes32

    key = parse_bytes32(work_key)
    node_address = _address(node, "node")
    if not hard and (slash_amount is not None or reason):
        raise HubError("--slash and --reason go with --hard", hint="add --hard, or drop them for a soft invalidation")
    value = parse_amount(slash_amount, what="slash amount") if slash_amount is not None else 0
    client = ctx.client()
    if hard:
        result = client.pool.hard_invalidate_work(pool_id, node_address, key, slash_amount=value, reason=reason)
    else:
        result = client.pool.invalidate_work(pool_id, node_address, key)
    kind = "hard" if hard else "soft"
    ctx.print_tx(
        result,
        f"{kind}-invalidated work {result.work_key} of node {node_address} in pool {pool_id}: "
        f"{format_inj(result.reward)} returns to the budget"
        + (f", {format_inj(result.slashed)} slashed" if hard else ""),
        pool_id=pool_id,
        node=node_address,
        work_key=result.work_key,
        hard=result.hard,
        slash=value,
        slashed=result.slashed,
        reward=result.reward,
    )
