"""Where `hub` keeps its files on this machine: one place for every default directory.

Each default follows the XDG base-directory layout and can be moved with an environment variable:

| what | default | env |
|---|---|---|
| local chain home | ~/.local/share/injective-ai-hub/devnet | HUB_DEVNET_HOME |
| keystores | ~/.local/share/injective-ai-hub/keystores | HUB_KEYSTORE_DIR |
| network config | ~/.config/injective-ai-hub/networks.toml | HUB_CONFIG |
| cache (devnet genesis templates) | ~/.cache/injective-ai-hub | HUB_CACHE_DIR |
| contract sources | `hub/contracts_vy` (wheel), else `<checkout>/contracts_vy` | HUB_CONTRACTS_DIR |
| compiled artifacts | `hub/artifacts` (wheel), else `build/` beside the contract sources | HUB_BUILD_DIR |

The wheel ships the contract sources and their compiled, hash-checked artifacts inside the `hub`
package (setup.py puts them there when it builds the wheel), so an installed `hub` deploys without a
compiler; an editable install or a checkout uses `contracts_vy/` and compiles into `build/`.
"""

from __future__ import annotations

import os
from pathlib import Path

APP_DIR_NAME = "injective-ai-hub"


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value).expanduser() if value else None


def _xdg(var: str, fallback: str) -> Path:
    return (_env_path(var) or Path.home() / fallback) / APP_DIR_NAME


def data_dir() -> Path:
    """Base directory for persistent data (XDG_DATA_HOME)."""
    return _xdg("XDG_DATA_HOME", ".local/share")


def devnet_home() -> Path:
    return _env_path("HUB_DEVNET_HOME") or data_dir() / "devnet"


def keystore_dir() -> Path:
    return _env_path("HUB_KEYSTORE_DIR") or data_dir() / "keystores"


def config_file() -> Path:
    return _env_path("HUB_CONFIG") or _xdg("XDG_CONFIG_HOME", ".config") / "networks.toml"


def cache_dir() -> Path:
    return _env_path("HUB_CACHE_DIR") or _xdg("XDG_CACHE_HOME", ".cache")


# @dev Where a wheel puts the contract sources and their artifacts (setup.py); absent in a checkout.
SHIPPED_CONTRACTS = Path(__file__).resolve().parent / "contracts_vy"
SHIPPED_ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


def repo_root() -> Path:
    """The source checkout this package runs from, when it is installed editable."""
    return Path(__file__).resolve().parent.parent


def default_contracts_dir() -> Path:
    """The contract sources that came with this `hub`: the wheel's copy, else the checkout's."""
    return SHIPPED_CONTRACTS if SHIPPED_CONTRACTS.is_dir() else repo_root() / "contracts_vy"


def contracts_dir() -> Path:
    """The contract sources to build and deploy: HUB_CONTRACTS_DIR, else `default_contracts_dir()`."""
    return _env_path("HUB_CONTRACTS_DIR") or default_contracts_dir()


def build_dir(contracts: Path | None = None) -> Path:
    """The compiled artifacts of `contracts` (default: `contracts_dir()`): HUB_BUILD_DIR, else the
    wheel's `hub/artifacts` for the wheel's sources, else `build/` beside the contracts folder."""
    env = _env_path("HUB_BUILD_DIR")
    if env is not None:
        return env
    contracts = (contracts or contracts_dir()).resolve()
    return SHIPPED_ARTIFACTS if contracts == SHIPPED_CONTRACTS else contracts.parent / "build"
