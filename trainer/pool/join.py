"""`trainer join --pool-id N`: train a pool's model as one of its nodes and get paid for it.

1. Read the pool through the hub client: it must be active, and this node key registered,
   validated and in the pool; otherwise stop with the missing step and the `hub` command for it.
2. Fetch the pool's metadata from its URI and refuse it unless its keccak256 is the pool's
   `metadataHash`; build the run (`trainer.pool.run_config`).
3. Bind the libp2p peer to the node key (`trainer.pool.binding`): the binding rides in every signed
   progress record, so the aux peer can map DHT records to on-chain claims.
4. Train (`trainer.training.session.run_training`). Every collaborative epoch becomes a durable work
   receipt (`trainer.pool.work_queue`); a submitter thread sends them every `submit_every_epochs`
   epochs, retrying while the chain is away, never twice, and never more than the pool's
   work-rate cap allows (the node's compute units x the pool's max rate: the start-up log states
   it, and the first epoch that trains faster than it warns with the numbers and the fixes).
5. Stop when the run ends, when asked (the first Ctrl+C or SIGTERM), or when the chain says the
   node is out of the pool. On the way out the submitter makes one last pass. When the run ended
   on its own it first waits (at most FINAL_WAIT_SECONDS of our clock) for chain time to allow the
   waiting receipts: a run that ends in the same block second as the previous claim would
   otherwise find the cap allowing nothing and leave its last epochs for a `trainer join` that may
   never come. When asked to stop it never waits: it claims what the cap allows at that moment.
   What is left stays in the receipts file and goes out with the next `trainer join` in the same
   workdir.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainer.errors import TrainerError

if TYPE_CHECKING:
    from hub.client import HubClient
    from trainer.pool.run_config import PoolMetadata
    from trainer.pool.work_queue import WorkCap
    from trainer.training.train_loop import EpochReport, TrainingSummary

log = logging.getLogger("trainer")

# @dev Seconds between submitter passes while receipts are waiting (a chain that is away).
RETRY_SECONDS = 3.0
# @dev Longest wait, at the end of a run that ended on its own, for chain time to allow the last
# receipts (the pool's work-rate rule counts whole block seconds since the previous claim).
FINAL_WAIT_SECONDS = 30.0
# @dev Receipt rejections that mean this node cannot work in the pool any more.
_FATAL = ("node not in pool", "pool is not active", "provider is blacklisted")


@dataclass
class JoinSummary:
    pool_id: int
    node: str
    peer_id: str
    training: TrainingSummary | None
    confirmed: int = 0
    rejected: list[str] = field(default_factory=list)
    unsettled: int = 0
    claimed_tokens: int = 0
    """Tokens in claims the chain confirmed."""
    dropped_tokens: int = 0
    """Tokens trained but never claimed: beyond the pool's work-rate cap."""
    waiting_tokens: int = 0
    """Tokens in receipts still to send (the next `trainer join` in this workdir sends them)."""


def pool_metadata(client: HubClient, pool_id: int) -> PoolMetadata:
    """The pool's metadata, fetched from its URI and checked against its on-chain hash."""
    from hub.errors import HubError
    from trainer.pool.run_config import parse_metadata

    try:
        return parse_metadata(client.pool.metadata(pool_id), pool_id)
    except HubError as exc:
        raise TrainerError(f"pool {pool_id}'s metadata: {exc.message}", exc.hint) from None


def open_pool(client: HubClient, pool_id: int) -> PoolMetadata:
    """Check this node may work in the pool now and return the pool's verified metadata."""
    problems = client.pool.membership(pool_id, client.address).problems()
    if problems:
        problem, fix = problems[0]
        raise TrainerError(f"cannot train in pool {pool_id}: {problem}", fix)
    return pool_metadata(client, pool_id)


class Submitter:
    """Moves work receipts to the chain from a background thread."""

    def __init__(
        self,
        client: HubClient,
        queue_path: Path,
        every: int,
        stop_training: threading.Event,
        claim_multiplier: float = 1.0,
        cap: WorkCap | None = None,
    ) -> None:
        from trainer.pool.work_queue import WorkQueue

        self.client = client
        self.queue = WorkQueue(queue_path)
        self.every = every
        self.cap = cap
        self.warned_rate = False
        self.claim_multiplier = claim_multiplier
        self.stop_training = stop_training
        self.wake = threading.Event()
        self.done = threading.Event()
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._loop, name="work-submitter", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def record(self, report: EpochReport, pool_id: int) -> None:
        """on_epoch: one receipt per collaborative epoch (merged into ranges before sending)."""
        if report.tokens <= 0:
            return
        self._check_rate(report)
        units = int(report.tokens * self.claim_multiplier)
        with self.lock:
            self.queue.add(pool_id, report.peer_id, report.epoch, report.epoch, units)
        self.wake.set()

    def _check_rate(self, report: EpochReport) -> None:
        """Warn once, with the numbers and the fixes, when this node trains faster than it can claim."""
        if self.cap is None or self.warned_rate or report.wall_time <= 0:
            return
        rate = report.tokens / report.wall_time
        if rate <= self.cap.per_second:
            return
        self.warned_rate = True
        log.warning(
            "this node trains %.0f tokens/s but pool work is paid for at most %d tokens/s (%d compute units x "
            "the pool's max rate %d per unit per second): about %.0f%% of its tokens will never be paid. "
            "Fix: register the node with more compute units (`hub node attest --units N`, then the provider "
            "adds it again), join a pool whose domain allows a higher rate, or train fewer tokens per second "
            "(--num-threads)",
            rate,
            self.cap.per_second,
            self.cap.compute_units,
            self.cap.max_rate,
            100 * (1 - self.cap.per_second / rate),
        )

    def _due(self) -> bool:
        """Something to send: a transaction in flight, a full batch, or anything at the end."""
        unsettled = self.queue.unsettled()
        waiting = sum(1 for r in unsettled if r.tx_hash is None)
        in_flight = len(unsettled) - waiting
        return in_flight > 0 or waiting >= self.every or (self.done.is_set() and waiting > 0)

    def _loop(self) -> None:
        while not self.done.is_set():
            self.wake.wait(RETRY_SECONDS)
            self.wake.clear()
            with self.lock:
                if self._due():
                    self._flush()

    def _flush(self, final: bool = False) -> None:
        self.queue.flush(self.client, self.cap, final=final)
        for receipt in self.queue.receipts:
            if receipt.status == "rejected" and receipt.error and any(f in receipt.error for f in _FATAL):
                if not self.stop_training.is_set():
                    log.error("stopping: the chain refused this node's work (%s)", receipt.error)
                    self.stop_training.set()

    def finish(self) -> None:
        """Stop the thread and make one last pass. A run that ended on its own first waits, bounded,
        for chain time to allow what is waiting; a run asked to stop (a first Ctrl+C must be enough)
        sends what the cap allows now. Whatever is left is saved for the next start."""
        self.done.set()
        self.wake.set()
        self.thread.join()
        with self.lock:
            if self._due():
                if not self.stop_training.is_set():
                    self._wait_for_allowance()
                self._flush(final=True)
        waiting = self.queue.unsettled()
        if waiting:
            log.warning(
                "%d work receipts (%d tokens) wait in %s: the next `trainer join` with this workdir sends them",
                len(waiting),
                sum(r.units for r in waiting),
                self.queue.path,
            )

    def _wait_for_allowance(self) -> None:
        """Until the work-rate rule allows every never-sent receipt, or FINAL_WAIT_SECONDS pass.

        Chain time decides (the rule counts block seconds since the node's last claim); without a
        known cap (a custom validation contract) one later block second is what the chain needs
        before it can take anything."""
        import time

        from hub.errors import HubError

        pending = [r for r in self.queue.unsettled() if r.tx_hash is None]
        if not pending:
            return
        needed = sum(r.units for r in pending)
        pool_id = pending[0].pool_id
        deadline = time.monotonic() + FINAL_WAIT_SECONDS
        try:
            start = self.client.now()
            while time.monotonic() < deadline:
                if self.cap is not None and self.cap.allowance(self.client, pool_id) >= needed:
                    return
                if self.cap is None and self.client.now() > start:
                    return
                time.sleep(0.5)  # polling chain time, bounded by the deadline
        except HubError as exc:
            log.warning("chain unavailable at the end of the run: %s", exc.message)
            return
        log.info(
            "the work-rate rule does not yet allow the last %d tokens after %.0f s: claiming what it allows now",
            needed,
            FINAL_WAIT_SECONDS,
        )


def join_pool(
    client: HubClient,
    pool_id: int,
    workdir: Path,
    *,
    stop_event: threading.Event | None = None,
    claim_multiplier: float = 1.0,
    **local: Any,
) -> JoinSummary:
    """Train in `pool_id` as the client's account (the node key) until the run ends or `stop_event`.

    `local` overrides node-local TrainConfig fields (device, host_maddrs, max_epochs, ...).
    `claim_multiplier` != 1 makes the node claim more than it did: a fault injection for tests of
    the audit, never for real use (the aux peer invalidates such claims and its provider is slashed).
    """
    from trainer.pool.binding import sign_binding
    from trainer.pool.run_config import train_config
    from trainer.pool.work_queue import read_cap
    from trainer.training.config import NodeBinding
    from trainer.training.identity import load_or_create_identity
    from trainer.training.session import run_training
    from trainer.training.swarm import LocalOnlyWatch

    meta = open_pool(client, pool_id)
    workdir = Path(workdir)
    local.setdefault("checkpoint_dir", workdir / "checkpoints")
    local.setdefault("metrics_file", workdir / "metrics.jsonl")
    config = train_config(meta, **local)
    identity = load_or_create_identity(config.identity_file)
    binding = NodeBinding(
        node=client.address, signature=sign_binding(client.account, client.chain_id, pool_id, identity.peer_id)
    )
    config = config.model_copy(update={"node_binding": binding})
    log.info("node %s trains in pool %d (run %s) as peer %s", client.address, pool_id, meta.run_id, identity.peer_id)

    cap = read_cap(client, pool_id)
    if cap is not None:
        log.info(
            "work-rate cap: %d compute units x the pool's max rate %d = %d tokens/s claimable",
            cap.compute_units,
            cap.max_rate,
            cap.per_second,
        )

    stop_event = stop_event or threading.Event()
    queue_path = workdir / f"work-{client.chain_id}-{pool_id}-{client.address}.json"
    submitter = Submitter(client, queue_path, meta.work.submit_every_epochs, stop_event, claim_multiplier, cap)
    submitter.start()
    summary = JoinSummary(pool_id, client.address, identity.peer_id, None)
    watch = LocalOnlyWatch(stop_event)

    def on_epoch(report: EpochReport) -> None:
        submitter.record(report, pool_id)
        watch.record(report)

    try:
        summary.training = run_training(config, on_epoch=on_epoch, stop_event=stop_event)
    finally:
        submitter.finish()
        receipts = submitter.queue.receipts
        summary.confirmed = sum(1 for r in receipts if r.status == "confirmed")
        summary.rejected = [r.error or "" for r in receipts if r.status == "rejected"]
        summary.unsettled = len(submitter.queue.unsettled())
        summary.claimed_tokens = sum(r.units for r in receipts if r.status == "confirmed")
        summary.dropped_tokens = sum(r.dropped for r in receipts)
        summary.waiting_tokens = sum(r.units for r in submitter.queue.unsettled())
    return summary
