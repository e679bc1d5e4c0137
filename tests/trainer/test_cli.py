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


# @dev A value other than TrainConfig's default for every option that sets a TrainConfig field, as
#      typed and as the field then holds it (batch < target batch, warm-up < total steps).
CONFIG_SAMPLES: dict[str, tuple[list[str], object]] = {
    "run_id": (["--run-id", "other-run"], "other-run"),
    "model": (["--model", "tiny"], "tiny"),
    "tokenizer": (["--tokenizer", "tok-dir"], "tok-dir"),
    "data": (["--data", "corpus.txt"], "corpus.txt"),
    "data_split": (["--data-split", "validation"], "validation"),
    "text_field": (["--text-field", "body"], "body"),
    "data_shards": (["--data-shards", "8"], 8),
    "seq_len": (["--seq-len", "128"], 128),
    "batch_size": (["--batch-size", "4"], 4),
    "target_batch_size": (["--target-batch-size", "64"], 64),
    "averaging": (["--averaging", "diloco"], "diloco"),
    "compression": (["--compression", "uint8"], "uint8"),
    "average_state_every": (["--average-state-every", "3"], 3),
    "lr": (["--lr", "0.002"], 0.002),
    "warmup_steps": (["--warmup-steps", "7"], 7),
    "total_steps": (["--total-steps", "70"], 70),
    "outer_lr": (["--outer-lr", "0.5"], 0.5),
    "profile": (["--profile", "lora"], "lora"),
    "offload_optimizer": (["--offload-optimizer"], True),
    "delay_updates": (["--delay-updates"], True),
    "lora_rank": (["--lora-rank", "4"], 4),
    "device": (["--device", "cpu"], "cpu"),
    "dtype": (["--dtype", "bf16"], "bf16"),
    "attention": (["--attention", "sdpa"], "sdpa"),
    "gpu_memory_gb": (["--gpu-memory-gb", "24"], 24.0),
    "host_memory_gb": (["--host-memory-gb", "64"], 64.0),
    "initial_peers": (
        ["--initial-peers", "/ip4/1.2.3.4/tcp/1, /ip4/5.6.7.8/tcp/2"],
        ["/ip4/1.2.3.4/tcp/1", "/ip4/5.6.7.8/tcp/2"],
    ),
    "host_maddrs": (["--host-maddrs", "/ip4/127.0.0.1/tcp/0"], ["/ip4/127.0.0.1/tcp/0"]),
    "announce_maddrs": (["--announce-maddrs", "/ip4/9.9.9.9/tcp/9"], ["/ip4/9.9.9.9/tcp/9"]),
    "client_mode": (["--client-mode"], True),
    "identity_path": (["--identity-path", "id.key"], Path("id.key")),
    "matchmaking_time": (["--matchmaking-time", "12"], 12.0),
    "averaging_timeout": (["--averaging-timeout", "90"], 90.0),
    "metadata_expiration": (["--metadata-expiration", "30"], 30.0),
    "load_state_timeout": (["--load-state-timeout", "45"], 45.0),
    "checkpoint_dir": (["--checkpoint-dir", "ckpt"], Path("ckpt")),
    "checkpoint_every": (["--checkpoint-every", "0"], 0),
    "resume": (["--no-resume"], False),
    "max_epochs": (["--max-epochs", "5"], 5),
    "metrics_file": (["--metrics-file", "m.jsonl"], Path("m.jsonl")),
    "maddrs_file": (["--maddrs-file", "maddrs.txt"], Path("maddrs.txt")),
    "log_every": (["--log-every", "5"], 5.0),
    "num_threads": (["--num-threads", "2"], 2),
    "seed": (["--seed", "9"], 9),
    "progress_bar": (["--no-progress-bar"], False),
    "aux_assist": (["--no-assist"], False),
    "aux_refresh": (["--refresh", "2.5"], 2.5),
}
# @dev What a command needs besides the settings under test.
REQUIRED_ARGS = {"train": [], "aux": [], "join": ["--pool-id", "1", "--node-key", "node"]}


def _command(name: str):
    import typer as typer_module

    return typer_module.main.get_command(app).commands[name]


@pytest.mark.parametrize("command", ["train", "aux", "join"])
def test_every_option_is_a_command_option_or_a_config_field(command: str) -> None:
    """An option renamed without its TrainConfig field (or the reverse) fails here, not silently; an
    option may not be both (the command would keep the value and TrainConfig never see it)."""
    from trainer.options import FIELD_OF_OPTION, OPTIONS
    from trainer.training.config import TrainConfig

    own = OPTIONS[command].model_fields
    names = [param.name for param in _command(command).params]
    stray = [n for n in names if n not in own and FIELD_OF_OPTION.get(n, n) not in TrainConfig.model_fields]
    both = [n for n in names if n in own and n in TrainConfig.model_fields]
    assert (stray, both) == ([], [])
    # the options model declares no option the command lacks
    assert set(own) - {"config"} <= set(names)


@pytest.mark.parametrize("command", ["train", "aux", "join"])
def test_every_config_option_reaches_train_config(command: str) -> None:
    """Every setting typed on the command line lands in the TrainConfig the command builds, under its
    field, with the value typed (parsed by click as a user's command line is, nothing run)."""
    from trainer.options import FIELD_OF_OPTION, OPTIONS
    from trainer.training.config import TrainConfig

    click_command = _command(command)
    fields = [
        FIELD_OF_OPTION.get(p.name, p.name) for p in click_command.params if p.name not in OPTIONS[command].model_fields
    ]
    assert [f for f in fields if f not in CONFIG_SAMPLES] == []  # a new option needs a sample above
    args = REQUIRED_ARGS[command] + [token for f in fields for token in CONFIG_SAMPLES[f][0]]
    ctx = click_command.make_context(command, args)
    options = OPTIONS[command].parse(ctx.params)
    assert sorted(options.config) == sorted(fields)
    config = TrainConfig(**options.config)
    assert {f: getattr(config, f) for f in fields} == {f: CONFIG_SAMPLES[f][1] for f in fields}
    assert all(getattr(config, f) != TrainConfig.model_fields[f].get_default(call_default_factory=True) for f in fields)


def test_unset_options_leave_train_config_alone() -> None:
    from trainer.options import TrainOptions

    options = TrainOptions.parse(_command("train").make_context("train", ["--json"]).params)
    assert (options.config, options.as_json, options.private) == ({}, True, False)


def test_an_option_that_names_no_field_is_refused() -> None:
    from pydantic import ValidationError

    from trainer.options import TrainOptions

    with pytest.raises(ValidationError, match="learning_rate"):
        TrainOptions.parse({"learning_rate": 0.1})


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
