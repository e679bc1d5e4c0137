"""Entry point of the `trainer` command. Heavy imports (torch, hivemind) stay inside the commands."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="trainer",
    help="Train a pool's LLaMA model with hivemind peers and submit the work on chain.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Collaborative LLaMA training for injective-ai-hub pools."""


def main() -> None:
    app()


if __name__ == "__main__":
    main()
