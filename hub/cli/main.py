"""Entry point of the `hub` command.

Sub-command groups live in their own modules under `hub/cli/`; each keeps heavy imports (vyper,
web3, boa) inside its functions so that `hub --help` starts fast.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="hub",
    help="injective-ai-hub: build, deploy and drive the AI-training marketplace on Injective's EVM.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
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
