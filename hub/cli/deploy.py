"""`hub deploy`: deploy and wire the system (resumable) and write deployments/<chain-id>.json."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from hub.cli._chain import (
    AccountOption,
    ChainContext,
    DeploymentsOption,
    JsonOption,
    NetworkOption,
    PasswordFileOption,
    root_option,
)
from hub.cli._output import console, print_json

if TYPE_CHECKING:
    from hub.deploy import DeployResult


def deploy_command(
    unbonding_period: Annotated[
        str | None, typer.Option("--unbonding-period", help="Unbonding period: 30s, 10m, 7d [default 7d].")
    ] = None,
    min_stake: Annotated[
        str | None,
        typer.Option("--min-stake", help="Stake per compute unit (and base stake), INJ or 1000wei [default 10]."),
    ] = None,
    max_rate: Annotated[
        int | None,
        typer.Option("--max-rate", help="Work units one compute unit may claim per second [default 1000]."),
    ] = None,
    federator: Annotated[
        str | None, typer.Option("--federator", help="First federator [default: the deployer].")
    ] = None,
    validator: Annotated[
        str | None, typer.Option("--validator", help="First validator [default: the deployer].")
    ] = None,
    fresh: Annotated[
        bool, typer.Option("--fresh", help="Start over: keep the existing manifest as a .bak file.")
    ] = False,
    confirm_mainnet: Annotated[
        bool, typer.Option("--confirm-mainnet", help="Confirm a deployment to Injective mainnet without a prompt.")
    ] = False,
    network: NetworkOption = None,
    account: AccountOption = None,
    password_file: PasswordFileOption = None,
    deployments_dir: DeploymentsOption = None,
    json_out: JsonOption = False,
) -> None:
    """Deploy and wire the six contracts and the default WorkRateValidator; resumable, never redone."""
    network, account, password_file, deployments_dir, json_out = (
        root_option(name, value)
        for name, value in (
            ("network", network),
            ("account", account),
            ("password_file", password_file),
            ("deployments_dir", deployments_dir),
            ("json_out", json_out),
        )
    )
    from hub.amounts import parse_amount
    from hub.contracts import SystemParams
    from hub.deploy import deploy
    from hub.errors import HubError
    from hub.inputs import parse_address, parse_duration
    from hub.networks import MAINNET_CHAIN_ID, connect, resolve_network

    given = {}
    if unbonding_period is not None:
        given["unbonding_period"] = parse_duration(unbonding_period, what="unbonding period")
        if given["unbonding_period"] <= 0:
            raise HubError("the unbonding period must be at least 1 s", hint="e.g. --unbonding-period 5s")
    if min_stake is not None:
        given["min_stake_per_compute_unit"] = parse_amount(min_stake, what="minimum stake")
    if max_rate is not None:
        if max_rate <= 0:
            raise HubError("--max-rate must be more than zero", hint="e.g. --max-rate 1000")
        given["max_units_per_compute_unit_per_second"] = max_rate
    federator_address = parse_address(federator, what="federator") if federator else None
    validator_address = parse_address(validator, what="validator") if validator else None
    ctx = ChainContext(network, account, password_file, deployments_dir, json_out)

    net = resolve_network(network)
    w3 = connect(net)
    if w3.eth.chain_id == MAINNET_CHAIN_ID and not confirm_mainnet:
        answer = typer.prompt(
            "This deploys to Injective MAINNET (chain 1776) and spends real INJ. Type 'mainnet' to go on",
            default="",
            show_default=False,
        )
        confirm_mainnet = answer.strip() == "mainnet"
        if not confirm_mainnet:
            raise HubError("mainnet deployment not confirmed: nothing was sent", hint="type 'mainnet' at the prompt")
    signer = ctx.load_account(account) if account is not None else ctx.default_signer(w3.eth.chain_id)
    err = console(stderr=True)
    with err.status("deploying...") as spinner:

        def progress(event: str, step) -> None:
            if event == "done":
                where = f" at {step.contract_address}" if step.contract_address else ""
                err.print(f"done: {step.name}{where}")
            elif event == "skipped":
                err.print(f"skipped: {step.name} ({step.note})")
            elif event == "planned":
                spinner.update(f"{step.name}...")

        result = deploy(
            w3,
            signer,
            network=net.name,
            params=SystemParams(**given) if given else None,
            federator=federator_address,
            validator=validator_address,
            directory=deployments_dir,
            fresh=fresh,
            mainnet_confirmed=confirm_mainnet,
            on_event=progress,
        )
    _report(result, json_out)


def _report(result: DeployResult, json_out: bool) -> None:
    d = result.deployment
    if json_out:
        print_json(
            {
                "manifest": str(result.path),
                "already_complete": result.already_complete,
                "resumed": result.resumed,
                "transactions_sent": result.transactions_sent,
                "seconds": round(result.seconds, 3),
                "chain_id": d.chain_id,
                "addresses": {name: r.address for name, r in d.contracts.items()},
                "default_domain_id": d.default_domain_id,
            }
        )
        return
    if result.already_complete:
        typer.echo(f"already deployed on chain {d.chain_id} (block {d.block}); nothing sent. Manifest: {result.path}")
    else:
        how = "resumed and finished" if result.resumed else "deployed"
        typer.echo(
            f"{how} on chain {d.chain_id} in {result.seconds:.1f} s with {result.transactions_sent} transactions; "
            f"manifest: {result.path}"
        )
    for name, record in d.contracts.items():
        typer.echo(f"  {name:<20} {record.address}")
    if d.default_domain_id is not None:
        typer.echo(f"  default domain id    {d.default_domain_id}")
    if d.params.validator == d.deployer:
        typer.echo(
            "note: the validator is also the treasury (the deployer), and a slash never pays its validator: "
            "grant VALIDATOR to another account (`hub admin grant validator ADDR`) or move the treasury "
            "(`hub admin set-treasury ADDR`) before slashing"
        )
