"""The typed option models of the `hub` commands with many options (hub/cli/options.py): every option
of the command is a field of its model and the reverse, and a command line as typed parses into the
values the client is given (wei, seconds, checksummed addresses). No chain is needed."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.errors import HubError
from tests.hub.helpers import run_hub


def _pool_create():
    import typer

    from hub.cli.pool import app

    return typer.main.get_group(app).commands["create"]


def test_every_pool_create_option_is_a_field_of_its_model() -> None:
    from hub.cli.options import PoolCreateOptions

    # opt_*: the options every chain command shares (network, account, ...), not the command's own
    own = {param.name for param in _pool_create().params if not param.name.startswith("opt_")}
    assert own == set(PoolCreateOptions.model_fields)


def test_pool_create_parses_as_typed() -> None:
    from hub.cli.options import PoolCreateOptions

    manager = "0x" + "ab" * 20
    args = ["--metadata", "pool.json", "--budget", "2.5", "--reward-per-unit", "1000wei"]
    args += ["--challenge-window", "2h", "--compute-limit", "5", "--domain", "3", "--manager", manager]
    args += ["--inline", "--metadata-uri", "https://example.org/pool.json"]
    params = _pool_create().make_context("create", args).params
    options = PoolCreateOptions(**{k: v for k, v in params.items() if not k.startswith("opt_")})
    assert options.model_dump() == {
        "metadata": Path("pool.json"),
        "budget": 2_500_000_000_000_000_000,
        "reward_per_unit": 1000,
        "challenge_window": 7200,
        "compute_limit": 5,
        "domain": 3,
        "manager": "0xABaBaBaBABabABabAbAbABAbABabababaBaBABaB",
        "inline": True,
        "metadata_uri": "https://example.org/pool.json",
    }


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--budget", "lots", "invalid budget 'lots'"),
        ("--reward-per-unit", "0", "reward per unit must be more than zero"),
        ("--challenge-window", "forever", "invalid challenge window 'forever'"),
    ],
)
def test_a_bad_pool_create_value_is_one_line_before_anything_is_read(option: str, value: str, message: str) -> None:
    """The options are parsed before the metadata file is read or a chain is reached (neither exists here)."""
    given = {"--budget": "1", "--reward-per-unit": "1", "--challenge-window": "1h"} | {option: value}
    args = ["pool", "create", "--metadata", "missing.json", *[t for pair in given.items() for t in pair]]
    result = run_hub(*args, ok=False)
    assert result.exit_code == 1 and result.output.startswith(f"error: {message}")
    assert result.output.count("\n") == 1


def test_a_bad_manager_is_a_hub_error() -> None:
    from hub.cli.options import PoolCreateOptions

    with pytest.raises(HubError, match="invalid manager '0x12'"):
        PoolCreateOptions(metadata="m.json", budget="1", reward_per_unit="1", challenge_window="1h", manager="0x12")


# @dev Options of `hub deploy` that every chain command has: not part of its model.
_DEPLOY_COMMON = {"network", "account", "password_file", "deployments_dir", "json_out"}


def _deploy():
    import typer

    from hub.cli.deploy import deploy_command

    single = typer.Typer(add_completion=False)
    single.command("deploy")(deploy_command)
    return typer.main.get_command(single)


def test_every_deploy_option_is_a_field_of_its_model() -> None:
    from hub.cli.options import DeployOptions

    own = {param.name for param in _deploy().params} - _DEPLOY_COMMON
    assert own == set(DeployOptions.model_fields)


def test_deploy_parses_as_typed() -> None:
    from hub.cli.options import DeployOptions

    guardian = "0x" + "cd" * 20
    args = ["--unbonding-period", "2d", "--min-stake", "0.5", "--max-rate", "7", "--governance"]
    args += ["--voting-delay", "1h", "--voting-period", "1d", "--timelock-delay", "30m", "--quorum", "12.5"]
    args += ["--proposal-threshold", "3", "--guardian", guardian, "--guardian-period", "7d"]
    params = _deploy().make_context("deploy", args).params
    options = DeployOptions(**{k: v for k, v in params.items() if k not in _DEPLOY_COMMON})
    system = options.system_params()
    assert system is not None
    assert (system.unbonding_period, system.min_stake_per_compute_unit) == (2 * 86400, 5 * 10**17)
    assert system.max_units_per_compute_unit_per_second == 7
    settings = options.governance_settings()
    assert settings is not None
    assert settings.model_dump() == {
        "voting_delay": 3600,
        "voting_period": 86400,
        "timelock_delay": 1800,
        "quorum_bps": 1250,
        "proposal_threshold": 3 * 10**18,
        "guardian": "0xCdCDCdCdcdcdcdCdcDcDCdcDcDCdCdcdCdcDCDcD",
        "guardian_period": 7 * 86400,
    }
    bare = DeployOptions(
        **{k: v for k, v in _deploy().make_context("deploy", []).params.items() if k not in _DEPLOY_COMMON}
    )
    assert (bare.system_params(), bare.governance_settings()) == (None, None)


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--voting-delay", "1h", "--quorum", "10"], 2, "--voting-delay, --quorum need --governance"),
        (["--governance", "--guardian-period", "1d"], 2, "--guardian-period needs --guardian"),
        (["--governance", "--quorum", "200"], 1, "invalid governance setting (hint: --quorum from 0.01 to 100"),
        (["--max-rate", "0"], 1, "--max-rate must be more than zero"),
        (["--min-stake", "ten"], 1, "invalid minimum stake 'ten'"),
    ],
)
def test_a_bad_deploy_option_is_one_line_before_the_chain_is_reached(args: list[str], code: int, message: str) -> None:
    """No chain runs here: the options are checked before `hub deploy` connects."""
    result = run_hub("deploy", *args, ok=False)
    assert result.exit_code == code and result.output.startswith(f"error: {message}"), result.output
    assert result.output.count("\n") == 1
