"""Entry point of the `hub` command.

Sub-command groups live in their own modules under `hub/cli/`; each keeps heavy imports (vyper,
web3, boa) inside its functions so that `hub --help` starts fast. Packages that sit above `hub`
(the demo, which drives `hub` and `trainer` together) add commands through the
`injective_ai_hub.commands` entry point group: `hub` finds them at run time and never imports them
by name, so no import runs upward.
"""

from __future__ import annotations

import os
from functools import cache
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from hub.cli import account, devnet, network
from hub.cli._chain import DeploymentsOption, JsonOption, NetworkOption, PasswordFileOption, RootAccountOption
from hub.cli.build import build_command
from hub.cli.exits import exit_for, exit_for_usage
from hub.errors import UserError

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

    import click  # annotations only: typer 0.29 runs on its own copy, and click is no dependency

try:  # typer 0.29 runs on its own copy of click
    from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError
except ImportError:  # pragma: no cover - older typer
    from click.exceptions import ClickException, NoArgsIsHelpError, UsageError

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
    "gov": ("hub.cli.gov", "app", "Governance: propose, vote with your stake, queue, execute, show, cancel."),
    "pool": ("hub.cli.pool", "app", "Pools: create, start, end, invite, eject, top up, refund, show."),
    "rewards": ("hub.cli.rewards", "app", "Rewards per work key (locked / claimable / claimed), and claims."),
    "app": ("hub.cli.dashboard", "app", "Serve the web app: live overview, every action signed by your wallet."),
    "dashboard": ("hub.cli.dashboard", "app", "The same as `hub app`."),
}


# @dev Entry point group of the commands that installed packages above `hub` add (name -> a function
#      or a Typer app, as in `_LAZY`).
PLUGIN_GROUP = "injective_ai_hub.commands"


@cache
def _plugins() -> dict[str, EntryPoint]:
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=PLUGIN_GROUP) if ep.name not in _LAZY}


def _load(name: str) -> click.Command:
    import importlib

    if name in _LAZY:
        module, attribute, _ = _LAZY[name]
        target = getattr(importlib.import_module(module), attribute)
    else:
        target = _plugins()[name].load()
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


def _wants_json(ctx: click.Context) -> bool:
    """Whether --json was given anywhere on the command line (before a `--`)."""
    words = [*ctx.protected_args, *ctx.args] if hasattr(ctx, "protected_args") else list(ctx.args)
    words = words[: words.index("--")] if "--" in words else words
    return "--json" in words or bool(ctx.params.get("json_out"))


class _HubGroup(TyperGroup):
    """Turns a `HubError` from any sub-command into one line on stderr, `error: ... (hint: ...)`
    (a JSON object under --json), with the exit status of `hub.errors` (1 failure, 2 usage, 130
    Ctrl+C); a usage error from the parser the same way; anything unexpected into one line naming
    it and --debug (`hub.cli.exits`, which `trainer` shares). Loads the chain commands (`_LAZY`) on
    demand."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        later = [*_LAZY, *_plugins()]
        return [*super().list_commands(ctx), *(name for name in later if name not in self.commands)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and (cmd_name in _LAZY or cmd_name in _plugins()):
            return _load(cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        eager = [(name, self.commands[name].get_short_help_str(80)) for name in super().list_commands(ctx)]
        lazy = [(name, help_text) for name, (_, _, help_text) in _LAZY.items() if name not in self.commands]
        # a plugin's help is its command's docstring: loading it imports only its light command module
        added = [(name, _load(name).get_short_help_str(80)) for name in _plugins() if name not in self.commands]
        with formatter.section("Commands"):
            formatter.write_dl(eager + lazy + added)

    def invoke(self, ctx: click.Context) -> Any:
        as_json = _wants_json(ctx)
        debug = bool(ctx.params.get("debug") or os.environ.get("HUB_DEBUG"))
        try:
            return super().invoke(ctx)
        except NoArgsIsHelpError:
            raise  # `hub provider` alone: the group's help, as asked
        except UsageError as exc:
            raise exit_for_usage(exc, "hub", as_json) from None
        except (typer.Exit, typer.Abort, ClickException):
            raise
        except (Exception, KeyboardInterrupt) as exc:
            if debug:
                if isinstance(exc, UserError) and exc.detail:
                    typer.echo(exc.detail, err=True)
                raise
            raise exit_for(exc, "hub", as_json) from None


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


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"hub {version('injective-ai-hub')}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show full tracebacks instead of one-line errors [env HUB_DEBUG].")
    ] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
    network: NetworkOption = None,
    account: RootAccountOption = None,
    password_file: PasswordFileOption = None,
    deployments_dir: DeploymentsOption = None,
    json_out: JsonOption = False,
) -> None:
    """injective-ai-hub: build, deploy and drive the AI-training marketplace on Injective's EVM.

    The chain options (--network, --account, --password-file, --deployments-dir, --json) may come
    before the command too: `hub --network local status`. Given in both places, the command's wins.
    """


def main() -> None:
    app()


if __name__ == "__main__":
    main()
