"""`hub pool ...`: what a pool operator does, and read-only views of pools."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hub.cli._chain import ChainContext, chain_command, sub_app, write_signed
from hub.cli._output import print_fields, print_table
from hub.inputs import UINT256_MAX

app = sub_app("Training pools: create with a budget, start, end, invite, eject, blacklist, top up, refund.")

PoolArgument = Annotated[int, typer.Argument(help="The pool id.", min=0, max=UINT256_MAX)]
NodeArgument = Annotated[str, typer.Argument(help="The node key's address.")]
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation (scripts).")]


def _address(text: str, what: str) -> str:
    from hub.inputs import parse_address

    return parse_address(text, what=what)


def _inj(wei: int) -> str:
    from hub.amounts import format_inj

    return format_inj(wei)


@chain_command(app, "create")
def create(
    ctx: ChainContext,
    metadata: Annotated[Path, typer.Option("--metadata", dir_okay=False, help="The pool's metadata file (JSON).")],
    budget: Annotated[str, typer.Option("--budget", help="Reward budget escrowed now: INJ (100) or wei.")],
    reward_per_unit: Annotated[
        str, typer.Option("--reward-per-unit", help="Reward per accepted work unit: INJ (0.001) or wei (1000wei).")
    ],
    challenge_window: Annotated[
        str, typer.Option("--challenge-window", help="How long work stays challengeable: 30s, 10m, 1h, 7d.")
    ] = "1h",
    compute_limit: Annotated[
        int, typer.Option("--compute-limit", help="Most compute units in total; 0: none.", min=0, max=UINT256_MAX)
    ] = 0,
    domain: Annotated[
        int | None, typer.Option("--domain", help="Domain id [default: the deployment's].", min=0, max=UINT256_MAX)
    ] = None,
    manager: Annotated[str | None, typer.Option("--manager", help="Key that signs invites [default: you].")] = None,
    inline: Annotated[
        bool, typer.Option("--inline", help="Publish the file inside a data: URI (small files).")
    ] = False,
    metadata_uri: Annotated[
        str | None, typer.Option("--metadata-uri", help="Publish under this URI (where you host the same bytes).")
    ] = None,
) -> None:
    """Create a pool; its metadata is published as file://, data: or your URI with the file's keccak256.

    The file is checked against the pool-metadata schema first, and a --metadata-uri that is
    http(s):// or ipfs:// is fetched and compared with the file, so no budget is escrowed into a pool
    that nodes cannot read."""
    from hub.cli.options import PoolCreateOptions
    from hub.errors import HubError
    from hub.metadata import check_served, publish_metadata, read_pool_metadata_file

    options = PoolCreateOptions(
        metadata=metadata,
        budget=budget,
        reward_per_unit=reward_per_unit,
        challenge_window=challenge_window,
        compute_limit=compute_limit,
        domain=domain,
        manager=manager,
        inline=inline,
        metadata_uri=metadata_uri,
    )
    read_pool_metadata_file(options.metadata)
    published = publish_metadata(options.metadata, inline=options.inline, uri=options.metadata_uri)
    check_served(published)
    client = ctx.client()
    domain_id = options.domain if options.domain is not None else client.deployment.default_domain_id
    if domain_id is None:
        raise HubError("the deployment has no default domain", hint="pass --domain ID (`hub status` lists them)")
    result = client.pool.create(
        domain_id,
        published,
        budget=options.budget,
        reward_per_unit=options.reward_per_unit,
        challenge_window=options.challenge_window,
        compute_limit=options.compute_limit,
        manager=options.manager,
    )
    ctx.print_tx(
        result,
        f"created pool {result.pool_id} in domain {result.domain_id} with a budget of {_inj(result.budget)}; "
        f"metadata {published.uri[:80]}",
        pool_id=result.pool_id,
        domain_id=result.domain_id,
        manager=result.manager,
        metadata_uri=published.uri,
        metadata_hash="0x" + published.hash.hex(),
        budget=result.budget,
        reward_per_unit=result.reward_per_unit,
        challenge_window=result.challenge_window,
    )
    if published.uri.startswith("file:") and not ctx.json_out:
        typer.echo(
            "note: a file:// URI is readable on this machine only; for nodes elsewhere host the file "
            "(`hub pool metadata serve FILE`) and create the pool with --metadata-uri",
            err=True,
        )


@chain_command(app, "start")
def start(ctx: ChainContext, pool_id: PoolArgument) -> None:
    """Start a pending pool: nodes may submit work from now on."""
    result = ctx.client().pool.start(pool_id)
    ctx.print_tx(result, f"pool {pool_id} started: {result.status.value}", pool_id=pool_id, status=result.status.value)


@chain_command(app, "end")
def end(ctx: ChainContext, pool_id: PoolArgument) -> None:
    """End an active pool: its nodes are released; refund the unused budget afterwards."""
    result = ctx.client().pool.end(pool_id)
    ctx.print_tx(result, f"pool {pool_id} ended: {result.status.value}", pool_id=pool_id, status=result.status.value)


@chain_command(app, "invite")
def invite(
    ctx: ChainContext,
    pool_id: PoolArgument,
    node: NodeArgument,
    valid_for: Annotated[
        str, typer.Option("--valid-for", help="How long the invite stays valid: 30m, 24h, 7d.")
    ] = "24h",
    out: Annotated[Path | None, typer.Option("--out", dir_okay=False, help="Write the invite here.")] = None,
) -> None:
    """Sign an invite for a node with the pool's manager key (--account); prints it or writes --out."""
    from hub.inputs import parse_duration

    address = _address(node, "node")
    seconds = parse_duration(valid_for, what="--valid-for")
    client = ctx.client()
    signed = client.pool.invite(pool_id, address, deadline=client.now() + seconds)
    write_signed(signed, out, "pool invite")


@chain_command(app, "eject")
def eject(ctx: ChainContext, pool_id: PoolArgument, node: NodeArgument) -> None:
    """Remove a node from the pool (it may rejoin with a new invite)."""
    result = ctx.client().pool.eject(pool_id, _address(node, "node"))
    ctx.print_tx(
        result,
        f"ejected {result.node} from pool {pool_id} ({result.compute_units} compute units freed)",
        pool_id=pool_id,
        node=result.node,
        compute_units=result.compute_units,
    )


@chain_command(app, "blacklist-node")
def blacklist_node(ctx: ChainContext, pool_id: PoolArgument, node: NodeArgument, yes: YesOption = False) -> None:
    """Bar a node from the pool for good (removing it if it is in). Asks first."""
    from hub.cli._output import confirm_or_stop

    address = _address(node, "node")
    confirm_or_stop(f"bar node {address} from pool {pool_id} for good (it leaves the pool now)?", yes)
    result = ctx.client().pool.blacklist_node(pool_id, address)
    ctx.print_tx(
        result,
        f"node {address} barred from pool {pool_id}" + (" and taken out of it" if result.left else ""),
        pool_id=pool_id,
        node=address,
        left=result.left,
    )


@chain_command(app, "blacklist-provider")
def blacklist_provider(
    ctx: ChainContext,
    pool_id: PoolArgument,
    provider: Annotated[str, typer.Argument(help="The provider's address.")],
    yes: YesOption = False,
) -> None:
    """Bar a provider from the pool for good and remove all its nodes. Asks first."""
    from hub.cli._output import confirm_or_stop

    address = _address(provider, "provider")
    confirm_or_stop(f"bar provider {address} from pool {pool_id} for good (all its nodes leave the pool now)?", yes)
    result = ctx.client().pool.blacklist_provider(pool_id, address)
    ctx.print_tx(
        result,
        f"provider {address} barred from pool {pool_id}; {result.nodes_removed} of its nodes taken out",
        pool_id=pool_id,
        provider=address,
        nodes_removed=result.nodes_removed,
    )


@chain_command(app, "invalidate-work")
def invalidate_work(
    ctx: ChainContext,
    pool_id: PoolArgument,
    node: Annotated[str, typer.Argument(help="The node that submitted the work (keys are per node).")],
    work_key: Annotated[str, typer.Argument(help="The work key (0x + 64 hex digits).")],
) -> None:
    """Soft-invalidate work as the pool's manager: its reward returns to the budget."""
    from hub.inputs import parse_bytes32

    key = parse_bytes32(work_key)
    address = _address(node, "node")
    result = ctx.client().pool.invalidate_work(pool_id, address, key)
    ctx.print_tx(
        result,
        f"invalidated work {result.work_key} of node {address}: {_inj(result.reward)} returns to the budget",
        pool_id=pool_id,
        node=address,
        work_key=result.work_key,
        reward=result.reward,
    )


@chain_command(app, "top-up")
def top_up(
    ctx: ChainContext,
    pool_id: PoolArgument,
    amount: Annotated[str, typer.Argument(help="INJ (100, 0.5) or wei (1000wei).")],
) -> None:
    """Add INJ to a pool's reward budget (creator, before the pool ends)."""
    from hub.amounts import parse_amount

    value = parse_amount(amount, what="top-up", allow_zero=False)
    client = ctx.client()
    result = client.rewards.top_up(pool_id, value)
    ctx.print_tx(
        result,
        f"added {_inj(result.amount)} to pool {pool_id}; available {_inj(result.available)}",
        pool_id=pool_id,
        amount=result.amount,
        available=result.available,
    )


@chain_command(app, "refund")
def refund(ctx: ChainContext, pool_id: PoolArgument) -> None:
    """Take back an ended pool's unused budget (creator)."""
    result = ctx.client().rewards.refund(pool_id)
    ctx.print_tx(result, f"refunded {_inj(result.amount)} from pool {pool_id}", pool_id=pool_id, amount=result.amount)


@chain_command(app, "release-blacklisted")
def release_blacklisted(ctx: ChainContext, node: NodeArgument) -> None:
    """Take a node of a network-blacklisted provider out of its pool (anyone): for the nodes past the
    64 a blacklisting releases itself, e.g. after one sent from the web app or another tool."""
    result = ctx.client().pool.release_blacklisted_node(_address(node, "node"))
    ctx.print_tx(
        result,
        f"released {result.node} of blacklisted provider {result.provider} from pool {result.pool_id} "
        f"({result.compute_units} compute units freed)",
        pool_id=result.pool_id,
        node=result.node,
        provider=result.provider,
        compute_units=result.compute_units,
    )


@chain_command(app, "release-voided")
def release_voided(ctx: ChainContext, pool_id: PoolArgument) -> None:
    """Return the rewards of work voided by a hard invalidation to the pool's budget (anyone)."""
    result = ctx.client().rewards.release_voided(pool_id)
    ctx.print_tx(
        result,
        f"released {_inj(result.amount)} of voided work ({result.count} work keys) to pool {pool_id}'s budget",
        pool_id=pool_id,
        amount=result.amount,
        count=result.count,
    )


@chain_command(app, "set-manager")
def set_manager(
    ctx: ChainContext, pool_id: PoolArgument, manager: Annotated[str, typer.Argument(help="The new manager key.")]
) -> None:
    """Hand the invite-signing key of a pool to another account (creator)."""
    result = ctx.client().pool.set_manager(pool_id, _address(manager, "manager"))
    ctx.print_tx(result, f"pool {pool_id} manager is now {result.manager}", pool_id=pool_id, manager=result.manager)


@chain_command(app, "show")
def show(ctx: ChainContext, pool_id: PoolArgument) -> None:
    """Show a pool: status, manager, metadata, budget and member nodes."""
    client = ctx.client(sign=False)
    pool = client.pool.get(pool_id)
    budget = client.rewards.budget(pool_id)
    members = client.pool.members(pool_id)
    data = {**pool.model_dump(mode="json"), "budget": budget.model_dump(mode="json"), "members": members}

    def render() -> None:
        limit = str(pool.compute_limit) if pool.compute_limit else "no limit"
        print_fields(
            f"pool {pool_id} ({pool.status.value})",
            [
                ("domain", str(pool.domain_id)),
                ("creator", pool.creator),
                ("manager", pool.manager),
                ("compute", f"{pool.total_compute} of {limit}"),
                ("metadata", pool.metadata_uri),
                ("metadata hash", pool.metadata_hash),
                ("reward per unit", _inj(budget.reward_per_unit)),
                ("challenge window", f"{budget.challenge_window} s"),
                ("budget funded", _inj(budget.funded)),
                ("available", _inj(budget.available)),
                ("committed", _inj(budget.committed)),
                ("paid", _inj(budget.paid)),
                ("refunded", _inj(budget.refunded)),
                ("members", ", ".join(members) or "none"),
            ],
        )

    ctx.print_data(data, render)


@chain_command(app, "list")
def list_(ctx: ChainContext) -> None:
    """List every pool."""
    client = ctx.client(sign=False)
    rows = [(pool, client.rewards.budget(pool.pool_id)) for pool in client.pool.list()]
    data = [{**p.model_dump(mode="json"), "available": b.available, "funded": b.funded} for p, b in rows]

    def render() -> None:
        if not rows:
            typer.echo("no pools yet (`hub pool create`)")
            return
        print_table(
            "pools",
            ["id", "status", "creator", "compute", "available", "metadata"],
            [
                [
                    str(p.pool_id),
                    p.status.value,
                    p.creator,
                    f"{p.total_compute}/{p.compute_limit or '-'}",
                    _inj(b.available),
                    p.metadata_uri[:60],
                ]
                for p, b in rows
            ],
        )

    ctx.print_data(data, render)


metadata_app = typer.Typer(
    help="Pool metadata files: check one against the schema, serve one to nodes on other machines.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(metadata_app, name="metadata")


@metadata_app.command("check")
def metadata_check(
    file: Annotated[Path, typer.Argument(dir_okay=False, help="The metadata file (JSON).")],
    json_out: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of text.")] = False,
) -> None:
    """Check a metadata file against the pool-metadata schema and print its keccak256."""
    from hub.cli._output import print_json
    from hub.metadata import metadata_hash, read_pool_metadata_file

    data, document = read_pool_metadata_file(file)
    digest = "0x" + metadata_hash(data).hex()
    if json_out:
        print_json({"file": str(file), "hash": digest, "size": len(data), "metadata": document})
    else:
        typer.echo(f"{file}: valid pool metadata for run {document.run_id!r}, keccak256 {digest}")


@metadata_app.command("serve")
def metadata_serve(
    file: Annotated[Path, typer.Argument(dir_okay=False, help="The metadata file (JSON).")],
    host: Annotated[str, typer.Option(help="Address to listen on (all interfaces: nodes are elsewhere).")] = "0.0.0.0",  # noqa: S104
    port: Annotated[int, typer.Option(help="Port to listen on (0: any free port).", min=0, max=65535)] = 8751,
    json_out: Annotated[bool, typer.Option("--json", help="Print the URLs as JSON instead of text.")] = False,
) -> None:
    """Serve a metadata file over HTTP until Ctrl-C, so nodes on other machines can fetch it.

    Create the pool with `--metadata-uri http://<this machine>:<port>/<file name>`; nodes check
    the bytes against the pool's keccak256, so the server needs no trust."""
    from hub.cli._output import serve_until_interrupted
    from hub.metadata import make_metadata_server, metadata_hash

    server = make_metadata_server(file, host, port)
    bound_host, bound_port = server.server_address[:2]
    data = file.read_bytes()
    digest = "0x" + metadata_hash(data).hex()
    if bound_host in ("0.0.0.0", "::"):  # noqa: S104
        # listening everywhere: name the machine as other machines would
        import socket

        bound_host = socket.gethostname()
    urls = [f"http://{bound_host}:{bound_port}/{file.name}", f"http://{bound_host}:{bound_port}/{digest}.json"]
    serve_until_interrupted(
        server,
        f"serving {file} (keccak256 {digest}) at {urls[0]} and {urls[1]} (Ctrl-C to stop)",
        {"urls": urls, "hash": digest} if json_out else None,
    )
