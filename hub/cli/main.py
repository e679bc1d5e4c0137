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


class _HubGroup(TyperGroup):
    """Turns a `HubError` from any sub-command into `error: ...` on stderr and exit status 1."""

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
def demo() -> None:
    """Run the main job end to end and print what happened."""
    from hub.demo import run_demo

    run_demo()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
