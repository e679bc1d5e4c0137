"""Configuration defaults and validation, the local corpora, and locally trained tokenizers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from trainer.errors import TrainerError
from trainer.training.config import PRIVATE_HOST_MADDRS, TrainConfig, load_config_file
from trainer.training.corpus import generate_corpus, generate_lines, shipped_corpus_path
from trainer.training.tokenizer import build_tokenizer, builtin_tokenizer_dir, load_tokenizer


def test_defaults_describe_the_seeds_run() -> None:
    config = TrainConfig()
    assert (config.model, config.data, config.seq_len, config.lr) == (
        "meta-llama/Llama-2-7b-hf",
        "Skylion007/openwebtext",
        2048,
        1e-5,
    )
    assert (config.averaging, config.profile, config.client_mode) == ("gradient", "auto", False)
    assert config.identity_file == Path("checkpoints/identity.key")


def test_private_mode_is_the_seeds_privacy_options() -> None:
    private = TrainConfig().make_private()
    assert private.host_maddrs == PRIVATE_HOST_MADDRS == ["/ip4/127.0.0.1/tcp/0"]
    assert (private.announce_maddrs, private.client_mode) == ([], True)


@pytest.mark.parametrize(
    "bad",
    [
        {"run_id": "has space"},
        {"averaging": "allreduce"},
        {"profile": "qlora"},
        {"batch_size": 8, "target_batch_size": 4},
        {"warmup_steps": 100, "total_steps": 50},
        {"seq_len": 0},
        {"unknown_field": 1},
    ],
)
def test_invalid_settings_are_rejected(bad: dict) -> None:
    with pytest.raises(ValidationError):
        TrainConfig(**bad)


def test_config_file_round_trip_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"run_id": "pool-3", "averaging": "diloco"}))
    assert TrainConfig(**load_config_file(path)).averaging == "diloco"
    path.write_text("{not json")
    with pytest.raises(TrainerError, match="not valid JSON"):
        load_config_file(path)
    with pytest.raises(TrainerError, match="does not exist"):
        load_config_file(tmp_path / "missing.json")


def test_generated_corpus_is_deterministic_and_includes_the_shipped_text(tmp_path: Path) -> None:
    assert generate_lines(50, seed=3) == generate_lines(50, seed=3) != generate_lines(50, seed=4)
    path = generate_corpus(tmp_path / "c.txt", num_lines=100, seed=3)
    lines = path.read_text().splitlines()
    shipped = shipped_corpus_path().read_text().splitlines()
    assert lines[: len(shipped)] == shipped and len(lines) == len(shipped) + 100


def test_a_tokenizer_trained_here_round_trips_text(tmp_path: Path, corpus: Path) -> None:
    tokenizer = build_tokenizer(corpus.read_text().splitlines()[:500], 512, tmp_path / "tok")
    assert len(tokenizer) == 512
    text = "peer ada staked 42 inj on node 3, and the validator agreed."
    ids = tokenizer.encode(text, add_special_tokens=False)
    assert tokenizer.decode(ids) == text
    assert len(ids) < len(text) / 2, "BPE merges frequent words"
    reloaded = load_tokenizer(str(tmp_path / "tok"))
    assert reloaded.encode(text, add_special_tokens=False) == ids
    assert (reloaded.bos_token, reloaded.eos_token, reloaded.pad_token) == ("<s>", "</s>", "<pad>")


def test_builtin_tokenizer_is_identical_wherever_it_is_built(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    vocabularies = []
    for name in ("one", "two"):
        monkeypatch.setenv("INJECTIVE_AI_HUB_CACHE", str(tmp_path / name))
        directory = builtin_tokenizer_dir(vocab_size=300)
        vocabularies.append(json.loads((directory / "tokenizer.json").read_text())["model"])
    assert vocabularies[0] == vocabularies[1], "peers that build it separately must agree"


def test_missing_tokenizer_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(TrainerError, match="does not exist"):
        load_tokenizer(str(tmp_path / "nope"))
