"""Tokenizers: from a Hugging Face name or local directory, or a small one trained here.

The built-in tokenizer (``"builtin"``, the default for the model presets) is a byte-level BPE
trained with the `tokenizers` library on the shipped corpus plus the generated one. Training is
deterministic, so every peer that builds it gets the same vocabulary; it is cached under
``$INJECTIVE_AI_HUB_CACHE`` (default ``~/.cache/injective-ai-hub``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from trainer.errors import TrainerError

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

BUILTIN = "builtin"
BUILTIN_VOCAB_SIZE = 1024
SPECIAL_TOKENS = ["<pad>", "<s>", "</s>", "<unk>"]


def cache_root() -> Path:
    return Path(os.environ.get("INJECTIVE_AI_HUB_CACHE", Path.home() / ".cache" / "injective-ai-hub"))


def build_tokenizer(texts: list[str], vocab_size: int, out_dir: Path) -> PreTrainedTokenizerBase:
    """Train a byte-level BPE tokenizer on ``texts`` and save it (Hugging Face format) to ``out_dir``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(texts, trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe, pad_token="<pad>", bos_token="<s>", eos_token="</s>", unk_token="<unk>"
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(str(out_dir))
    return tokenizer


def build_tokenizer_from_files(corpus: list[Path], vocab_size: int, out_dir: Path) -> PreTrainedTokenizerBase:
    """`build_tokenizer` on the non-empty lines of local text files (`trainer build-tokenizer`)."""
    texts: list[str] = []
    for path in corpus:
        if not path.is_file():
            raise TrainerError(f"corpus file {path} does not exist", "pass a text file, one document per line")
        texts += [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return build_tokenizer(texts, vocab_size, out_dir)


def builtin_tokenizer_dir(vocab_size: int = BUILTIN_VOCAB_SIZE) -> Path:
    """Directory of the built-in tokenizer, building it on first use (atomically, safe across processes)."""
    from trainer.training.corpus import generate_lines, shipped_corpus_path

    texts = shipped_corpus_path().read_text().splitlines() + generate_lines(4000, seed=0)
    digest = hashlib.sha256(("\n".join(texts) + f"|{vocab_size}").encode()).hexdigest()[:12]
    target = cache_root() / f"tokenizer-{vocab_size}-{digest}"
    if (target / "tokenizer.json").is_file():
        return target
    staging = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    build_tokenizer(texts, vocab_size, staging)
    try:
        staging.rename(target)
    except OSError:  # another process won the race; its copy is identical
        shutil.rmtree(staging, ignore_errors=True)
    return target


def load_tokenizer(name_or_path: str) -> PreTrainedTokenizerBase:
    """Load a tokenizer from ``"builtin"``, a local directory or a Hugging Face id."""
    from transformers import AutoTokenizer

    if name_or_path == BUILTIN:
        name_or_path = str(builtin_tokenizer_dir())
    path = Path(name_or_path).expanduser()
    looks_local = name_or_path.startswith((".", "/", "~")) or path.exists()
    if looks_local and not path.is_dir():
        raise TrainerError(f"tokenizer directory {name_or_path} does not exist", "pass a tokenizer directory or HF id")
    try:
        return AutoTokenizer.from_pretrained(str(path) if looks_local else name_or_path)
    except (OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise TrainerError(
            f"cannot load tokenizer {name_or_path!r}: {first}",
            "pass --tokenizer with a local directory (e.g. one from `trainer build-tokenizer`)",
        ) from None
