"""Checkpoints on disk: weights, optimizer state, epoch and counters, written atomically.

Layout of a checkpoint root (``TrainConfig.checkpoint_dir``)::

    identity.key            the peer's libp2p identity (see trainer.training.identity)
    latest.json             {"dir": "epoch-000012"}: replaced atomically after a save completes
    base-model/             LoRA on a preset: the frozen random base, saved once (by load_model)
    epoch-000012/
        trainer_state.json  epoch, totals, data position, model source, profile, run settings
        model/              full profile: Hugging Face `save_pretrained` output
        adapter/            LoRA profile: peft `save_pretrained` output (adapters only)
        optimizer.pt        hivemind optimizer state (+ DiLoCo inner optimizer state)
        tokenizer/          the tokenizer, so a checkpoint is self-contained for `trainer generate`

A checkpoint directory is complete before ``latest.json`` points to it; older ones beyond
``keep`` are deleted afterwards. A crash mid-save leaves the previous checkpoint intact.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainer.errors import CheckpointError

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedTokenizerBase

log = logging.getLogger(__name__)

STATE_FILE = "trainer_state.json"
LATEST_FILE = "latest.json"
BASE_DIR = "base-model"


@dataclass(frozen=True)
class CheckpointInfo:
    path: Path
    state: dict[str, Any]

    @property
    def epoch(self) -> int:
        return int(self.state["epoch"])

    @property
    def is_lora(self) -> bool:
        return self.state.get("profile") == "lora"


def _write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
    os.replace(tmp, path)


def save_checkpoint(
    root: Path,
    *,
    epoch: int,
    model: torch.nn.Module,
    lora: bool,
    tokenizer: PreTrainedTokenizerBase,
    optimizer_state: dict[str, Any] | None,
    state: dict[str, Any],
    keep: int = 2,
) -> Path:
    """Write a complete checkpoint for ``epoch`` under ``root`` and make it the latest."""
    import torch
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    root.mkdir(parents=True, exist_ok=True)
    name = f"epoch-{epoch:06d}"
    final = root / name
    staging = root / f".{name}.tmp-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()

    if lora:
        model.save_pretrained(str(staging / "adapter"))
    else:
        model.save_pretrained(str(staging / "model"))
    if optimizer_state is not None:
        torch.save(optimizer_state, staging / "optimizer.pt")
    tokenizer.save_pretrained(str(staging / "tokenizer"))
    full_state = dict(state, epoch=epoch, saved_at=time.time(), profile="lora" if lora else "full")
    (staging / STATE_FILE).write_text(json.dumps(full_state, indent=2, sort_keys=True))

    if final.exists():
        shutil.rmtree(final)
    os.replace(staging, final)
    _write_json_atomic(root / LATEST_FILE, {"dir": name, "epoch": epoch})
    _prune(root, keep, current=name)
    log.info("checkpoint for epoch %d written to %s", epoch, final)
    return final


def _prune(root: Path, keep: int, current: str) -> None:
    epochs = sorted(path for path in root.glob("epoch-*") if path.is_dir())
    for old in epochs[:-keep]:
        if old.name != current:
            shutil.rmtree(old, ignore_errors=True)


def save_base_model(target: Path, model: torch.nn.Module) -> Path:
    """Save the frozen base of a LoRA run once (presets have random weights nobody else can rebuild)."""
    if (target / "config.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    model.save_pretrained(str(staging))
    try:
        os.replace(staging, target)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def find_checkpoint(path: Path) -> CheckpointInfo | None:
    """The checkpoint at ``path``: a checkpoint root (follows latest.json) or one epoch directory.

    Returns None when ``path`` holds no checkpoint yet; raises `CheckpointError` if it is corrupt.
    """
    path = Path(path)
    if (path / STATE_FILE).is_file():
        directory = path
    elif (path / LATEST_FILE).is_file():
        try:
            latest = json.loads((path / LATEST_FILE).read_text())
            directory = path / latest["dir"]
        except (json.JSONDecodeError, KeyError) as exc:
            raise CheckpointError(f"{path / LATEST_FILE} is corrupt ({exc})", "delete it to start fresh") from None
    else:
        return None
    try:
        state = json.loads((directory / STATE_FILE).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"checkpoint {directory} is unreadable ({exc})") from None
    return CheckpointInfo(directory, state)


def restore_weights(model: torch.nn.Module, info: CheckpointInfo) -> None:
    """Load the checkpoint's trained weights into an already-built model of the same shape."""
    from safetensors.torch import load_file

    if info.is_lora:
        from peft import set_peft_model_state_dict

        files = sorted((info.path / "adapter").glob("*.safetensors"))
        if not files:
            raise CheckpointError(f"checkpoint {info.path} has no adapter weights")
        for file in files:
            set_peft_model_state_dict(model, load_file(str(file)))
        return
    files = sorted((info.path / "model").glob("*.safetensors"))
    if not files:
        raise CheckpointError(f"checkpoint {info.path} has no model weights")
    expected = set(model.state_dict())
    loaded: set[str] = set()
    for file in files:
        tensors = load_file(str(file))
        model.load_state_dict(tensors, strict=False)
        loaded.update(tensors)
    missing = expected - loaded
    if missing:
        raise CheckpointError(
            f"checkpoint {info.path} lacks {len(missing)} weights of this model (e.g. {sorted(missing)[0]})",
            "the checkpoint belongs to a different model; use another --checkpoint-dir",
        )


def load_optimizer_state(info: CheckpointInfo) -> dict[str, Any] | None:
    import torch

    file = info.path / "optimizer.pt"
    if not file.is_file():
        return None
    return torch.load(file, map_location="cpu", weights_only=False)
