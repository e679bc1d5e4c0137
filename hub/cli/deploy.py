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
    from hub.deployer import DeployResult


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
    governance: Annotated[
        bool,
        typer.Option(
            "--governance",
            help="Also deploy Governance and hand it the admin and federator powers (works on a finished deployment).",
        ),
    ] = False,
    voting_delay: Annotated[
        str | None, typer.Option("--voting-delay", help="With --governance: propose to vote, 30s, 1d [default 1d].")
    ] = None,
    voting_period: Annotated[
        str | None,
        typer.Option("--voting-period", help="With --governance: voting length, < the unbonding period [default 5d]."),
    ] = None,
    timelock_delay: Annotated[
        str | None, typer.Option("--timelock-delay", help="With --governance: queue to execute [default 2d].")
    ] = None,
    quorum: Annotated[
        float | None,
        typer.Option("--quorum", help="With --governance: percent of the stake in custody [default 20]."),
    ] = None,
    proposal_threshold: Annotated[
        str | None, typer.Option("--proposal-threshold", help="With --governance: stake to propose [default 10].")
    ] = None,
    guardian: Annotated[
        str | None,
        typer.Option("--guardian", help="With --governance: an address that may only cancel queued proposals."),
    ] = None,
    guardian_period: Annotated[
        str | None, typer.Option("--guardian-period", help="With --guardian: how long it may cancel [default 30d].")
    ] = None,
    network: NetworkOption = None,
    account: AccountOption = None,
    password_file: PasswordFileOption = None,
    deployments_dir: DeploymentsOption = None,
    json_out: JsonOption = False,
) -> None:
    """Deploy and wire the six contracts and the default WorkRateValidator; resumable, never redone.
    With --governance, hand the admin and federator powers to a Governance contract."""
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
    from hub.cli.options import DeployOptions
    from hub.deployer import deploy
    from hub.errors import HubError
    from hub.networks import MAINNET_CHAIN_ID, connect, resolve_network

    options = DeployOptions(
        unbonding_period=unbonding_period,
        min_stake=min_stake,
        max_rate=max_rate,
        federator=federator,
        validator=validator,
        fresh=fresh,
        confirm_mainnet=confirm_mainnet,
        governance=governance,
        voting_delay=voting_delay,
        voting_period=voting_period,
        timelock_delay=timelock_delay,
        quorum=quorum,
        proposal_threshold=proposal_threshold,
        guardian=guardian,
        guardian_period=guardian_period,
    )
    params = options.system_params()
    settings = options.governance_settings()
    ctx = ChainContext(network, account, password_file, deployments_dir, json_out)

    net = resolve_network(network)
    w3 = connect(net)
    confirm_mainnet = options.confirm_mainnet
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
            params=params,
            federator=options.federator,
            validator=options.validator,
            directory=deployments_dir,
            fresh=options.fresh,
            mainnet_confirmed=confirm_mainnet,
            on_event=progress,
            governance=settings,
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
                "governance": d.governance is not None,
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
    if d.governance is not None:
        typer.echo("governance holds the admin and federator roles: parameters change only by `hub gov` proposals")
    if d.params.validator == d.deployer:
        typer.echo(
            "note: the validator is also the treasury (the deployer), and a slash never pays its validator: "
            "grant VALIDATOR to another account (`hub admin grant validator ADDR`) or move the treasury "
            "(`hub admin set-treasury ADDR`) before slashing"
        )
