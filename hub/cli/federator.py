"""`hub federator ...`: training domains and the stake minimum (FEDERATOR_ROLE)."""

from __future__ import annotations

from typing import Annotated

import typer

from hub.cli._chain import ChainContext, chain_command, sub_app

app = sub_app("Federators (FEDERATOR_ROLE): create training domains, set the stake minimum.")


@chain_command(app, "create-domain")
def create_domain(
    ctx: ChainContext,
    name: Annotated[str, typer.Argument(help="Domain name (1 to 64 bytes).")],
    validation: Annotated[
        str | None, typer.Option("--validation", help="Work-validation contract [default: the deployed one].")
    ] = None,
    uri: Annotated[str, typer.Option("--uri", help="Where the domain's parameters are published.")] = "",
) -> None:
    """Create a training domain."""
    from hub.inputs import parse_address

    logic = parse_address(validation, what="validation contract") if validation else None
    result = ctx.client().hub.create_domain(name, logic, uri)
    ctx.print_tx(
        result,
        f"created domain {result.domain_id} ({result.name})",
        domain_id=result.domain_id,
        name=result.name,
        validation_logic=result.validation_logic,
    )


@chain_command(app, "set-stake-minimum")
def set_stake_minimum(
    ctx: ChainContext,
    amount: Annotated[str, typer.Argument(help="Stake per compute unit: INJ (10, 0.5) or wei (1000wei).")],
) -> None:
    """Set the stake required per compute unit (also every provider's base stake)."""
    from hub.amounts import format_inj, parse_amount

    value = parse_amount(amount, what="stake minimum")
    result = ctx.client().hub.set_stake_minimum(value)
    ctx.print_tx(
        result,
        f"stake minimum set to {format_inj(result.current)} per compute unit (was {format_inj(result.previous)})",
        amount=result.current,
        previous=result.previous,
    )
