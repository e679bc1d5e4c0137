"""Conventions users bring with them: --version, exit codes, help at 80 columns with defaults, global
options before the command, JSON errors, inj1 addresses, whole addresses in tables, the local dev
signer. Commands run as typed (subprocesses) where the terminal or the process boundary matters."""

from __future__ import annotations

import json
import os
import subprocess
from importlib.metadata import version

import click
import pytest
import typer

from hub.bech32 import inj_address
from hub.cli.main import app
from hub.devkeys import dev_account
from tests.hub.helpers import INJ, hub_executable, run_hub


def _hub(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [hub_executable(), *args],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )


def test_version() -> None:
    result = _hub("--version")
    assert result.returncode == 0 and result.stdout == f"hub {version('injective-ai-hub')}\n"


def _leaf_commands() -> list[tuple[list[str], click.Command]]:
    """Every runnable command, lazily loaded groups included, with its path."""
    root = typer.main.get_command(app)
    found = []

    def walk(path: list[str], command: click.Command) -> None:
        if hasattr(command, "list_commands"):
            ctx = click.Context(command)
            for name in command.list_commands(ctx):
                walk([*path, name], command.get_command(ctx, name))
        else:
            found.append((path, command))

    walk([], root)
    return found


def test_help_at_80_columns_keeps_option_names_whole_and_shows_defaults() -> None:
    commands = _leaf_commands()
    assert len(commands) > 40
    for path, command in commands:
        result = run_hub(*path, "--help", env={"COLUMNS": "80"})
        for param in command.params:
            for name in getattr(param, "opts", []):
                if name.startswith("-"):
                    assert name in result.output, f"hub {' '.join(path)} --help cuts {name}"
            default = getattr(param, "default", None)
            shown = getattr(param, "show_default", True) is not False
            if isinstance(param, click.Option) and not param.is_flag and default not in (None, "", ()) and shown:
                assert f"[default: {default}]" in " ".join(result.output.split()), (
                    f"hub {' '.join(path)} --help does not show the default of {param.opts[0]}"
                )


def test_exit_codes_usage_is_2_failure_is_1(world) -> None:
    usage = _hub("pool", "show", "abc")
    assert usage.returncode == 2 and usage.stderr.startswith("error: Invalid value for 'pool_id'")
    # options that exclude each other are a usage error too, found before anything connects
    both = _hub("node", "submit-work", "1", "--units", "5", "--work-key", "0x" + "1" * 64, "--key-text", "x")
    assert both.returncode == 2 and both.stderr.startswith("error: give exactly one of --work-key and --key-text")
    failure = _hub("pool", "show", "999")
    assert failure.returncode == 1 and failure.stderr.startswith("error: no pool 999")


def test_chain_options_before_the_command(world) -> None:
    placed_first = _hub("--network", "local", "--json", "status")
    assert placed_first.returncode == 0, placed_first.stderr
    assert json.loads(placed_first.stdout)["chain_id"] == 777
    # the command's own option wins over the one before it
    provider = world.actor("conv-provider")
    shown = _hub("--account", world.admin.name, "--json", "provider", "show", "--account", provider.name)
    assert json.loads(shown.stdout)["address"] == provider.address


def test_errors_are_json_under_json(world) -> None:
    result = _hub("--json", "pool", "show", "999")
    assert result.returncode == 1 and result.stdout == ""
    error = json.loads(result.stderr)
    assert error == {"error": "no pool 999", "hint": "`hub pool list` shows the pools", "exit_code": 1}
    usage = json.loads(_hub("pool", "show", "--json", "--", "-1").stderr)
    assert usage["exit_code"] == 2 and "greater than or equal to 0" in usage["error"]


def test_inj1_addresses_are_accepted_and_shown(world) -> None:
    provider = world.actor("conv-inj")
    native = inj_address(provider.address)
    shown = json.loads(_hub("provider", "show", native, "--json").stdout)
    assert shown["address"] == provider.address and shown["inj_address"] == native
    table = _hub("provider", "show", native)
    assert f"provider {provider.address} ({native})" in table.stdout


def test_tables_never_cut_addresses_even_in_a_pipe(world) -> None:
    provider = world.actor("conv-table")
    result = _hub("account", "list", env={"COLUMNS": "60"})
    assert result.returncode == 0
    assert provider.address in result.stdout and inj_address(provider.address) in result.stdout


@pytest.mark.parametrize("argv", [["provider", "fund-node"]])
def test_local_chain_signs_with_dev_account_0_and_says_so(world, argv: list[str]) -> None:
    receiver = world.actor("conv-receiver", fund_wei=0)
    w3 = world.client().w3
    sender = dev_account(0).address
    nonce = w3.eth.get_transaction_count(sender)
    result = _hub(*argv, receiver.address, "0.001")
    assert result.returncode == 0, result.stderr
    assert f"note: no --account: signing with dev account 0 ({sender}) on the local chain" in result.stderr
    assert w3.eth.get_balance(receiver.address) == INJ // 1000
    assert w3.eth.get_transaction_count(sender) == nonce + 1


def test_wei_are_decimal_strings_in_json(world) -> None:
    provider = world.actor("conv-wei")
    shown = json.loads(_hub("provider", "show", provider.address, "--json").stdout)
    # 100 INJ is 10**20 wei: more than a JSON reader that uses doubles keeps exactly
    assert shown["balance"] == str(world.client().balance(provider.address)) and shown["stake"] == "0"
    status = json.loads(_hub("status", "--json").stdout)
    assert status["min_stake_per_compute_unit"] == str(world.client().hub.min_stake_per_compute_unit())
    assert isinstance(status["chain_id"], int)  # only wei become strings
