"""`hub demo` reaches `hub` through the `injective_ai_hub.commands` entry point (hub never imports
the demo package), and says in one line which extra to install when the demo's libraries are missing."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub.cli.main import PLUGIN_GROUP, app


def test_the_demo_command_is_registered_as_an_entry_point() -> None:
    [entry] = [ep for ep in entry_points(group=PLUGIN_GROUP) if ep.name == "demo"]
    assert entry.value == "aihub_demo.command:demo"


def test_hub_demo_help_as_typed(tmp_path: Path) -> None:
    """The installed `hub` script, from a folder outside the checkout, finds the command."""
    hub = Path(sys.executable).with_name("hub")
    result = subprocess.run([str(hub), "demo", "--help"], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "--simulate" in result.stdout and "--epochs" in result.stdout


@pytest.mark.parametrize(
    ("args", "missing", "expected"),
    [
        (
            ["demo", "--simulate"],
            {"boa"},
            "error: `hub demo --simulate` needs the sim extra, not installed "
            "(hint: pip install 'injective-ai-hub[sim]')",
        ),
        (
            ["demo", "--workdir", "unused"],
            {"torch", "hivemind"},
            "error: `hub demo` needs the train extra, not installed (hint: pip install 'injective-ai-hub[train]')",
        ),
    ],
)
def test_a_missing_extra_is_one_line(monkeypatch, tmp_path: Path, args, missing, expected) -> None:
    import importlib.util

    import aihub_demo.command

    real = importlib.util.find_spec
    monkeypatch.setattr(aihub_demo.command, "find_spec", lambda name: None if name in missing else real(name))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    assert result.output.splitlines() == [expected]
    assert list(tmp_path.iterdir()) == []  # refused before doing anything
