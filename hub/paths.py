"""Where `hub` keeps its files on this machine: one place for every default directory.

Each default follows the XDG base-directory layout and can be moved with an environment variable:

| what | default | env |
|---|---|---|
| local chain home | ~/.local/share/injective-ai-hub/devnet | HUB_DEVNET_HOME |
| keystores | ~/.local/share/injective-ai-hub/keystores | HUB_KEYSTORE_DIR |
| network config | ~/.config/injective-ai-hub/networks.toml | HUB_CONFIG |
| cache (devnet genesis templates) | ~/.cache/injective-ai-hub | HUB_CACHE_DIR |
| contracts to build | <repo>/contracts_vy | HUB_CONTRACTS_DIR |
| build artifacts | <contracts dir>/../build | HUB_BUILD_DIR |
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


def repo_root() -> Path:
    """The source checkout this package runs from (the package is installed editable)."""
    return Path(__file__).resolve().parent.parent


def contracts_dir() -> Path:
    return _env_path("HUB_CONTRACTS_DIR") or repo_root() / "contracts_vy"


def build_dir(contracts: Path | None = None) -> Path:
    return _env_path("HUB_BUILD_DIR") or (contracts or contracts_dir()).resolve().parent / "build"
