"""Every training setting, with its default, in one typed place.

`TrainConfig` drives `trainer train`, `trainer aux` and the Python API
(`trainer.training.session.run_training`). The CLI only maps flags onto these fields; a JSON file with the
same field names (``--config``) works too, which is how a pool's metadata can become a run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from trainer.errors import TrainerError

AveragingMode = Literal["gradient", "diloco"]
Compression = Literal["none", "fp16", "uint8"]
Profile = Literal["auto", "full", "lora"]
Device = Literal["auto", "cpu", "cuda"]
DType = Literal["auto", "fp32", "bf16", "fp16"]
Attention = Literal["auto", "flash_attention_2", "sdpa_flash", "sdpa", "eager"]

# The seed's privacy options: listen on loopback only, announce nothing, client mode.
PRIVATE_HOST_MADDRS = ["/ip4/127.0.0.1/tcp/0"]

LLAMA_LINEAR_MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


class NodeBinding(BaseModel):
    """A node key's EIP-191 signature binding this peer id to it in a pool (`trainer.pool.binding`)."""

    model_config = ConfigDict(extra="forbid")

    node: str
    signature: str


# @dev An averaging period no run reaches: parameter averaging off.
NEVER = 2**31 - 1


class TrainConfig(BaseModel):
    """Configuration of one peer (trainer or auxiliary) of a collaborative run.

    Fields that must agree across the whole swarm: ``run_id``, ``model`` (architecture), ``profile``
    and LoRA shape, ``averaging``, ``target_batch_size``, ``compression``, ``average_state_every``.
    Everything else is local to the peer.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    # --- run -------------------------------------------------------------------------------------
    run_id: str = Field("injective-llama", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    model: str = "meta-llama/Llama-2-7b-hf"
    """A preset name (see `trainer.training.model.PRESETS`), a local directory, or a Hugging Face model id."""
    tokenizer: str | None = None
    """A local directory or Hugging Face id; None means the model's own (presets: the built-in one)."""
    seed: int = 0

    # --- data ------------------------------------------------------------------------------------
    data: str = "Skylion007/openwebtext"
    """A Hugging Face dataset id (streamed) or a local .txt / .jsonl file or directory of them."""
    data_split: str = "train"
    text_field: str = "text"
    data_shards: int = Field(64, ge=1)
    """The corpus is split into this many shards; each peer reads the one derived from (run, peer)."""
    shuffle_buffer: int = Field(10_000, ge=1)
    seq_len: int = Field(2048, ge=8)
    batch_size: int = Field(1, ge=1)
    """Sequences per forward/backward pass on this peer (a micro-batch)."""

    # --- collaboration ---------------------------------------------------------------------------
    target_batch_size: int = Field(4096, ge=1)
    """Samples the whole swarm accumulates per collaborative epoch (one outer/global step)."""
    averaging: AveragingMode = "gradient"
    """'gradient': average gradients every epoch (the seed's mode). 'diloco': local AdamW steps,
    then average compressed pseudo-gradients and apply an outer Nesterov step."""
    compression: Compression = "fp16"
    average_state_every: int | None = Field(None, ge=1)
    """Average parameters every N epochs; None: 1 with gradient averaging (hivemind's default, in
    the background), 10 with DiLoCo (peers that averaged pseudo-gradients are already in step).
    Never with ``robust_aggregation`` (see `state_averaging_period`)."""
    matchmaking_time: float | None = Field(None, gt=0)
    """Seconds to gather an averaging group; None: derived (`wan_timeouts`)."""
    averaging_timeout: float | None = Field(None, gt=0)
    """Seconds before an all-reduce round gives up; None: derived (`wan_timeouts`)."""
    averaging_bandwidth_mbps: float = Field(100.0, gt=0)
    """The bandwidth (Mbit/s, each way) a peer is assumed to have for averaging: the derived
    timeouts allow for moving the trainable parameters at this speed."""
    load_state_timeout: float = Field(120.0, gt=0)
    load_state_attempts: int = Field(3, ge=1)
    metadata_expiration: float = Field(60.0, gt=0)
    progress_expiration: float = Field(3600.0, gt=0)
    """How long this peer's signed progress record stays in the DHT after its last update."""
    bandwidth_mbps: float | None = Field(None, gt=0)

    # --- swarm integrity (trainer/README.md, "Swarm integrity") -----------------------------------
    robust_aggregation: bool = False
    """Trainers send gradients whole to the aux peer(s), which alone reduce them with CenteredClip,
    norm and non-finite screens, capped weights and the pool's allow-list (`trainer.training.robust`).
    Needs an aux peer in the swarm; every peer of the run must agree."""
    trusted_reducers: list[str] = Field(default_factory=list)
    """Peer ids of the aux peers allowed to reduce (robust aggregation): a trainer refuses a round
    that gives any other peer a part to reduce. Empty: any reducer (tests, a swarm of one owner)."""
    observations_file: Path | None = None
    """Aux peer, robust aggregation: append one `Observation` per contribution per round here."""
    epoch_quorum: int = Field(2, ge=1)
    """The swarm's epoch is the highest that at least this many peers report (self included, once
    the swarm has more than this many peers): one inflated report does not make everyone jump."""
    model_guard: bool = True
    """After every update, check the trainable weights are finite; if not, restore the last good
    ones (a host copy of the trainable weights, taken after every good update)."""

    # --- optimisation ----------------------------------------------------------------------------
    lr: float = Field(1e-5, gt=0)
    warmup_steps: int = Field(500, ge=0)
    total_steps: int = Field(10_000, ge=1)
    """LR schedule length, in collaborative epochs ('gradient') or local inner steps ('diloco')."""
    weight_decay: float = Field(0.01, ge=0)
    adam_beta1: float = Field(0.9, ge=0, lt=1)
    adam_beta2: float = Field(0.95, ge=0, lt=1)
    max_grad_norm: float = Field(1.0, ge=0)
    outer_lr: float = Field(0.7, gt=0)
    outer_momentum: float = Field(0.9, ge=0, lt=1)

    # --- model, kernels, memory ------------------------------------------------------------------
    profile: Profile = "auto"
    offload_optimizer: bool = False
    """Full profile only: keep fp32 master weights and Adam state in host RAM (hivemind offload)."""
    delay_updates: bool = False
    """Gradient averaging with the optimizer offloaded: all-reduce and optimizer step run in the
    background while the next epoch computes (hivemind's ``delay_grad_averaging`` and
    ``delay_optimizer_step``); the cost is one epoch of staleness in the weights. DiLoCo: the
    outer step overlaps the next round's inner steps and is merged into them when it lands (at
    most one round stale; one more fp32 host copy of the trainable weights)."""
    lora_rank: int = Field(16, ge=1)
    lora_alpha: int = Field(32, ge=1)
    lora_dropout: float = Field(0.05, ge=0, lt=1)
    lora_targets: list[str] = Field(default_factory=lambda: list(LLAMA_LINEAR_MODULES))
    device: Device = "auto"
    dtype: DType = "auto"
    attention: Attention = "auto"
    gradient_checkpointing: bool | None = None
    """None: on for models over one billion parameters, off otherwise."""
    gpu_memory_gb: float | None = Field(None, gt=0)
    """Override the detected accelerator memory (plan for a smaller card, or refuse early)."""
    host_memory_gb: float | None = Field(None, gt=0)
    num_threads: int | None = Field(None, ge=1)

    # --- network ---------------------------------------------------------------------------------
    initial_peers: list[str] = Field(default_factory=list)
    host_maddrs: list[str] = Field(default_factory=lambda: ["/ip4/0.0.0.0/tcp/0"])
    announce_maddrs: list[str] = Field(default_factory=list)
    client_mode: bool = False
    bootstrap_timeout: float = Field(30.0, ge=0)
    """Keep retrying unreachable ``initial_peers`` this long before giving up (they may be starting)."""
    identity_path: Path | None = None
    """libp2p private key; None means <checkpoint_dir>/identity.key. Keeps the peer id stable."""
    node_binding: NodeBinding | None = None
    """Set by `trainer join`: carried in every signed progress record so auditors can map this
    peer's records to the node key's claims on chain."""

    # --- checkpoints, lifecycle, output ----------------------------------------------------------
    checkpoint_dir: Path = Path("checkpoints")
    checkpoint_every: int = Field(10, ge=0)
    """Save every N collaborative epochs (0: only when the run stops)."""
    keep_checkpoints: int = Field(2, ge=1)
    resume: bool = True
    max_epochs: int | None = Field(None, ge=1)
    """Stop once the collaborative epoch reaches this number (None: train until stopped)."""
    log_every: float = Field(30.0, gt=0)
    metrics_file: Path | None = None
    """Append one JSON object per event (start, epoch, checkpoint, state download, stop)."""
    maddrs_file: Path | None = None
    """Write this peer's visible multiaddrs here once the DHT is up (for bootstrapping others)."""
    progress_bar: bool = True
    aux_refresh: float = Field(1.0, gt=0)
    """Auxiliary peer: seconds between assist/bookkeeping ticks."""
    aux_assist: bool = True
    """Auxiliary peer: take part in all-reduce rounds (hivemind `auxiliary=True`)."""

    @field_validator("initial_peers", "host_maddrs", "announce_maddrs", "lora_targets")
    @classmethod
    def _strip_empty(cls, values: list[str]) -> list[str]:
        return [value.strip() for value in values if value.strip()]

    @model_validator(mode="after")
    def _check_consistency(self) -> TrainConfig:
        if self.batch_size > self.target_batch_size:
            raise ValueError(
                f"batch_size ({self.batch_size}) is larger than target_batch_size ({self.target_batch_size})"
            )
        if self.warmup_steps >= self.total_steps and self.warmup_steps > 0:
            raise ValueError(f"warmup_steps ({self.warmup_steps}) must be below total_steps ({self.total_steps})")
        return self

    @property
    def state_averaging_period(self) -> int:
        if self.robust_aggregation:
            # hivemind's parameter averaging makes every trainer reduce a slice of the weights for
            # everybody, out of the trusted reducer's sight: with robust aggregation it never runs
            # (peers that miss a round download state instead, and the model guard checks it)
            return NEVER
        if self.average_state_every is not None:
            return self.average_state_every
        return 10 if self.averaging == "diloco" else 1

    def resolve_timeouts(self, trainable_params: int) -> None:
        """Fill unset ``matchmaking_time``/``averaging_timeout`` from `wan_timeouts` (in place, so
        every part of the peer that holds this config sees the same numbers)."""
        derived = wan_timeouts(trainable_params, self.compression, self.averaging_bandwidth_mbps)
        if self.matchmaking_time is None:
            self.matchmaking_time = derived.matchmaking_time
        if self.averaging_timeout is None:
            self.averaging_timeout = derived.averaging_timeout

    @property
    def identity_file(self) -> Path:
        return self.identity_path if self.identity_path is not None else self.checkpoint_dir / "identity.key"

    def make_private(self) -> TrainConfig:
        """Apply the seed's privacy options: loopback listening, no announced address, client mode."""
        return self.model_copy(
            update={"host_maddrs": list(PRIVATE_HOST_MADDRS), "announce_maddrs": [], "client_mode": True}
        )


# @dev Bytes per value sent in an all-reduce, by compression (uint8 sends small tensors in fp16:
#      negligible next to the large ones).
BYTES_PER_VALUE = {"none": 4, "fp16": 2, "uint8": 1}
# @dev Floors of the derived timeouts: what a small model on a LAN needs (hivemind's own scale).
MIN_MATCHMAKING_S = 15.0
MIN_AVERAGING_TIMEOUT_S = 60.0
MAX_MATCHMAKING_S = 60.0


@dataclass(frozen=True)
class AveragingTimeouts:
    payload_bytes: int
    transfer_s: float
    matchmaking_time: float
    averaging_timeout: float

    def describe(self, bandwidth_mbps: float) -> str:
        return (
            f"{self.payload_bytes / 1e9:.2f} GB per round, about {self.transfer_s:,.0f} s of transfer at "
            f"{bandwidth_mbps:g} Mbit/s: averaging timeout {self.averaging_timeout:,.0f} s, "
            f"matchmaking {self.matchmaking_time:.0f} s"
        )


def wan_timeouts(trainable_params: int, compression: str, bandwidth_mbps: float) -> AveragingTimeouts:
    """Averaging timeouts that let a round move the model at the stated bandwidth.

    A butterfly all-reduce makes every peer send and receive about twice the payload (its share of
    the reduction, then of the gather), so a round needs ``2 x params x bytes per value / bandwidth``
    seconds on the wire. The averaging timeout is three times that (a slower peer, TCP ramp-up,
    compression), and never below 60 s; matchmaking gets a twentieth of it, between 15 and 60 s
    (large payloads mean long steps, and peers reach the end of an epoch further apart). A 60 s
    timeout against minutes of transfer would end every round with local gradients only.
    """
    payload = trainable_params * BYTES_PER_VALUE[compression]
    transfer = 2 * payload * 8 / (bandwidth_mbps * 1e6)
    return AveragingTimeouts(
        payload_bytes=payload,
        transfer_s=transfer,
        matchmaking_time=min(MAX_MATCHMAKING_S, max(MIN_MATCHMAKING_S, transfer / 20)),
        averaging_timeout=max(MIN_AVERAGING_TIMEOUT_S, 3 * transfer),
    )


def load_config_file(path: Path) -> dict[str, object]:
    """Read a JSON file of `TrainConfig` fields (used by ``--config``)."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise TrainerError(f"config file {path} does not exist", "pass an existing JSON file to --config") from None
    except json.JSONDecodeError as exc:
        raise TrainerError(f"config file {path} is not valid JSON: {exc.msg} at line {exc.lineno}") from None
    if not isinstance(data, dict):
        raise TrainerError(f"config file {path} must hold a JSON object of TrainConfig fields")
    return data
