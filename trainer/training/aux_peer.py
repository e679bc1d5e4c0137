"""The auxiliary peer: helps the swarm average, keeps the latest checkpoint, reports what it sees.

It has no data. It runs `hivemind.Optimizer(auxiliary=True)` over a CPU copy of the model so it
can take part in all-reduce rounds (it reduces parts of the tensors without contributing a
gradient), and every ``checkpoint_every`` epochs it downloads the newest state from a trainer and
writes a checkpoint. With robust aggregation it downloads a checked copy of the state every swarm
epoch (and again, a few times, while the copy is behind the swarm's epoch: `VouchedCopies`),
scored on held-out data, and is the only peer trainers download state from
(`trainer.training.vouched_state`).
It is the natural bootstrap peer: start it first, on a reachable address with
a fixed ``--identity-path`` and port, and give its multiaddrs to everyone else.

Every ``log_every`` seconds it reads all peers' signed progress records and logs one line for
the swarm (and a ``swarm`` event with per-peer totals to the metrics file).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from trainer.errors import SwarmError
from trainer.training.config import TrainConfig
from trainer.training.reporting import MetricsFile, metric_line

log = logging.getLogger("trainer")

# @dev Downloads the aux peer makes in one swarm epoch after the first while its copy is still
#      behind that epoch. The first download of an epoch can find its donor still finishing the
#      round (it serves the epoch before) or a lagging donor first in rotation; a trainer whose round
#      went on without it waits for a copy at its own epoch (`SwarmOptimizer.load_state_from_peers`).
#      Each retry waits for the previous download to end; each costs one download of the state.
COPY_RETRIES = 3


@dataclass
class AuxSummary:
    peer_id: str
    final_epoch: int
    checkpoints: list[str]
    peers_seen: list[str]


def run_aux(
    config: TrainConfig,
    stop_event: threading.Event | None = None,
    on_tick: Callable[[Any, int], None] | None = None,
    allow: Callable[[], Collection[str]] | None = None,
    spot_checker: Callable[..., Any] | None = None,
) -> AuxSummary:
    """Run an auxiliary peer until ``stop_event`` is set or the swarm reaches ``max_epochs``.

    The aux peer adopts the run's shared settings (profile, averaging mode, target batch size,
    compression) from the DHT when the run already exists. ``on_tick(dht, epoch)`` is called once
    per refresh with the aux peer's DHT (the pool audit reads progress records through it) and the
    swarm's epoch as the aux peer sees it; an exception it raises is logged, not fatal.

    With ``config.robust_aggregation`` this peer is the swarm's trusted reducer
    (`trainer.training.reducer`): ``allow()`` returns the peer ids admitted to averaging, read
    once per refresh (None: every sender is admitted); ``config.observations_file`` receives what
    it saw of every contribution. ``spot_checker(model, trainable, tokenizer, config)`` (the pool's
    `trainer.pool.spot_check.start_spot_checks`) returns a running checker of the contributions the
    reducer samples, or None; the aux peer hands it its weights after each checkpoint download and
    closes it on the way out.
    """
    import torch

    from trainer.training.checkpoint import BASE_DIR, save_checkpoint
    from trainer.training.dht_watch import DHTWatch, leave_swarm
    from trainer.training.identity import load_or_create_identity
    from trainer.training.model import load_model
    from trainer.training.plan import plan_run
    from trainer.training.swarm import build_dht, build_optimizer, capture_hivemind_logs, read_run_settings

    if config.client_mode:
        raise SwarmError("an auxiliary peer cannot run in client mode", "drop --client-mode / --private for aux")
    if config.robust_aggregation and not config.aux_assist:
        raise SwarmError("robust aggregation needs the aux peer to reduce", "turn aux_assist back on")
    stop_event = stop_event or threading.Event()
    config = config.model_copy(update={"device": "cpu", "dtype": "fp32", "attention": "auto"})
    config.checkpoint_dir.mkdir(parents=True, exist_ok=True)
    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    metrics = MetricsFile(config.metrics_file)
    capture_hivemind_logs(str(config.checkpoint_dir / "hivemind.log"))
    identity = load_or_create_identity(config.identity_file)
    dht = build_dht(config, identity)
    opt = checker = copies = None
    try:
        # a dead DHT process leaves every later DHT call waiting forever: stop with an error
        with DHTWatch(dht, stop_event, hint="run the same command again: the aux peer rejoins the swarm"):
            maddrs = [str(addr) for addr in dht.get_visible_maddrs()]
            if config.maddrs_file is not None:
                config.maddrs_file.parent.mkdir(parents=True, exist_ok=True)
                config.maddrs_file.write_text("\n".join(maddrs) + "\n")
            log.info("aux peer %s; other peers can join with --initial-peers %s", identity.peer_id, " ".join(maddrs))

            swarm_settings = read_run_settings(dht, config.run_id, timeout=5.0) if config.initial_peers else None
            if swarm_settings:
                adopt = {
                    name: swarm_settings[name]
                    for name in ("averaging", "target_batch_size", "compression", "average_state_every", "profile")
                    if name in swarm_settings
                }
                if swarm_settings.get("lora_rank"):
                    adopt["lora_rank"] = swarm_settings["lora_rank"]
                config = config.model_copy(update=adopt)
                log.info("adopted the run's settings: %s", adopt)
            elif config.profile == "auto":
                config = config.model_copy(update={"profile": "full"})
            plan = plan_run(config, need_data=False)
            for line in plan.describe():
                log.info(line)
            model, trainable = load_model(
                plan.spec,
                plan.kernel,
                plan.profile,
                "cpu",
                seed=config.seed,
                lora_rank=config.lora_rank,
                lora_alpha=config.lora_alpha,
                lora_dropout=0.0,
                lora_targets=config.lora_targets,
                base_dir=config.checkpoint_dir / BASE_DIR,
            )
            admission = None
            if config.robust_aggregation and allow is not None:
                from trainer.training.reducer import Admission

                admission = Admission()
                _publish(admission, allow)
            opt = build_optimizer(config, dht, trainable, auxiliary=True, admission=admission)
            if opt.robust is not None:
                from trainer.training.vouched_state import state_scorer

                # a copy is scored on held-out data before it is installed, against the best so far
                opt.state_averager.state_scorer = state_scorer(model, trainable, plan.tokenizer, config)
            if spot_checker is not None and opt.robust is not None and config.observations_file is not None:
                checker = spot_checker(model, trainable, plan.tokenizer, config)
                # the reducer samples contributions only while somebody scores them
                opt.robust.spot_checks.value = checker is not None
            metrics.write("start", peer_id=identity.peer_id, maddrs=maddrs, role="aux")

            checkpoints: list[str] = []
            peers_seen: set[str] = set()
            last_saved_epoch = -1
            last_attempt_epoch = -1
            last_log = 0.0

            def save_if_due(swarm_epoch: int, loaded: int | None) -> None:
                """Write a checkpoint of the state just loaded (at epoch ``loaded``) when one is due."""
                nonlocal last_saved_epoch
                due = config.checkpoint_every and swarm_epoch >= max(1, last_saved_epoch + config.checkpoint_every)
                if due and loaded is not None and loaded > last_saved_epoch:
                    path = save_checkpoint(
                        config.checkpoint_dir,
                        epoch=loaded,
                        model=model,
                        lora=plan.profile.profile == "lora",
                        tokenizer=plan.tokenizer,
                        optimizer_state=None,
                        state={
                            "run_id": config.run_id,
                            "peer_id": identity.peer_id,
                            "model": config.model,
                            "model_source": plan.spec.source,
                            "role": "aux",
                            "run_settings": swarm_settings or {},
                        },
                        keep=config.keep_checkpoints,
                    )
                    checkpoints.append(str(path))
                    last_saved_epoch = loaded
                    if checker is not None:
                        checker.load_weights(trainable)
                    metrics.write("checkpoint", epoch=loaded, path=str(path))

            if opt.robust is not None:
                copies = VouchedCopies(opt, on_copy=save_if_due)
            while True:
                swarm_epoch = max(opt.tracker.global_epoch, opt.local_epoch)
                if stop_event.is_set() or (config.max_epochs is not None and swarm_epoch >= config.max_epochs):
                    break
                if admission is not None and allow is not None:
                    _publish(admission, allow)
                if opt.robust is not None:
                    # rounds are stamped with the epoch their senders declare; the aux peer's own (it may
                    # lag) breaks ties and stands in when no sender declared one
                    opt.robust.epoch.value = opt.local_epoch
                if config.aux_assist:
                    opt.step()
                swarm_epoch = max(opt.tracker.global_epoch, opt.local_epoch)
                due = config.checkpoint_every and swarm_epoch >= max(1, last_saved_epoch + config.checkpoint_every)
                if copies is not None:
                    copies.tick(swarm_epoch)
                elif due and swarm_epoch > last_attempt_epoch:
                    # one download attempt per new swarm epoch: a swarm that left must not keep us busy
                    last_attempt_epoch = swarm_epoch
                    save_if_due(swarm_epoch, opt.download_state_once())
                if on_tick is not None:
                    try:
                        on_tick(dht, swarm_epoch)
                    except Exception as exc:  # an audit hiccup must not take the swarm's helper down
                        log.error("aux tick failed: %r", exc)
                now = time.monotonic()
                if now - last_log >= config.log_every:
                    last_log = now
                    peers_seen |= _report_swarm(dht, config, opt, metrics, last_saved_epoch)
                stop_event.wait(config.aux_refresh)
            if copies is not None:
                copies.close()
            peers_seen |= _report_swarm(dht, config, opt, metrics, last_saved_epoch)
            summary = AuxSummary(identity.peer_id, opt.tracker.global_epoch, checkpoints, sorted(peers_seen))
            metrics.write("stop", peer_id=identity.peer_id, final_epoch=summary.final_epoch, checkpoints=checkpoints)
            return summary
    finally:
        if copies is not None:
            # with the DHT process gone a download in progress never ends: the thread is a daemon
            copies.close(timeout=60.0 if dht.is_alive() else 1.0)
        if checker is not None:
            checker.close()
        leave_swarm(opt, dht)


class VouchedCopies:
    """The aux peer's copy of the swarm's state with robust aggregation (`trainer.training.vouched_state`):
    downloaded from an admitted donor, checked and served (`SwarmOptimizer.refresh_served_copy`)
    when the swarm's epoch moves and, while the copy is still behind that epoch, again up to
    `COPY_RETRIES` times, each after the last download ended. Downloads run in a thread: one in the
    aux loop kept the reducer out of the round that starts with the epoch (test_attacks saw rounds
    missing and honest peers drifting apart). ``on_copy(swarm_epoch, loaded)`` follows each download
    (the checkpoint); ``tick`` is called from the aux loop with the swarm's epoch."""

    def __init__(self, opt: Any, on_copy: Callable[[int, int | None], None] | None = None) -> None:
        self.opt, self.on_copy = opt, on_copy
        self.epoch = -1
        self.retries_left = 0
        self.refresher = _Refresher(self._refresh)

    def tick(self, swarm_epoch: int) -> None:
        copy = self.opt.state_averager.vouched_epoch
        if swarm_epoch > self.epoch:
            self.epoch, self.retries_left = swarm_epoch, COPY_RETRIES
        elif self.retries_left > 0 and self.refresher.idle and (copy is None or copy < swarm_epoch):
            self.retries_left -= 1
        else:
            return  # a swarm that left must not keep the aux peer downloading
        self.refresher.request(swarm_epoch)

    def _refresh(self, swarm_epoch: int) -> None:
        loaded = self.opt.refresh_served_copy()
        if self.on_copy is not None:
            self.on_copy(swarm_epoch, loaded)

    def close(self, timeout: float = 60.0) -> None:
        self.refresher.close(timeout)


class _Refresher:
    """Runs ``work(epoch)`` in a thread for the latest epoch requested (requests that arrive while
    it works collapse into one)."""

    def __init__(self, work: Callable[[int], None]) -> None:
        self.work = work
        self.wanted: int | None = None
        self.working = False
        self.stopped = False
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._run, name="aux-state-refresh", daemon=True)
        self.thread.start()

    @property
    def idle(self) -> bool:
        """Nothing requested and nothing running."""
        with self.cond:
            return self.wanted is None and not self.working

    def request(self, epoch: int) -> None:
        with self.cond:
            self.wanted = epoch
            self.cond.notify()

    def _run(self) -> None:
        while True:
            with self.cond:
                while self.wanted is None and not self.stopped:
                    self.cond.wait()
                if self.stopped:
                    return
                epoch, self.wanted = self.wanted, None
                self.working = True
            try:
                self.work(epoch)
            except Exception as exc:  # the next epoch tries again; the aux peer keeps reducing
                log.error("state refresh at epoch %d failed: %r", epoch, exc)
            finally:
                with self.cond:
                    self.working = False

    def close(self, timeout: float = 60.0) -> None:
        """Stop after the download in progress (if any): it is bounded by the state timeouts."""
        with self.cond:
            self.stopped = True
            self.cond.notify()
        self.thread.join(timeout)


def _publish(admission: Any, allow: Callable[[], Collection[str]]) -> None:
    try:
        admission.publish(allow())
    except Exception as exc:  # the last published list stands: nobody new gets in meanwhile
        log.error("could not refresh the averaging allow-list: %r", exc)


def _report_swarm(dht: Any, config: TrainConfig, opt: Any, metrics: MetricsFile, saved_epoch: int) -> set[str]:
    from trainer.training.progress import fetch_progress

    records = fetch_progress(dht, config.run_id, timeout=5.0)
    progress = opt.tracker.global_progress
    latest = [record.record.recent[-1] for record in records.values() if record.record.recent]
    losses = [work.mean_loss for work in latest if work.mean_loss >= 0]
    log.info(
        metric_line(
            swarm_epoch=progress.epoch,
            active_peers=progress.num_peers,
            peers_with_records=len(records),
            tokens=sum(record.record.tokens for record in records.values()),
            loss=sum(losses) / len(losses) if losses else None,
            checkpoint_epoch=saved_epoch if saved_epoch >= 0 else None,
        )
    )
    metrics.write(
        "swarm",
        epoch=progress.epoch,
        active_peers=progress.num_peers,
        peers={
            peer: {"epoch": r.record.epoch, "tokens": r.record.tokens, "samples": r.record.samples}
            for peer, r in records.items()
        },
    )
    return set(records)
