"""`hub admin ...`: roles, the treasury, sweeping slashed INJ."""

from __future__ import annotations

from typing import Annotated

import typer

from hub.cli._chain import ChainContext, chain_command, sub_app

app = sub_app("Admins (DEFAULT_ADMIN): grant and revoke roles, set the treasury; anyone: sweep slashed INJ.")

RoleArgument = Annotated[str, typer.Argument(help="admin, federator or validator.")]
AccountArgument = Annotated[str, typer.Argument(help="The account's address.")]


def _role_and_address(role: str, account: str) -> tuple[str, str]:
    from hub.inputs import parse_address, role_id

    role_id(role)  # a one-line error for an unknown role name, before connecting
    return role.strip().lower().removesuffix("_role"), parse_address(account)


@chain_command(app, "grant")
def grant(ctx: ChainContext, role: RoleArgument, account: AccountArgument) -> None:
    """Give a role to an account."""
    name, address = _role_and_address(role, account)
    ctx.print_tx(ctx.client().hub.grant_role(name, address), f"granted {name} to {address}", role=name, account=address)


@chain_command(app, "revoke")
def revoke(ctx: ChainContext, role: RoleArgument, account: AccountArgument) -> None:
    """Take a role away from an account."""
    name, address = _role_and_address(role, account)
    ctx.print_tx(
        ctx.client().hub.revoke_role(name, address), f"revoked {name} from {address}", role=name, account=address
    )


@chain_command(app, "roles")
def roles(
    ctx: ChainContext,
    account: Annotated[str | None, typer.Argument(help="The account [default: --account's address].")] = None,
) -> None:
    """Show which roles an account holds."""
    address = ctx.address(account, "account")
    held = ctx.client(sign=False).hub.roles_of(address)
    ctx.print_data(
        {"account": address, "roles": held}, lambda: typer.echo(f"{address}: {', '.join(held) if held else 'no roles'}")
    )


@chain_command(app, "set-treasury")
def set_treasury(ctx: ChainContext, treasury: Annotated[str, typer.Argument(help="Where slashed INJ goes.")]) -> None:
    """Set the treasury that receives slashed INJ."""
    from hub.inputs import parse_address

    result = ctx.client().hub.set_treasury(parse_address(treasury, what="treasury"))
    ctx.print_tx(
        result,
        f"treasury set to {result.current} (was {result.previous})",
        treasury=result.current,
        previous=result.previous,
    )


@chain_command(app, "sweep-slashed")
def sweep_slashed(ctx: ChainContext) -> None:
    """Send all slashed INJ waiting in the StakeManager to the treasury (anyone may)."""
    from hub.amounts import format_inj

    client = ctx.client()
    result = client.stake.sweep_slashed()
    ctx.print_tx(result, f"swept {format_inj(result.amount)} to the treasury {result.treasury}", amount=result.amount)
