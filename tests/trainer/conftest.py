"""Shared fixtures of the trainer tests: a generated corpus, a tokenizer trained on it, and helpers
that run real `trainer` processes on loopback.

Everything is local: no model, tokenizer or dataset is downloaded (``HF_HUB_OFFLINE=1``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.trainer.helpers import TrainerProcess
from trainer.training.corpus import generate_corpus


@pytest.fixture(scope="session")
def trainer_workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("trainer")


@pytest.fixture(scope="session", autouse=True)
def offline_and_isolated(trainer_workdir: Path) -> Iterator[None]:
    """No Hugging Face network access, and a private cache for the built-in tokenizer."""
    saved = {name: os.environ.get(name) for name in ("HF_HUB_OFFLINE", "INJECTIVE_AI_HUB_CACHE")}
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["INJECTIVE_AI_HUB_CACHE"] = str(trainer_workdir / "cache")
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="session")
def corpus(trainer_workdir: Path) -> Path:
    """The shipped corpus plus 3000 generated lines (~0.5 MB), one document per line."""
    return generate_corpus(trainer_workdir / "corpus.txt", num_lines=3000, seed=1)


@pytest.fixture(scope="session")
def tokenizer_dir(trainer_workdir: Path, corpus: Path) -> Path:
    """A 1024-token byte-level BPE trained here on the test corpus."""
    from trainer.training.tokenizer import build_tokenizer

    out = trainer_workdir / "tokenizer"
    build_tokenizer(corpus.read_text().splitlines(), 1024, out)
    return out


@pytest.fixture
def processes() -> Iterator[list[TrainerProcess]]:
    """Collects processes a test starts and makes sure none outlives it."""
    started: list[TrainerProcess] = []
    yield started
    for process in started:
        process.cleanup()
