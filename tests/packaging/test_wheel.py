"""The built wheel installs anywhere: a fresh virtual environment (no system site-packages) gets the
wheel and its `devnet` extra from the package index or pip's cache, and from an empty folder
`hub devnet start`, `hub deploy` and `hub status` work with no compiler installed, from the contract
artifacts the wheel ships; a shipped source that no longer matches its artifact is refused in one line.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from hub import paths
from hub.devnet import free_ports

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "wheel-test-password"
# @dev Wall-clock bounds per step, so a hung build or node fails the test instead of CI's job.
PIP_TIMEOUT_S = 900
HUB_TIMEOUT_S = 300


def _source_copy(target: Path) -> Path:
    """The checkout's files as git sees them (tracked and new, not ignored): no stale build/ output."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, (n.decode() for n in listed)):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted in the working tree is not copied
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def _run(args: list[str], timeout: float, **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kwargs)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel and its devnet extra; returns its bin folder."""
    root = tmp_path_factory.mktemp("wheel")
    source = _source_copy(root / "source")
    built = _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(root / "dist"), str(source)],
        PIP_TIMEOUT_S,
    )
    assert built.returncode == 0, built.stderr
    [wheel] = (root / "dist").glob("injective_ai_hub-*.whl")
    venv.EnvBuilder(with_pip=True, system_site_packages=False).create(root / "venv")
    bin_dir = root / "venv" / "bin"
    install = _run([str(bin_dir / "python"), "-m", "pip", "install", "-q", f"{wheel}[devnet]"], PIP_TIMEOUT_S)
    assert install.returncode == 0, install.stderr
    return bin_dir


def test_wheel_deploys_from_an_empty_folder(installed: Path, tmp_path: Path) -> None:
    python = installed / "python"
    for compiler in ("vyper", "boa"):  # the shipped artifacts stand in for a compiler
        probe = _run([str(python), "-c", f"import {compiler}"], 60)
        assert probe.returncode != 0, f"{compiler} is installed in the fresh venv"
    ports = free_ports()
    offset = ports.json_rpc - 8545
    work = tmp_path / "empty"
    work.mkdir()
    env = {
        "PATH": f"{installed}{os.pathsep}/usr/bin:/bin",
        "HOME": str(tmp_path / "home"),
        "HUB_DEVNET_HOME": str(tmp_path / "devnet"),
        "HUB_KEYSTORE_DIR": str(tmp_path / "keystores"),
        "HUB_CONFIG": str(tmp_path / "networks.toml"),
        # the genesis template is a cache keyed by the node binary: reuse the developer's
        "HUB_CACHE_DIR": str(paths.cache_dir()),
        "HUB_NETWORK": f"http://127.0.0.1:{ports.json_rpc}",
        "HUB_PASSWORD": PASSWORD,
    }

    def hub(*args: str) -> subprocess.CompletedProcess[str]:
        return _run([str(installed / "hub"), *args], HUB_TIMEOUT_S, cwd=work, env=env)

    started = hub("devnet", "start", "--port-offset", str(offset))
    try:
        assert started.returncode == 0, started.stderr
        assert hub("account", "import", "--dev", "0", "admin").returncode == 0
        deployed = hub("deploy", "--account", "admin")
        assert deployed.returncode == 0, deployed.stderr
        assert (work / "deployments" / "777.json").is_file()
        status = hub("status", "--json")
        assert status.returncode == 0, status.stderr
        assert '"InjectiveAiHub"' in status.stdout
        assert sorted(p.name for p in work.iterdir()) == ["deployments"]  # nothing compiled here

        site = next((installed.parent / "lib").glob("python3*/site-packages"))
        shipped = site / "hub" / "contracts_vy" / "StakeManager.vy"
        shipped.write_text(shipped.read_text() + "\n# edited\n")
        refused = hub("deploy", "--account", "admin", "--fresh")
        assert refused.returncode == 1
        [line] = refused.stderr.splitlines()
        assert "contracts_vy/StakeManager.vy changed (used by StakeManager)" in line
        assert line.startswith("error: ") and "run `hub build`" in line
    finally:
        stopped = hub("devnet", "stop")
    assert stopped.returncode == 0, stopped.stderr
