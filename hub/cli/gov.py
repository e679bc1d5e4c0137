"""`hub gov ...`: proposals, stake-weighted votes, queue and execute through the timelock (docs/SPEC.md 12)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from hub.cli._chain import ChainContext, chain_command, sub_app

if TYPE_CHECKING:
    from hub.client.governance import Proposal

app = sub_app(
    "Governance: propose changes to the system's parameters and roles, vote with your stake, queue and execute."
)

IdArgument = Annotated[int, typer.Argument(min=1, max=2**256 - 1, help="The proposal id.")]


@chain_command(app, "propose")
def propose(
    ctx: ChainContext,
    description: Annotated[str, typer.Option("--description", "-d", help="What the proposal does, for voters.")],
    set_stake_minimum: Annotated[
        str | None, typer.Option("--set-stake-minimum", help="New stake per compute unit: INJ, or 1000wei.")
    ] = None,
    set_treasury: Annotated[str | None, typer.Option("--set-treasury", help="New treasury address.")] = None,
    grant_validator: Annotated[
        list[str] | None, typer.Option("--grant-validator", help="Give VALIDATOR_ROLE to ADDRESS (repeatable).")
    ] = None,
    revoke_validator: Annotated[
        list[str] | None, typer.Option("--revoke-validator", help="Take VALIDATOR_ROLE from ADDRESS (repeatable).")
    ] = None,
    grant_federator: Annotated[
        list[str] | None, typer.Option("--grant-federator", help="Give FEDERATOR_ROLE to ADDRESS (repeatable).")
    ] = None,
    revoke_federator: Annotated[
        list[str] | None, typer.Option("--revoke-federator", help="Take FEDERATOR_ROLE from ADDRESS (repeatable).")
    ] = None,
    create_domain: Annotated[
        str | None, typer.Option("--create-domain", help="Create a training domain with this name.")
    ] = None,
    domain_validation: Annotated[
        str | None, typer.Option("--domain-validation", help="The new domain's work-validation contract.")
    ] = None,
    domain_uri: Annotated[str, typer.Option("--domain-uri", help="The new domain's parameters URI.")] = "",
    voting_delay: Annotated[str | None, typer.Option("--voting-delay", help="New voting delay: 30s, 1h, 1d.")] = None,
    voting_period: Annotated[str | None, typer.Option("--voting-period", help="New voting period.")] = None,
    timelock_delay: Annotated[str | None, typer.Option("--timelock-delay", help="New timelock delay.")] = None,
    quorum: Annotated[
        float | None, typer.Option("--quorum", help="New quorum, percent of the stake in custody (0.01-100).")
    ] = None,
    proposal_threshold: Annotated[
        str | None, typer.Option("--proposal-threshold", help="New stake a proposer needs: INJ, or 1000wei.")
    ] = None,
) -> None:
    """Propose a batch of changes; each option adds one call. Needs the proposal threshold in active stake."""
    from dataclasses import replace

    from hub.amounts import parse_amount
    from hub.errors import UsageError
    from hub.inputs import parse_address, parse_duration

    if (create_domain is None) != (domain_validation is None):
        raise UsageError("--create-domain and --domain-validation go together", hint="give both, or neither")
    stake_minimum = parse_amount(set_stake_minimum, what="stake minimum") if set_stake_minimum is not None else None
    treasury = parse_address(set_treasury, what="treasury") if set_treasury is not None else None
    roles = [
        (grant, role, parse_address(a))
        for grant, role, given in (
            (True, "validator", grant_validator),
            (False, "validator", revoke_validator),
            (True, "federator", grant_federator),
            (False, "federator", revoke_federator),
        )
        for a in given or []
    ]
    changes = {
        "voting_delay": parse_duration(voting_delay, what="voting delay") if voting_delay is not None else None,
        "voting_period": parse_duration(voting_period, what="voting period") if voting_period is not None else None,
        "timelock_delay": parse_duration(timelock_delay, what="timelock delay") if timelock_delay is not None else None,
        "quorum_bps": round(quorum * 100) if quorum is not None else None,
        "proposal_threshold": (
            parse_amount(proposal_threshold, what="proposal threshold") if proposal_threshold is not None else None
        ),
    }
    if quorum is not None and not 1 <= changes["quorum_bps"] <= 10_000:
        raise UsageError(f"--quorum {quorum:g} is out of range", hint="a percentage from 0.01 to 100")

    gov = ctx.client().governance
    calls = []
    if stake_minimum is not None:
        calls.append(gov.stake_minimum_call(stake_minimum))
    if treasury is not None:
        calls.append(gov.treasury_call(treasury))
    calls += [gov.role_call(grant, role, address) for grant, role, address in roles]
    if create_domain is not None and domain_validation is not None:
        calls.append(gov.create_domain_call(create_domain, domain_validation, domain_uri))
    given = {k: v for k, v in changes.items() if v is not None}
    if given:
        calls.append(gov.parameters_call(replace(gov.params(), **given)))
    if not calls:
        raise UsageError("the proposal changes nothing", hint="add e.g. --set-stake-minimum 2 (see --help)")
    result = gov.propose(calls, description)
    ctx.print_tx(
        result,
        f"proposal {result.proposal_id}: " + "; ".join(c.description for c in calls),
        proposal_id=result.proposal_id,
        calls=[c.description for c in calls],
        vote_start=result.vote_start,
        vote_end=result.vote_end,
        quorum=result.quorum,
    )


@chain_command(app, "vote")
def vote(
    ctx: ChainContext,
    proposal_id: IdArgument,
    support: Annotated[str, typer.Argument(help="for, against or abstain.")],
) -> None:
    """Vote with your whole active stake; it cannot unbond until the vote ends."""
    from hub.amounts import format_inj
    from hub.client.governance import parse_support

    choice = parse_support(support)
    result = ctx.client().governance.vote(proposal_id, choice)
    ctx.print_tx(
        result,
        f"voted {result.support} on proposal {proposal_id} with {format_inj(result.weight)}",
        proposal_id=proposal_id,
        support=result.support,
        weight=result.weight,
    )


@chain_command(app, "recount")
def recount(
    ctx: ChainContext,
    proposal_id: IdArgument,
    voter: Annotated[str, typer.Argument(help="The voter whose stake was slashed.")],
) -> None:
    """Lower a vote to the voter's active stake after a slash (anyone, while voting is open)."""
    from hub.amounts import format_inj
    from hub.inputs import parse_address

    address = parse_address(voter, what="voter")
    result = ctx.client().governance.recount(proposal_id, address)
    ctx.print_tx(
        result,
        f"{address}'s vote on proposal {proposal_id} now weighs {format_inj(result.weight)} "
        f"(was {format_inj(result.previous_weight)})",
        proposal_id=proposal_id,
        voter=address,
        weight=result.weight,
        previous_weight=result.previous_weight,
    )


@chain_command(app, "queue")
def queue(ctx: ChainContext, proposal_id: IdArgument) -> None:
    """Put a succeeded proposal in the timelock (anyone)."""
    client = ctx.client()
    result = client.governance.queue(proposal_id)
    wait = max(result.eta - client.now(), 0)
    ctx.print_tx(
        result, f"proposal {proposal_id} queued: executable in {wait} s", proposal_id=proposal_id, eta=result.eta
    )


@chain_command(app, "execute")
def execute(ctx: ChainContext, proposal_id: IdArgument) -> None:
    """Run a queued proposal's changes once its timelock delay has passed (anyone)."""
    result = ctx.client().governance.execute(proposal_id)
    ctx.print_tx(result, f"proposal {proposal_id} executed", proposal_id=proposal_id)


@chain_command(app, "cancel")
def cancel(ctx: ChainContext, proposal_id: IdArgument) -> None:
    """Cancel a proposal: its proposer before voting starts, the guardian while it is queued."""
    result = ctx.client().governance.cancel(proposal_id)
    ctx.print_tx(result, f"proposal {proposal_id} canceled", proposal_id=proposal_id)


def _as_data(p: Proposal, now: int) -> dict:
    return {
        "id": p.id,
        "proposer": p.proposer,
        "state": p.state,
        "vote_start": p.vote_start,
        "vote_end": p.vote_end,
        "eta": p.eta,
        "now": now,
        "quorum": p.quorum,
        "for_votes": p.for_votes,
        "against_votes": p.against_votes,
        "abstain_votes": p.abstain_votes,
        "calls": [c.description for c in p.calls],
    }


@chain_command(app, "show")
def show(
    ctx: ChainContext,
    proposal_id: Annotated[
        int | None, typer.Argument(min=1, max=2**256 - 1, help="The proposal [default: all of them].")
    ] = None,
) -> None:
    """Show proposals with their state, tallies, quorum and changes, and governance's parameters."""
    from hub.amounts import format_inj

    client = ctx.client(sign=False)
    gov = client.governance
    ids = [proposal_id] if proposal_id is not None else list(range(1, gov.proposal_count() + 1))
    proposals = [gov.proposal(i) for i in ids]
    now = client.now()
    params = gov.params()
    guardian, guardian_until = gov.guardian()

    def render() -> None:
        if proposal_id is None:
            typer.echo(
                f"governance {gov.address}: voting delay {params.voting_delay} s, voting period "
                f"{params.voting_period} s, timelock {params.timelock_delay} s, quorum {params.quorum_bps / 100:g}%, "
                f"proposal threshold {format_inj(params.proposal_threshold)}"
            )
            if guardian_until > now:
                typer.echo(f"guardian {guardian} may cancel queued proposals for {guardian_until - now} s more")
            if not proposals:
                typer.echo("no proposals yet")
        for p in proposals:
            quorum = "reached" if p.quorum_reached else "not reached"
            typer.echo(
                f"proposal {p.id} [{p.state}] by {p.proposer}: for {format_inj(p.for_votes)}, against "
                f"{format_inj(p.against_votes)}, abstain {format_inj(p.abstain_votes)}; quorum "
                f"{format_inj(p.quorum)} {quorum}"
            )
            if p.state == "pending":
                typer.echo(f"  voting opens in {p.vote_start - now} s")
            elif p.state == "active":
                typer.echo(f"  voting closes in {p.vote_end - now} s")
            elif p.state == "queued":
                typer.echo(f"  executable in {max(p.eta - now, 0)} s")
            for call in p.calls:
                typer.echo(f"  - {call.description}")

    data = {
        "address": gov.address,
        "parameters": {
            "voting_delay": params.voting_delay,
            "voting_period": params.voting_period,
            "timelock_delay": params.timelock_delay,
            "quorum_bps": params.quorum_bps,
            "proposal_threshold": params.proposal_threshold,
        },
        "guardian": guardian,
        "guardian_until": guardian_until,
        "proposals": [_as_data(p, now) for p in proposals],
    }
    ctx.print_data(data, render)
