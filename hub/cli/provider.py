"""`hub provider ...`: register, stake, nodes, deregister, fund a node key, show a provider."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hub.cli._chain import ChainContext, chain_command, read_signed, sub_app
from hub.cli._output import print_fields, print_table
from hub.inputs import UINT256_MAX

app = sub_app("Compute providers: register with stake, add nodes, manage stake, leave.")
stake_app = sub_app("Your stake: add, reclaim (start unbonding), rebond, withdraw matured unbonds.")
node_app = sub_app("Your nodes: add one with its node key's attestation, remove one.")
app.add_typer(stake_app, name="stake")
app.add_typer(node_app, name="node")

AmountArgument = Annotated[str, typer.Argument(help="INJ (100, 0.5, 100inj) or wei (1000wei).")]


def _amount(text: str, what: str) -> int:
    from hub.amounts import parse_amount

    return parse_amount(text, what=what, allow_zero=False)


def _inj(wei: int) -> str:
    from hub.amounts import format_inj

    return format_inj(wei)


@chain_command(app, "register")
def register(
    ctx: ChainContext,
    stake: Annotated[str, typer.Option("--stake", help="Initial stake: INJ (100, 0.5) or wei (1000wei).")],
) -> None:
    """Register your account as a compute provider, staking INJ."""
    amount = _amount(stake, "stake")
    client = ctx.client()
    result = client.hub.register_provider(amount)
    ctx.print_tx(
        result,
        f"registered provider {result.account} with {_inj(result.stake)} stake",
        provider=result.account,
        stake=result.stake,
    )


@chain_command(app, "show")
def show(
    ctx: ChainContext,
    provider: Annotated[str | None, typer.Argument(help="Provider address [default: --account's].")] = None,
) -> None:
    """Show a provider: registration, stake, unbonds, required minimum and nodes."""
    from hub.bech32 import inj_address

    address = ctx.address(provider, "provider")
    client = ctx.client(sign=False)
    record = client.registry.provider(address)
    stake = client.stake.info(address)
    nodes = client.registry.nodes_of(address) if record.registered else []
    data = {
        **record.model_dump(mode="json"),
        "stake": stake.stake,
        "unbonding": stake.unbonding,
        "withdrawable": stake.withdrawable,
        "pending_unbonds": [u.model_dump(mode="json") for u in stake.pending],
        "minimum_stake": client.hub.minimum_stake(address) if record.registered else None,
        "balance": client.balance(address),
        "nodes": [{**n.model_dump(mode="json"), "pool": client.pool.active_pool_of(n.address)} for n in nodes],
        "now": client.now(),
        "inj_address": inj_address(address),
    }

    def render() -> None:
        flags = [name for name in ("registered", "whitelisted", "blacklisted") if data[name]] or ["not registered"]
        print_fields(
            f"provider {address} ({data['inj_address']})",
            [
                ("status", ", ".join(flags)),
                ("balance", _inj(data["balance"])),
                ("stake", _inj(data["stake"])),
                ("minimum stake", "-" if data["minimum_stake"] is None else _inj(data["minimum_stake"])),
                ("unbonding", _inj(data["unbonding"])),
                ("withdrawable now", _inj(data["withdrawable"])),
                ("compute units", str(data["total_compute"])),
            ],
        )
        if data["pending_unbonds"]:
            print_table(
                "pending unbonds",
                ["amount", "matures in"],
                [[_inj(u["amount"]), f"{max(u['maturity'] - data['now'], 0)} s"] for u in data["pending_unbonds"]],
            )
        if data["nodes"]:
            print_table(
                "nodes",
                ["node", "units", "validated", "pool"],
                [
                    [n["address"], str(n["compute_units"]), "yes" if n["validated"] else "no", str(n["pool"] or "-")]
                    for n in data["nodes"]
                ],
            )

    ctx.print_data(data, render)


@chain_command(app, "deregister")
def deregister(
    ctx: ChainContext,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation (scripts).")] = False,
) -> None:
    """Leave as a provider (remove your nodes first); your whole stake starts unbonding. Says what
    will happen and asks first."""
    from hub.cli._output import confirm_or_stop

    client = ctx.client()
    stake = client.stake.info(client.address).stake
    confirm_or_stop(
        f"deregister provider {client.address}: its stake of {_inj(stake)} starts unbonding for "
        f"{client.stake.unbonding_period()} s and it can no longer add nodes or earn rewards. Go on?",
        yes,
    )
    result = client.hub.deregister_provider()
    ctx.print_tx(
        result,
        f"deregistered {client.address}; {_inj(result.amount)} is unbonding until chain time {result.unlocks_at} "
        "(`hub provider stake withdraw` then)",
        provider=client.address,
        amount=result.amount,
        unlocks_at=result.unlocks_at,
    )


@chain_command(app, "fund-node")
def fund_node(
    ctx: ChainContext,
    node: Annotated[str, typer.Argument(help="The node key's address.")],
    amount: AmountArgument,
) -> None:
    """Send INJ to a node key so it can pay gas for joining pools and submitting work."""
    from hub.inputs import parse_address

    to = parse_address(node, what="node")
    value = _amount(amount, "amount")
    client = ctx.client()
    result = client.transfer(to, value, action="fund node key")
    ctx.print_tx(result, f"sent {_inj(value)} to node key {to}", node=to, amount=value)


# -- stake


@chain_command(stake_app, "add")
def stake_add(ctx: ChainContext, amount: AmountArgument) -> None:
    """Add INJ to your active stake."""
    value = _amount(amount, "stake")
    client = ctx.client()
    result = client.hub.increase_stake(value)
    ctx.print_tx(
        result,
        f"staked {_inj(result.amount)} more; active stake {_inj(result.stake)}",
        amount=result.amount,
        stake=result.stake,
    )


@chain_command(stake_app, "reclaim")
def stake_reclaim(ctx: ChainContext, amount: AmountArgument) -> None:
    """Start unbonding part of your stake; withdraw it after the unbonding period."""
    value = _amount(amount, "amount")
    client = ctx.client()
    result = client.hub.reclaim_stake(value)
    block_time = client.w3.eth.get_block(result.block_number)["timestamp"]
    period = result.unlocks_at - block_time
    ctx.print_tx(
        result,
        f"unbonding {_inj(result.amount)}; withdrawable in {period} s (chain time {result.unlocks_at})",
        amount=result.amount,
        unbonding_period=period,
        unlocks_at=result.unlocks_at,
        stake=result.stake,
    )


@chain_command(stake_app, "rebond")
def stake_rebond(ctx: ChainContext, amount: AmountArgument) -> None:
    """Move unbonding INJ back into active stake."""
    value = _amount(amount, "amount")
    client = ctx.client()
    result = client.hub.rebond_stake(value)
    ctx.print_tx(
        result,
        f"rebonded {_inj(result.amount)}; active stake {_inj(result.stake)}",
        amount=result.amount,
        stake=result.stake,
    )


@chain_command(stake_app, "withdraw")
def stake_withdraw(ctx: ChainContext) -> None:
    """Withdraw every unbond whose unbonding period has passed."""
    client = ctx.client()
    result = client.stake.withdraw()
    ctx.print_tx(result, f"withdrew {_inj(result.amount)}", amount=result.amount)


# -- nodes


@chain_command(node_app, "add")
def node_add(
    ctx: ChainContext,
    attestation: Annotated[
        Path | None,
        typer.Option("--attestation", dir_okay=False, help="The node key's attestation file (`hub node attest`)."),
    ] = None,
    node_account: Annotated[
        str | None, typer.Option("--node-account", help="Or: the node key's keystore here; it signs directly.")
    ] = None,
    units: Annotated[
        int | None, typer.Option("--units", help="Compute units (with --node-account).", min=1, max=UINT256_MAX)
    ] = None,
    specs: Annotated[str, typer.Option("--specs", help="Hardware specs URI (with --node-account).")] = "",
    node_password_file: Annotated[
        Path | None,
        typer.Option(
            "--node-password-file", dir_okay=False, help="Password file of --node-account [else as --account]."
        ),
    ] = None,
) -> None:
    """Add a node: from an attestation file the node key signed, or by unlocking the node key here."""
    from hub.client import NodeAttestation
    from hub.errors import HubError, UsageError

    if (attestation is None) == (node_account is None):
        raise UsageError(
            "give exactly one of --attestation FILE and --node-account NAME",
            hint="the node key signs with `hub node attest`, or its keystore is here",
        )
    signed = None
    if attestation is not None:
        if units is not None:
            raise HubError("--units goes with --node-account; an attestation already names its units")
        signed = read_signed(attestation, NodeAttestation, "node attestation", "hub node attest")
    elif units is None or units <= 0:
        raise HubError("--units must be a positive whole number", hint="e.g. --units 10")
    client = ctx.client()
    if signed is None:
        assert node_account is not None and units is not None
        node_ctx = ChainContext(password_file=node_password_file or ctx.password_file)
        node_key = node_ctx.load_account(node_account)
        signed = client.with_account(node_key).hub.attest_node(client.address, units, specs)
    result = client.hub.add_compute_node(signed)
    ctx.print_tx(
        result,
        f"added node {result.node} with {result.compute_units} compute units",
        node=result.node,
        compute_units=result.compute_units,
    )


@chain_command(node_app, "remove")
def node_remove(ctx: ChainContext, node: Annotated[str, typer.Argument(help="The node key's address.")]) -> None:
    """Remove one of your nodes (it leaves its pool; its compute units are released)."""
    from hub.inputs import parse_address

    address = parse_address(node, what="node")
    client = ctx.client()
    result = client.hub.remove_compute_node(address)
    ctx.print_tx(
        result,
        f"removed node {result.node} ({result.compute_units} compute units released)",
        node=result.node,
        compute_units=result.compute_units,
    )
