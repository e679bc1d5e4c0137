"""A pool's metadata document and how it becomes this node's training run.

`hub pool create --metadata FILE` commits to the file's keccak256 on chain; `trainer join` fetches
the file from the pool's URI, refuses it if the hash differs, and builds the `TrainConfig` from
it. The document names everything the swarm must agree on (run id, model, data, batch sizes,
averaging mode, learning rate), where to find the swarm (bootstrap peers), how often to submit work,
and the audit thresholds the aux peer applies. Example::

    {
      "run_id": "llama-tiny-pool-1",
      "bootstrap_peers": ["/ip4/127.0.0.1/tcp/40100/p2p/Qm..."],
      "train": {"model": "tiny", "data": "/data/corpus.txt", "seq_len": 64, "target_batch_size": 32,
                "averaging": "gradient", "lr": 0.002},
      "work": {"submit_every_epochs": 1},
      "audit": {"tolerance": 0.05, "hard_factor": 1.5, "slash": "1000000000000000000"}
    }
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from trainer.config import TrainConfig
from trainer.errors import TrainerError

# @dev TrainConfig fields a pool may set: the swarm-wide ones and the data and schedule. Node-local
#      settings (device, checkpoint folder, listening addresses, identity) stay the node's own.
POOL_FIELDS = {
    "model",
    "tokenizer",
    "seed",
    "data",
    "data_split",
    "text_field",
    "data_shards",
    "shuffle_buffer",
    "seq_len",
    "batch_size",
    "target_batch_size",
    "averaging",
    "compression",
    "average_state_every",
    "matchmaking_time",
    "averaging_timeout",
    "lr",
    "warmup_steps",
    "total_steps",
    "weight_decay",
    "adam_beta1",
    "adam_beta2",
    "max_grad_norm",
    "outer_lr",
    "outer_momentum",
    "profile",
    "lora_rank",
    "lora_alpha",
    "lora_dropout",
    "lora_targets",
    "max_epochs",
}


class WorkPolicy(BaseModel):
    """How a node reports work on chain."""

    model_config = ConfigDict(extra="forbid")

    submit_every_epochs: int = Field(1, ge=1)
    """Submit one work claim per this many collaborative epochs (a range key covers them)."""


class AuditPolicy(BaseModel):
    """What the aux peer does with a claim larger than the peer's signed progress records."""

    model_config = ConfigDict(extra="forbid")

    tolerance: float = Field(0.05, ge=0)
    """Excess tolerated (a fraction of the reported tokens): clock skew, rounding."""
    hard_factor: float = Field(1.5, ge=1)
    """A claim above reported x hard_factor is fraud: hard invalidation (and the slash)."""
    slash: int = Field(0, ge=0)
    """Wei slashed from the provider on hard invalidation (0: none)."""
    grace_seconds: float = Field(5.0, ge=0)
    """Wait this long after a claim for the peer's record to reach the DHT before judging it."""

    @field_validator("slash", mode="before")
    @classmethod
    def _wei(cls, value: Any) -> Any:
        return int(value) if isinstance(value, str) and value.isdigit() else value


class PoolMetadata(BaseModel):
    """The document behind a pool's metadataURI."""

    model_config = ConfigDict(extra="forbid")

    run_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    bootstrap_peers: list[str] = Field(default_factory=list)
    train: dict[str, Any] = Field(default_factory=dict)
    work: WorkPolicy = Field(default_factory=WorkPolicy)
    audit: AuditPolicy = Field(default_factory=AuditPolicy)
    description: str = ""

    @field_validator("train")
    @classmethod
    def _only_pool_fields(cls, value: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(value) - POOL_FIELDS)
        if unknown:
            raise ValueError(f"train settings a pool cannot set: {', '.join(unknown)}")
        return value


def parse_metadata(data: bytes, pool_id: int) -> PoolMetadata:
    """Parse the pool's metadata bytes; one-line error naming what is wrong."""
    try:
        return PoolMetadata.model_validate(json.loads(data))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise TrainerError(f"pool {pool_id}'s metadata is not JSON: {exc}", "the pool creator republishes it") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "document"
        raise TrainerError(
            f"pool {pool_id}'s metadata is invalid at {where}: {first['msg']}",
            "the pool creator fixes the metadata file and creates a new pool",
        ) from None


def train_config(metadata: PoolMetadata, **local: Any) -> TrainConfig:
    """The node's TrainConfig: the pool's settings, its bootstrap peers, then the node's local ones."""
    settings: dict[str, Any] = {**metadata.train, "run_id": metadata.run_id}
    peers = list(local.pop("initial_peers", None) or []) + metadata.bootstrap_peers
    settings["initial_peers"] = list(dict.fromkeys(peers))
    settings.update(local)
    try:
        return TrainConfig(**settings)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise TrainerError(
            f"the pool's run settings are invalid: {'.'.join(map(str, first['loc']))}: {first['msg']}",
            "the pool creator fixes the metadata's train section",
        ) from None
