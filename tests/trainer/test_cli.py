"""The `trainer` command line: fast help, and one-line errors with a non-zero exit on bad input."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.trainer.helpers import subprocess_env
from trainer.cli import app

runner = CliRunner()


def test_help_does_not_import_heavy_libraries() -> None:
    code = (
        "import sys; from typer.testing import CliRunner; from trainer.cli import app; "
        "result = CliRunner().invoke(app, ['train', '--help']); assert result.exit_code == 0, result.output; "
        "heavy = [m for m in ('torch', 'transformers', 'hivemind', 'peft', 'datasets') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def one_line_error(args: list[str], code: int = 1) -> str:
    """`trainer ARGS` fails with one line and `code` (1: the command failed, 2: a usage error)."""
    result = runner.invoke(app, args)
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    return lines[0]


def test_missing_data_path(tmp_path: Path) -> None:
    line = one_line_error(["train", "--model", "tiny", "--data", str(tmp_path / "nope.txt")])
    assert "does not exist" in line and "hint:" in line


def test_unknown_model(tmp_path: Path, corpus: Path) -> None:
    line = one_line_error(["train", "--model", "no-such-org/no-such-model", "--data", str(corpus)])
    assert "unknown model 'no-such-org/no-such-model'" in line and "presets are tiny" in line
    line = one_line_error(["train", "--model", str(tmp_path / "missing-model-dir"), "--data", str(corpus)])
    assert "model directory" in line and "does not exist" in line


def test_impossible_memory_profile(corpus: Path) -> None:
    line = one_line_error(["train", "--model", "llama-7b-shape", "--profile", "full", "--data", str(corpus)])
    assert "full training of this 6.74B-parameter model does not fit on this CPU" in line
    assert "GiB of RAM" in line


def test_invalid_settings_and_config_files(tmp_path: Path, corpus: Path) -> None:
    line = one_line_error(["train", "--averaging", "ring", "--data", str(corpus)], code=2)
    assert "invalid setting averaging" in line
    line = one_line_error(["train", "--config", str(tmp_path / "missing.json")])
    assert "config file" in line


def test_aux_refuses_client_mode() -> None:
    from trainer.errors import SwarmError
    from trainer.training.aux_peer import run_aux
    from trainer.training.config import TrainConfig

    with pytest.raises(SwarmError, match="cannot run in client mode"):
        run_aux(TrainConfig(model="tiny", client_mode=True))
    assert "--private" not in runner.invoke(app, ["aux", "--help"]).stdout


def test_generate_with_missing_inputs(tmp_path: Path) -> None:
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("hello\n")
    line = one_line_error(
        ["generate", "--checkpoint", str(tmp_path), "--prompts", str(prompts), "--output-dir", str(tmp_path / "out")]
    )
    assert "no checkpoint in" in line
    line = one_line_error(
        [
            "generate",
            "--checkpoint",
            str(tmp_path),
            "--prompts",
            str(tmp_path / "none.txt"),
            "--output-dir",
            str(tmp_path / "out"),
        ]
    )
    assert "prompts file" in line


@pytest.mark.parametrize("command", [["doctor", "--model", "llama-7b-shape", "--gpu-memory-gb", "14"]])
def test_doctor_explains_what_fits(command: list[str]) -> None:
    result = runner.invoke(app, command)
    assert result.exit_code == 0, result.stderr
    assert "flash" in result.stdout and "6.74B parameters" in result.stdout
    cells = [[c.strip() for c in line.split("│")[1:-1]] for line in result.stdout.splitlines() if line.count("│") >= 5]
    fits = {row[0]: row[4] for row in cells if row[0] in ("full", "lora")}
    assert fits == {"full": "no", "lora": "no"}
    assert "--profile auto picks: none" in " ".join(result.stdout.split())


def test_bad_input_exits_non_zero_from_a_real_process(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "trainer.cli", "train", "--model", "tiny", "--data", str(tmp_path / "absent.jsonl")],
        capture_output=True,
        text=True,
        timeout=120,
        env=subprocess_env(tmp_path),
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"error: data path {tmp_path / 'absent.jsonl'} does not exist "
        "(hint: pass a .txt/.jsonl file, a directory, or a HF dataset id)"
    )


def test_version() -> None:
    from importlib.metadata import version

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.strip() == f"trainer {version('injective-ai-hub')}"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["doctor", "--gpu-memory-gb", "-1"], "Invalid value for '--gpu-memory-gb': -1 is not more than zero"),
        (["doctor", "--host-memory-gb", "0"], "Invalid value for '--host-memory-gb': 0 is not more than zero"),
        (["doctor", "--averaging", "ring"], "Invalid value for '--averaging': 'ring' is not one of"),
        (["train", "--no-such-flag"], "No such option: --no-such-flag"),
        (["join", "--pool-id", "0", "--node-key", "n"], "Invalid value for '--pool-id'"),
    ],
)
def test_usage_errors_are_one_line_with_status_2(args: list[str], expected: str) -> None:
    line = one_line_error(args, code=2)
    assert expected in line and f"(hint: `trainer {args[0]} --help` shows the usage)" in line


@pytest.mark.parametrize("command", ["train", "join", "aux", "doctor", "generate"])
def test_help_fits_80_columns_with_whole_option_names_and_defaults(command: str) -> None:
    result = runner.invoke(app, [command, "--help"], env={"COLUMNS": "80"}, terminal_width=80)
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert max(map(len, lines)) <= 80
    names = {p.opts[0] for p in typer_command(command).params if p.opts and not getattr(p, "hidden", False)}
    for name in names:  # each option name appears whole at the start of its entry
        assert any(re.match(rf"\s+(-\w, )?{re.escape(name)}( |$)", line) for line in lines), name
    if command in ("train", "aux"):
        assert "[default: (2048)]" in result.stdout or "[default: (fp16)]" in result.stdout


def typer_command(name: str):
    import typer.main

    return typer.main.get_command(app).commands[name]


def test_delayed_updates_need_the_offloaded_optimizer(corpus: Path) -> None:
    line = one_line_error(["train", "--model", "tiny", "--data", str(corpus), "--device", "cpu", "--delay-updates"])
    assert "--delay-updates overlaps gradient averaging" in line and "--offload-optimizer" in line


@pytest.mark.parametrize("command", ["train", "aux", "join"])
def test_every_option_sets_a_config_field_or_is_declared_not_to(command: str) -> None:
    """An option renamed without its TrainConfig field (or the reverse) fails here, not silently."""
    import typer as typer_module

    from trainer.cli import _FIELD_OF_OPTION, NOT_CONFIG_OPTIONS
    from trainer.training.config import TrainConfig

    click_command = typer_module.main.get_command(app).commands[command]
    stray = [
        param.name
        for param in click_command.params
        if param.name not in NOT_CONFIG_OPTIONS
        and _FIELD_OF_OPTION.get(param.name, param.name) not in TrainConfig.model_fields
    ]
    assert stray == []


def test_config_overrides_renames_splits_and_drops_unset() -> None:
    from trainer.cli import config_overrides

    assert config_overrides(
        {"assist": False, "refresh": 2.0, "initial_peers": ["/ip4/1.2.3.4/tcp/1, /ip4/5.6.7.8/tcp/2"], "lr": None}
        | {"pool_id": 3, "model": "tiny"}
    ) == {
        "aux_assist": False,
        "aux_refresh": 2.0,
        "initial_peers": ["/ip4/1.2.3.4/tcp/1", "/ip4/5.6.7.8/tcp/2"],
        "model": "tiny",
    }


def test_build_tokenizer_as_typed(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("".join(f"document number {i} about tokens and peers\n" for i in range(200)))
    result = runner.invoke(
        app, ["build-tokenizer", "--corpus", str(corpus), "--output-dir", str(tmp_path / "tok"), "--vocab-size", "300"]
    )
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "tok" / "tokenizer.json").is_file()
    line = one_line_error(["build-tokenizer", "--corpus", str(tmp_path / "nope.txt"), "--output-dir", str(tmp_path)])
    missing = tmp_path / "nope.txt"
    assert line == f"error: corpus file {missing} does not exist (hint: pass a text file, one document per line)"
