"""Entry point of the `hub` command.

Sub-command groups live in their own modules under `hub/cli/`; each keeps heavy imports (vyper,
web3, boa) inside its functions so that `hub --help` starts fast.
"""

from __future__ import annotations

import os
from typing import Annotated, Any

import click
import typer
from typer.core import TyperGroup

from hub.cli import account, devnet, network
from hub.cli.build import build_command
from hub.errors import HubError

try:  # typer 0.29 runs on its own copy of click
    from typer._click.exceptions import NoArgsIsHelpError, UsageError
except ImportError:  # pragma: no cover - older typer
    from click.exceptions import NoArgsIsHelpError, UsageError

# @dev Commands whose module is imported only when they run: name -> (module, attribute, short help).
#      An attribute that is a Typer app is a group; a function is a single command. Building ~45
#      chain commands up front would make `hub --help` half again as slow.
_LAZY: dict[str, tuple[str, str, str]] = {
    "deploy": ("hub.cli.deploy", "deploy_command", "Deploy and wire the contracts (resumable) and write the manifest."),
    "status": ("hub.cli.status", "app", "Show the chain, the deployment, domains, pools and your account."),
    "provider": ("hub.cli.provider", "app", "Providers: register, stake, add and remove nodes, leave."),
    "node": ("hub.cli.node", "app", "Node keys: attest, join a pool, leave, submit work."),
    "validator": ("hub.cli.validator", "app", "Validators: police providers, nodes and work."),
    "federator": ("hub.cli.federator", "app", "Federators: create training domains, set the stake minimum."),
    "admin": ("hub.cli.admin", "app", "Admins: roles, treasury, sweep slashed INJ."),
    "pool": ("hub.cli.pool", "app", "Pools: create, start, end, invite, eject, top up, refund, show."),
    "rewards": ("hub.cli.rewards", "app", "Rewards per work key (locked / claimable / claimed), and claims."),
    "dashboard": ("hub.cli.dashboard", "app", "Serve a web page of providers, nodes, pools, progress and rewards."),
}


def _load(name: str) -> click.Command:
    import importlib

    module, attribute, _ = _LAZY[name]
    target = getattr(importlib.import_module(module), attribute)
    if isinstance(target, typer.Typer):
        command = (
            typer.main.get_group(target) if target.registered_groups or len(target.registered_commands) > 1 else None
        )
        command = command or typer.main.get_command(target)
    else:
        single = typer.Typer(rich_markup_mode=None)
        single.command(name)(target)
        command = typer.main.get_command(single)
    command.name = name
    return command


class _HubGroup(TyperGroup):
    """Turns a `HubError` from any sub-command into `error: ...` on stderr and exit status 1 (and a
    usage error into one such line with exit status 2), and loads the chain commands (`_LAZY`) on
    demand."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*super().list_commands(ctx), *(name for name in _LAZY if name not in self.commands)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in _LAZY and cmd_name not in self.commands:
            return _load(cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        eager = [(name, self.commands[name].get_short_help_str(80)) for name in super().list_commands(ctx)]
        lazy = [(name, help_text) for name, (_, _, help_text) in _LAZY.items() if name not in self.commands]
        with formatter.section("Commands"):
            formatter.write_dl(eager + lazy)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except HubError as exc:
            if ctx.params.get("debug") or os.environ.get("HUB_DEBUG"):
                if exc.detail:
                    typer.echo(exc.detail, err=True)
                raise
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
        except NoArgsIsHelpError:
            raise  # `hub provider` alone: the group's help, as asked
        except UsageError as exc:
            # a mistyped command or option: one line too, instead of click's usage block
            where = exc.ctx.command_path if exc.ctx is not None else "hub"
            typer.echo(f"error: {exc.format_message()} (hint: `{where} --help` shows the usage)", err=True)
            raise typer.Exit(exc.exit_code) from None


app = typer.Typer(
    name="hub",
    cls=_HubGroup,
    help="injective-ai-hub: build, deploy and drive the AI-training marketplace on Injective's EVM.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # Plain click help: rich-formatted help imports rich's markdown stack and doubles start-up
    # (0.25 s vs 0.13 s for `hub --help`); tables and progress still use rich.
    rich_markup_mode=None,
)
app.add_typer(devnet.app, name="devnet")
app.add_typer(account.app, name="account")
app.add_typer(network.app, name="network")
app.command("build")(build_command)


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks instead of one-line errors.")] = False,
) -> None:
    """injective-ai-hub: build, deploy and drive the AI-training marketplace on Injective's EVM."""


@app.command()
def demo(
    simulate: Annotated[
        bool, typer.Option("--simulate", help="Run the contract cycle on an in-process EVM instead (seconds).")
    ] = False,
    workdir: Annotated[str, typer.Option(help="Where the chain, keystores, peers and plot go.")] = "runs/demo",
    epochs: Annotated[int, typer.Option(help="Collaborative epochs to train.", min=1)] = 4,
    keep_chain: Annotated[bool, typer.Option("--keep-chain", help="Leave the local chain running afterwards.")] = False,
) -> None:
    """Run the main job end to end on a local chain: deploy, stake, pool, train, audit, claim."""
    if simulate:
        from hub.demo_sim import run_demo as run_simulated

        run_simulated()
        return
    from pathlib import Path

    from hub.demo import DemoSettings, run_demo

    run_demo(DemoSettings(workdir=Path(workdir), epochs=epochs, keep_chain=keep_chain))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
