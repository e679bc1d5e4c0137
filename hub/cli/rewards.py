"""`hub rewards`: locked / claimable / claimed rewards per work key; `hub rewards claim`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from typer.core import TyperGroup

from hub.cli._chain import ChainContext, chain_command
from hub.cli._output import print_table
from hub.inputs import UINT256_MAX

if TYPE_CHECKING:
    import click  # annotations only: typer 0.29 runs on its own copy, and click is no dependency


class _ShowByDefault(TyperGroup):
    """`hub rewards [OPTIONS]` means `hub rewards show [OPTIONS]`."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("--help", "-h")):
            args = ["show", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_ShowByDefault,
    help="Rewards of a provider's work: `hub rewards [show]` per work key, `hub rewards claim`.",
    rich_markup_mode=None,
)


@chain_command(app, "show")
def show(
    ctx: ChainContext,
    provider: Annotated[str | None, typer.Option("--provider", help="Provider [default: --account's address].")] = None,
    pool_id: Annotated[int | None, typer.Option("--pool", help="Only this pool.", min=0, max=UINT256_MAX)] = None,
) -> None:
    """Each work key of the provider: units, reward, state (locked, claimable, claimed, ...) and unlock time."""
    from hub.amounts import format_inj

    address = ctx.address(provider, "provider")
    client = ctx.client(sign=False)
    works = client.rewards.rewards_of(address, pool_id)
    now = client.now()
    totals: dict[str, int] = {}
    for w in works:
        totals[w.state.value] = totals.get(w.state.value, 0) + w.reward
    data = {"provider": address, "now": now, "totals": totals, "work": [w.model_dump(mode="json") for w in works]}

    def render() -> None:
        if not works:
            typer.echo(f"no work submitted by {address}'s nodes")
            return
        print_table(
            f"rewards of {address}",
            ["pool", "work key", "node", "units", "reward", "state", "unlocks in"],
            [
                [
                    str(w.pool_id),
                    w.work_key[:18] + "...",
                    w.node or "-",
                    str(w.units),
                    format_inj(w.reward),
                    w.state.value,
                    f"{w.unlocks_at - now} s" if w.state.value == "locked" else "-",
                ]
                for w in works
            ],
        )
        typer.echo("  ".join(f"{state}: {format_inj(total)}" for state, total in sorted(totals.items())))

    ctx.print_data(data, render)


@chain_command(app, "claim")
def claim(
    ctx: ChainContext,
    pool_id: Annotated[
        int | None, typer.Argument(help="The pool [default: every pool with claimable work].", min=0, max=UINT256_MAX)
    ] = None,
    work_keys: Annotated[
        list[str] | None,
        typer.Option("--work-key", help="Claim these keys only (repeatable) [default: all claimable]."),
    ] = None,
) -> None:
    """Claim unlocked rewards; the work keys are found from the WorkSubmitted logs."""
    from hub.amounts import format_inj
    from hub.errors import UsageError
    from hub.inputs import parse_bytes32

    keys = [parse_bytes32(k) for k in work_keys] if work_keys else None
    if keys and pool_id is None:
        raise UsageError("--work-key needs the pool id", hint="hub rewards claim POOL --work-key KEY")
    client = ctx.client()
    if keys:
        from hub.client.workflows import check_own_work

        check_own_work(client, pool_id, keys)
    with ctx.spinner("claiming..."):
        results = [client.rewards.claim(pool_id, keys)] if pool_id is not None else client.rewards.claim_all()
    total = sum(r.amount for r in results)
    if ctx.json_out:
        from hub.cli._output import print_json

        print_json({"amount": total, "claims": [r.model_dump(mode="json") for r in results]})
        return
    for r in results:
        typer.echo(
            f"claimed {format_inj(r.amount)} for {len(r.work_keys)} work key(s) in pool {r.pool_id} "
            f"(tx {', '.join(r.tx_hashes)})"
        )
