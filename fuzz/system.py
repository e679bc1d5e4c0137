"""The contracts the fuzz suite runs against, deployed as `aihub_demo.evm_system` deploys them.

The suite compiles from `hub.paths.contracts_dir()`: `contracts_vy/` by default, or the folder in
`HUB_CONTRACTS_DIR`. `fuzz/mutants.py` uses that variable to point the suite at a mutated copy of
the contracts without touching the real ones.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from aihub_demo import evm_system as simulation
from aihub_demo.evm_system import System
from hub.contracts import DEPLOYABLE, SystemParams
from hub.paths import contracts_dir

RECEIVER_SOURCE = Path(__file__).resolve().parents[1] / "tests" / "contracts" / "attackers" / "MaliciousReceiver.vy"

__all__ = ["System", "deploy", "deploy_contract", "deployers"]


def deployers() -> dict[str, Any]:
    """Every deployable contract of the configured contracts dir, plus the malicious receiver, compiled once."""
    out = {name: simulation.deployer(name, _root()) for name in DEPLOYABLE}
    out["MaliciousReceiver"] = _receiver()
    return out


def deploy_contract(name: str, *args: Any, sender: str) -> Any:
    """Deploy one contract of `deployers()` as `sender`."""
    if name == "MaliciousReceiver":
        return simulation.deploy(_receiver(), *args, sender=sender)
    return simulation.deploy(simulation.deployer(name, _root()), *args, sender=sender)


def deploy(admin: str, federator: str, validator: str, params: SystemParams) -> System:
    """The whole system, wired, from the configured contracts dir."""
    return simulation.deploy_system(admin, federator, validator, params, root=_root())


def _root() -> Path:
    # resolved, so the compile cache in aihub_demo.evm_system sees one key per folder
    return contracts_dir().resolve()


@cache
def _receiver() -> Any:
    return simulation.load_partial(RECEIVER_SOURCE, _root())
