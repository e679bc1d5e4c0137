"""`hub demo`: registered under the `injective_ai_hub.commands` entry point group, which `hub`
reads at run time; this module stays light (typer only) because `hub --help` imports it."""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path
from typing import Annotated

import typer

# @dev What each form of the demo imports, by the extra that installs it.
_SIMULATED_NEEDS = {"boa": "sim"}
# @dev The local chain's `injectived` may also come from PATH, so `hub devnet` reports it missing itself.
_LOCAL_CHAIN_NEEDS = {"torch": "train", "hivemind": "train"}


def _require(needs: dict[str, str], what: str) -> None:
    """One line naming the missing extras and the install command, before anything heavy runs."""
    from hub.errors import HubError

    missing = sorted({extra for module, extra in needs.items() if find_spec(module) is None})
    if missing:
        raise HubError(
            f"{what} needs the {', '.join(missing)} extra{'s' if len(missing) > 1 else ''}, not installed",
            hint=f"pip install 'injective-ai-hub[{','.join(missing)}]'",
        )


def demo(
    simulate: Annotated[
        bool, typer.Option("--simulate", help="Run the contract cycle on an in-process EVM instead (seconds).")
    ] = False,
    workdir: Annotated[str, typer.Option(help="Where the chain, keystores, peers and plot go.")] = "runs/demo",
    epochs: Annotated[int, typer.Option(help="Collaborative epochs to train.", min=1)] = 4,
    keep_chain: Annotated[bool, typer.Option("--keep-chain", help="Leave the local chain running afterwards.")] = False,
    attacker: Annotated[
        str | None,
        typer.Option(
            metavar="KIND",
            help="Add a node of a second provider that attacks as KIND (scale1e3, nan, noise, signflip, weight, "
            "epoch, outsider, badstate, junkstate, liar), with robust aggregation on; exits 0 only if it is caught "
            "and no honest node is penalized.",
        ),
    ] = None,
) -> None:
    """Run the main job end to end on a local chain: deploy, stake, pool, train, audit, claim."""
    if attacker is not None:
        _check_attacker(attacker, simulate)
    if simulate:
        _require(_SIMULATED_NEEDS, "`hub demo --simulate`")
        from aihub_demo.in_process import run_demo as run_simulated

        run_simulated()
        return
    _require(_LOCAL_CHAIN_NEEDS, "`hub demo`")
    from aihub_demo.local_chain import DemoSettings, run_demo

    run_demo(DemoSettings(workdir=Path(workdir), epochs=epochs, keep_chain=keep_chain, attacker=attacker))


def _check_attacker(kind: str, simulate: bool) -> None:
    """Refuse a kind `trainer.training.attacks` does not know, or an attacker in the simulation."""
    from hub.errors import UsageError
    from trainer.training.attacks import KINDS, POOL_KINDS

    kinds = (*KINDS, *POOL_KINDS)
    if kind not in kinds:
        raise UsageError(f"--attacker {kind!r} is not an attack kind", hint=f"use one of {', '.join(kinds)}")
    if simulate:
        raise UsageError(
            "--attacker runs real trainer peers on the local chain, --simulate runs none",
            hint="drop --simulate",
        )
