"""`hub status`: the network, the deployment, its domains and pools, and the --account's standing."""

from __future__ import annotations

import typer

from hub.cli._chain import ChainContext, chain_command
from hub.cli._output import print_fields, print_table

app = typer.Typer(rich_markup_mode=None)


@chain_command(app, "status")
def status(ctx: ChainContext) -> None:
    """Show the chain, the deployed contracts and parameters, domains, pools and your account."""
    from hub.amounts import format_inj
    from hub.manifest import manifest_path

    client = ctx.client(sign=False)
    d = client.deployment
    data = {
        "chain_id": client.chain_id,
        "block": client.block_number(),
        "manifest": str(manifest_path(client.chain_id, ctx.deployments_dir)),
        "deployer": d.deployer,
        "contracts": {name: r.address for name, r in d.contracts.items()},
        "treasury": client.hub.treasury(),
        "min_stake_per_compute_unit": client.hub.min_stake_per_compute_unit(),
        "unbonding_period": client.stake.unbonding_period(),
        "slashed_pending": client.stake.slashed_pending(),
        "domains": [dom.model_dump(mode="json") for dom in client.domains.list()],
        "pool_count": client.pool.count(),
    }
    if ctx.account is not None:
        from hub.bech32 import inj_address

        me = ctx.address(None, "account")
        data["account"] = {
            "name": ctx.account,
            "address": me,
            "inj_address": inj_address(me),
            "balance": client.balance(me),
            "roles": client.hub.roles_of(me),
        }

    def render() -> None:
        print_fields(
            f"chain {data['chain_id']} at block {data['block']}",
            [
                ("manifest", data["manifest"]),
                *((name, address or "-") for name, address in data["contracts"].items()),
                ("treasury", data["treasury"]),
                ("stake per unit", format_inj(data["min_stake_per_compute_unit"])),
                ("unbonding period", f"{data['unbonding_period']} s"),
                ("slashed, unswept", format_inj(data["slashed_pending"])),
                ("pools", str(data["pool_count"])),
            ],
        )
        print_table(
            "domains",
            ["id", "name", "validation", "uri"],
            [[str(x["domain_id"]), x["name"], x["validation_logic"], x["uri"] or "-"] for x in data["domains"]],
        )
        if "account" in data:
            acc = data["account"]
            print_fields(
                f"account {acc['name']}",
                [
                    ("address", acc["address"]),
                    ("inj address", acc["inj_address"]),
                    ("balance", format_inj(acc["balance"])),
                    ("roles", ", ".join(acc["roles"]) or "none"),
                ],
            )

    ctx.print_data(data, render)
