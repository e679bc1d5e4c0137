"""The `hub` command as a whole: light start-up, one-line errors, --debug tracebacks."""

from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

from hub.cli.main import app

runner = CliRunner()


def test_help_does_not_import_heavy_libraries() -> None:
    probe = (
        "import sys; from hub.cli.main import app; from typer.testing import CliRunner; "
        "assert CliRunner().invoke(app, ['--help']).exit_code == 0; "
        "print(sorted(m for m in ('web3', 'vyper', 'boa', 'eth_account', 'pydantic', 'torch') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_every_group_is_registered() -> None:
    result = runner.invoke(app, ["--help"])
    for command in ("devnet", "account", "network", "build", "demo"):
        assert command in result.output


def test_user_errors_are_one_line_and_debug_shows_the_traceback() -> None:
    plain = runner.invoke(app, ["network", "check", "no-such-network"])
    assert plain.exit_code == 1
    assert plain.output.startswith("error: unknown network 'no-such-network' (hint: one of ")
    assert plain.output.count("\n") == 1
    debug = runner.invoke(app, ["--debug", "network", "check", "no-such-network"])
    assert debug.exit_code == 1
    assert type(debug.exception).__name__ == "HubError"
