"""A pool's metadata document and how it becomes this node's training run.

The document has one schema, `hub.metadata.PoolMetadata`: `hub pool create` validates it before
anything is sent, and `trainer join` and the aux peer parse the very same model, so the trainer
refuses nothing the hub accepted (hub/README.md, "Pool metadata", documents it). `trainer join`
fetches the bytes from the pool's URI (file://, data:, http(s)://, ipfs://) and refuses them unless
their keccak256 is the pool's on-chain hash (`hub.metadata.fetch_metadata`), then builds its
`TrainConfig` here: the pool's settings, its bootstrap peers, then the node's own local settings.
The hub checks which settings a pool may set; their values are checked here, by `TrainConfig`.
With `robust_aggregation` and no `trusted_reducers` named, the bootstrap peers (the operator's aux
peers) are the only reducers a trainer accepts.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from hub.errors import HubError
from hub.metadata import AuditPolicy, PoolMetadata, parse_pool_metadata
from trainer.errors import TrainerError
from trainer.training.config import TrainConfig

__all__ = ["AuditPolicy", "PoolMetadata", "parse_metadata", "train_config"]


def parse_metadata(data: bytes, pool_id: int) -> PoolMetadata:
    """Parse the pool's metadata bytes with the hub's schema; one-line `TrainerError` naming what is wrong."""
    try:
        return parse_pool_metadata(data, source=f"pool {pool_id}'s metadata")
    except HubError as exc:
        raise TrainerError(exc.message, "the pool creator fixes the metadata file and creates a new pool") from None


def train_config(metadata: PoolMetadata, **local: Any) -> TrainConfig:
    """The node's TrainConfig: the pool's settings, its bootstrap peers, then the node's local ones."""
    settings: dict[str, Any] = {**metadata.train, "run_id": metadata.run_id}
    if settings.get("robust_aggregation") and not settings.get("trusted_reducers"):
        # the pool's bootstrap peers are its operator's aux peers: with robust aggregation they,
        # and only they, reduce (a trainer refuses a round that hands a part to anyone else)
        settings["trusted_reducers"] = [
            peer.rstrip("/").rsplit("/p2p/", 1)[1] for peer in metadata.bootstrap_peers if "/p2p/" in peer
        ]
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
