"""`hub node ...`: what a node key does: attest itself to a provider, join and leave pools, submit work."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hub.cli._chain import ChainContext, chain_command, read_signed, sub_app, write_signed
from hub.cli._output import print_fields
from hub.inputs import UINT256_MAX

app = sub_app("Node keys: attest to a provider, join a pool with an invite, leave, submit work.")

PoolArgument = Annotated[int, typer.Argument(help="The pool id.", min=0, max=UINT256_MAX)]


@chain_command(app, "attest")
def attest(
    ctx: ChainContext,
    provider: Annotated[str, typer.Option("--provider", help="The provider that will add this node.")],
    units: Annotated[int, typer.Option("--units", help="The node's compute units.", min=1, max=UINT256_MAX)],
    specs: Annotated[str, typer.Option("--specs", help="Where the node's hardware specs are published.")] = "",
    valid_for: Annotated[
        str | None, typer.Option("--valid-for", help="Expire after this long (30m, 2h, 7d) [default: never].")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", dir_okay=False, help="Write the attestation here.")] = None,
) -> None:
    """Sign, with this node key (--account), an attestation that lets PROVIDER add the node."""
    from hub.errors import HubError
    from hub.inputs import parse_address, parse_duration
    from hub.signatures import NO_DEADLINE

    owner = parse_address(provider, what="provider")
    if units <= 0:
        raise HubError("--units must be a positive whole number", hint="e.g. --units 10")
    seconds = parse_duration(valid_for, what="--valid-for") if valid_for is not None else None
    client = ctx.client()
    deadline = NO_DEADLINE if seconds is None else client.now() + seconds
    signed = client.hub.attest_node(owner, units, specs, deadline=deadline)
    write_signed(signed, out, "node attestation")


@chain_command(app, "join")
def join(
    ctx: ChainContext,
    invite: Annotated[Path, typer.Option("--invite", dir_okay=False, help="The invite file (`hub pool invite`).")],
) -> None:
    """Join a pool with the manager's invite; sign with the node key or its provider (--account)."""
    from hub.client import PoolInvite

    signed = read_signed(invite, PoolInvite, "pool invite", "hub pool invite")
    client = ctx.client()
    result = client.pool.join(signed)
    ctx.print_tx(
        result,
        f"node {result.node} joined pool {result.pool_id} with {result.compute_units} compute units",
        pool_id=result.pool_id,
        node=result.node,
        compute_units=result.compute_units,
    )


@chain_command(app, "leave")
def leave(
    ctx: ChainContext,
    pool_id: PoolArgument,
    node: Annotated[str | None, typer.Option("--node", help="The node [default: --account, the node key].")] = None,
) -> None:
    """Take the node out of a pool."""
    from hub.inputs import parse_address

    address = parse_address(node, what="node") if node else None
    client = ctx.client()
    result = client.pool.leave(pool_id, address)
    ctx.print_tx(result, f"node {result.node} left pool {result.pool_id}", pool_id=result.pool_id, node=result.node)


@chain_command(app, "submit-work")
def submit_work(
    ctx: ChainContext,
    pool_id: PoolArgument,
    units: Annotated[int, typer.Option("--units", help="Work units done (tokens processed).", min=1, max=UINT256_MAX)],
    work_key: Annotated[str | None, typer.Option("--work-key", help="0x + 64 hex digits, unique per pool.")] = None,
    key_text: Annotated[
        str | None, typer.Option("--key-text", help="Or: any text; the work key is its keccak256.")
    ] = None,
) -> None:
    """Submit work done by this node key (--account) in an active pool."""
    from eth_utils import keccak

    from hub.amounts import format_inj
    from hub.client.workflows import check_work_signer
    from hub.errors import UsageError
    from hub.inputs import parse_bytes32

    if (work_key is None) == (key_text is None):
        raise UsageError("give exactly one of --work-key and --key-text", hint="e.g. --key-text epoch-7")
    key = parse_bytes32(work_key) if work_key is not None else keccak(text=key_text)
    client = ctx.client()
    check_work_signer(client, pool_id, f"--account {ctx.account}")
    result = client.pool.submit_work(pool_id, key, units)
    ctx.print_tx(
        result,
        f"submitted {result.units} units to pool {result.pool_id} as work key {result.work_key}: "
        f"{format_inj(result.reward)} locked until chain time {result.unlocks_at}",
        pool_id=result.pool_id,
        work_key=result.work_key,
        units=result.units,
        reward=result.reward,
        unlocks_at=result.unlocks_at,
    )


@chain_command(app, "status")
def status(
    ctx: ChainContext,
    pool_id: PoolArgument,
    node: Annotated[str | None, typer.Argument(help="The node [default: --account's address].")] = None,
) -> None:
    """Can this node submit work in the pool? Shows registration, validation and membership."""
    address = ctx.address(node, "node")
    client = ctx.client(sign=False)
    membership = client.pool.membership(pool_id, address)
    data = {
        **membership.model_dump(mode="json"),
        "ready": membership.ready,
        "problems": [p for p, _ in membership.problems()],
        "balance": client.balance(address),
    }

    def render() -> None:
        from hub.amounts import format_inj

        print_fields(
            f"node {address} in pool {pool_id}",
            [
                ("provider", membership.provider or "-"),
                ("validated", "yes" if membership.validated else "no"),
                ("in pool", "yes" if membership.in_pool else "no"),
                ("pool status", membership.pool_status.value),
                ("gas balance", format_inj(data["balance"])),
                ("ready", "yes" if membership.ready else "no: " + "; ".join(data["problems"])),
            ],
        )

    ctx.print_data(data, render)
