"""`trainer aux --pool-id N --validator-key KEYSTORE`: the pool's auxiliary peer and auditor.

It runs the auxiliary peer of the pool's run (`trainer.training.aux_peer`: reduces averaging
rounds, keeps the latest checkpoint, bootstraps the swarm) with the pool's admission feed
(`trainer.pool.admission_feed`: only peers bound to the pool's active, validated nodes take part),
and audits every work claim in the pool against what its reducer observed
(`trainer.pool.audit`), invalidating unbacked claims with the validator key. It spot-checks a
contribution of each round, sampled at random, against held-out data (`trainer.pool.spot_check`);
a contribution that fails is not credited. It records the peers whose signed progress states an epoch
far ahead of the swarm's (`trainer.pool.evidence.epoch_liars`), and it is the pool's only state
donor: it downloads a checked copy of the state every epoch from an admitted donor in rotation and
records a donor that served bad state (`trainer.training.vouched_state`). Its evidence, the
decision log (``audit.jsonl``) and the per-peer scores (``scores.json``) live in the workdir, and
survive restarts. Run it with a fixed identity and port so its multiaddr can be listed in the
pool's metadata as a bootstrap peer.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainer.errors import TrainerError

if TYPE_CHECKING:
    from hub.client import HubClient
    from trainer.training.aux_peer import AuxSummary

log = logging.getLogger("trainer")

# @dev Seconds between audit passes (each reads the DHT and the pool's new logs).
AUDIT_EVERY = 2.0


def audit_pool(
    client: HubClient,
    pool_id: int,
    workdir: Path,
    *,
    stop_event: threading.Event | None = None,
    **local: Any,
) -> AuxSummary:
    """Run the pool's aux peer and audit its claims until `stop_event` is set."""
    from trainer.pool.admission_feed import AdmissionFeed
    from trainer.pool.audit import Auditor
    from trainer.pool.evidence import OBSERVATIONS_FILE, EvidenceStore
    from trainer.pool.join import pool_metadata
    from trainer.pool.run_config import train_config
    from trainer.pool.spot_check import start_spot_checks
    from trainer.training.aux_peer import run_aux
    from trainer.training.identity import load_or_create_identity
    from trainer.training.progress import fetch_progress, fetch_swarm_epochs

    validator_role = "VALIDATOR_ROLE"
    if not client.hub.has_role(validator_role, client.address):
        raise TrainerError(
            f"{client.address} does not hold VALIDATOR_ROLE: it could not invalidate claims",
            "pass --validator-key with a validator's keystore (the admin grants it: `hub admin grant`)",
        )
    meta = pool_metadata(client, pool_id)
    workdir = Path(workdir)
    local.setdefault("checkpoint_dir", workdir / "checkpoints")
    local.setdefault("metrics_file", workdir / "metrics.jsonl")
    # the reducer writes its observations where the audit reads its evidence
    local.setdefault("observations_file", workdir / OBSERVATIONS_FILE)
    config = train_config(meta, **local).model_copy(update={"max_epochs": None})
    # the aux peer is usually the pool's bootstrap peer itself: it must not dial its own address
    own = load_or_create_identity(config.identity_file).peer_id
    others = [peer for peer in config.initial_peers if not peer.rstrip("/").endswith(f"/p2p/{own}")]
    config = config.model_copy(update={"initial_peers": others})
    evidence = EvidenceStore(workdir, client.chain_id, pool_id)
    auditor = Auditor(
        client,
        pool_id,
        meta.audit,
        evidence,
        tokens_per_sample=config.seq_len,
        epoch_samples=config.target_batch_size,
        log_file=workdir / "audit.jsonl",
    )

    last = [0.0]

    def tick(dht: Any, epoch: int) -> None:
        if time.monotonic() - last[0] < AUDIT_EVERY:
            return
        last[0] = time.monotonic()
        records = fetch_progress(dht, config.run_id, timeout=5.0)
        auditor.tick(records, swarm_epochs=fetch_swarm_epochs(dht, config.run_id, timeout=5.0), aux_epoch=epoch)

    log.info("auditing pool %d (run %s) as validator %s", pool_id, meta.run_id, client.address)
    admission = AdmissionFeed(client, pool_id, evidence) if config.robust_aggregation else None
    checks = start_spot_checks if config.robust_aggregation else None
    return run_aux(config, stop_event, on_tick=tick, allow=admission, spot_checker=checks)
