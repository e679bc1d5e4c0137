"""Robustness of a 4-peer swarm against one attacker of each kind, and what each attack would earn.

    python bench/robustness.py                      # every kind (about 20-25 minutes on 2 loaded cores)
    python bench/robustness.py --kinds none         # the two honest runs only
    python bench/robustness.py --kinds nan weight   # some kinds only (the honest runs always run)
    python bench/robustness.py --epochs 8           # longer runs (default 6)
    python bench/robustness.py --cost-pairs 3       # the aggregation cost as the median of 3 honest pairs
    python bench/robustness.py --rejudge --workdir DIR   # judge a kept run again, offline

Each scenario is a real swarm on loopback: an aux peer that reduces every round robustly
(`robust_aggregation`, CenteredClip, the allow-list; `trainer.training.robust`) and four trainers
of the tiny LLaMA, all but one honest; the attacker runs with ``TRAINER_ATTACK=<kind>``
(`trainer.training.attacks`). Two honest runs come first: four honest trainers with robust
aggregation (the reference) and with plain hivemind averaging (the aggregation's cost).

The bench measures the swarm, not peers racing alone. A trainer publishes its progress record
only once it has samples, and a progress tracker that found no record looks again only hivemind's
``default_refresh_period`` (3 s) later; until then the peer believes it is alone and hivemind
steps its epochs locally. With 48-sample epochs a peer under CI load ran all 8 of its epochs alone
in 2-6 s before its first view of the others, so the honest reference and every attack run were
different swarms each time (bench/RESULTS.md, 2026-11-27). No epoch length the bench can afford
outlasts that first look: with 192-sample epochs and the old start, a peer of the plain run here
stepped its first 2 epochs alone, each in 0.7-1.4 s of compute (a micro-batch of 4 takes 15 ms
when a core is free). Hence a
start condition (`start_in_view`): every trainer's first micro-batch, once reported, waits until
its view shows every honest trainer and then until all trainers have seen theirs (up to 12 s
here, under load 6-20). Epochs stay 192 samples (48 micro-batches across the swarm, as
tests/trainer/test_attacks.py): a round then carries several micro-batches of every peer, so its
matchmaking (1.5 s) does not make up the utilization the aggregation cost is computed from.

Epoch 0 is the start, alike in every scenario: after the wait no tracker knows the others' rates,
so each refreshes its view only up to 10 s later; meanwhile every trainer brings about 180 samples
to epoch 0, and its round often finds no reducer (measured, 2026-11-28: no epoch-0 round reduced
in 9 of the 18 robust swarms of two full runs, whose honest peers stepped epoch 0 alone with the
others in view). Each table row counts the honest epochs that stepped alone (a group of 1), and
of them those with other trainers in view: beyond epoch 0 those are rounds that failed in the
swarm (issue 16: a peer that steps alone keeps weights apart), not peers racing alone. The count
comes from hivemind's log of the group, which names the group even when the peer's input never
reached the reducer, so it is a lower bound.

Per scenario, printed:

- loss ratio: the mean held-out loss of the honest peers' final models (their checkpoints, written
  as they stop at ``--epochs``) / the same in the honest robust run, every model scored on the
  same 64 held-out sequences of the run's data (the aux peer's state-scoring batch). Every honest
  peer stops at the same epoch in every scenario, so the ratio compares models of the same number
  of collaborative epochs; the epochs each reached are printed. (The training loss of a last epoch
  is a few micro-batches on each peer's own shard: too noisy for a 5% goal.);
- caught: the pool audit (`trainer.pool.audit.judge`) run on the aux peer's real observation log,
  its state downloads and the epochs it read from the peers' signed progress records (as the pool's
  aux service gathers them), and every trainer's own records, with one claim per epoch per trainer
  as `trainer join` makes them: the attacker counts as caught when a claim of it is hard, or
  (``outsider``) when the reducer refused every contribution it sent (it is not a pool member: the
  chain refuses its claims);
- honest penalized: honest claims judged soft or hard (must be 0), each with the audit's reason;
  the ``liar`` row judges the honest run again, so its honest penalties are the ``none`` row's and
  count once in the last line;
- profit: under the demo pool's parameters (`aihub_demo.local_chain`: reward per token, fraud
  slash), the reward its claims collect (none once one is hard: the hard invalidation voids every
  locked reward of the node) minus the stake slashed, minus what an honest node doing the same
  work would have collected. A positive number is a profitable attack.

The ``liar`` has no process: it is a pool node that signs progress records for an honest share of
every epoch and claims them, and sends nothing; it is judged on the honest robust run's log.

Aggregation cost: 1 - (honest compute utilization with robust aggregation / with plain
averaging), utilization = compute time / wall time per epoch, on the same machine in the same
invocation. One pair of swarms minutes apart measures the machine's load as much as the
aggregation (+15.7% and -73.8% in two runs under CI load), so ``--cost-pairs N`` runs N-1 more
honest pairs, robust then plain, interleaved, and the cost printed is the median of the N pairs'
costs (each pair's is printed too); the loss and audit columns use the first pair only. The
last line reads ``robustness: worst loss ratio R, caught K/N, honest penalized P, aggregation cost
C%, best attack profit X INJ``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SEQ_LEN = 64
BATCH = 4
# @dev Where the aux peer appends the epoch each peer signed in the swarm's progress records, per tick.
SWARM_EPOCHS_FILE = "swarm_epochs.jsonl"
# @dev Samples per collaborative epoch: 48 micro-batches of 4 across the swarm (module docstring).
TARGET = 192
TRAINERS = 4
# @dev The longest a trainer's first micro-batch waits for its view of the swarm (`start_in_view`):
#      a bound, so that a trainer whose view never fills starts anyway (it then races alone, and
#      the table's "alone" column shows it); measured: up to 12 s, 88 trainers under load 6-20.
VIEW_TIMEOUT = 60.0
POOL, CHAIN = 1, 1776  # any: the audit is run offline, the binding signatures only need to agree


# --- one peer (this script re-runs itself with --peer) ---------------------------------------------


def peer_main(role: str, config_path: Path, extra: list[str]) -> None:
    from trainer.training.config import TrainConfig
    from trainer.training.reporting import setup_logging

    setup_logging()
    config = TrainConfig(**json.loads(config_path.read_text()))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    if role == "aux":
        from trainer.training.aux_peer import run_aux

        allow_path = Path(extra[0])

        def allow() -> set[str]:
            return {line.strip() for line in allow_path.read_text().splitlines() if line.strip()}

        from trainer.pool.spot_check import start_spot_checks

        robust = config.robust_aggregation
        epochs_file = Path(str(config.observations_file)).with_name(SWARM_EPOCHS_FILE)

        def record_epochs(dht: Any, epoch: int) -> None:
            # what the pool's aux service hands its audit (trainer.pool.aux_service): the epoch each
            # peer signed in the swarm's progress records, and the aux peer's own
            from trainer.training.progress import fetch_swarm_epochs

            stated = fetch_swarm_epochs(dht, config.run_id, timeout=5.0)
            with open(epochs_file, "a") as fh:
                fh.write(json.dumps({"aux_epoch": epoch, "stated": stated}) + "\n")

        run_aux(
            config,
            stop_event=stop,
            on_tick=record_epochs if robust else None,
            allow=allow if robust else None,
            spot_checker=start_spot_checks if robust else None,
        )
        return
    from trainer.training.session import TrainingSession

    ready, go = Path(extra[0]), Path(extra[1])
    session = TrainingSession(config)
    try:
        session.start()
        start_in_view(session, int(extra[2]), go.parent, int(extra[3]))
        ready.touch()
        while not go.exists() and not stop.wait(0.1):
            pass
        session.run(stop_event=stop)
    finally:
        session.close()


def start_in_view(session: Any, honest: int, workdir: Path, trainers: int, timeout: float = VIEW_TIMEOUT) -> None:
    """The bench's start condition: a trainer's first micro-batch, once reported, waits until its
    view of the swarm shows the `honest` trainers (an attacker's record may be filtered out:
    `epoch`), then until every one of the `trainers` has said so (a ``.viewed`` file in `workdir`),
    at most `timeout` seconds in all. A trainer publishes a progress record only once it has
    samples, so no view can show the others before they train; without this, a peer whose tracker
    looked before the others' first records believed it was alone until its next look (hivemind's
    ``default_refresh_period``, 3 s) and stepped its epochs alone meanwhile (module docstring). The
    second wait keeps the first to see everyone from training the epoch alone while the others
    still wait for their trackers' next look (up to 10 s apart: one did, here)."""
    swarm, tracker = session.swarm, session.opt.tracker
    step = swarm.step

    def first_step(samples: int) -> None:
        swarm.step = step
        step(samples)
        began = time.monotonic()
        while tracker.global_progress.num_peers < honest and time.monotonic() < began + timeout:
            time.sleep(0.1)  # polling the tracker's view, which its own thread refreshes
        seen = tracker.global_progress.num_peers
        (workdir / f"{session.config.identity_file.stem}.viewed").touch()
        while len(list(workdir.glob("*.viewed"))) < trainers and time.monotonic() < began + timeout:
            time.sleep(0.1)
        session.metrics.write("bench_view", waited=time.monotonic() - began, num_peers=seen)

    swarm.step = first_step


# --- a swarm ----------------------------------------------------------------------------------------


@dataclass
class Peer:
    name: str
    peer_id: str
    workdir: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def metrics(self) -> Path:
        return self.workdir / f"{self.name}.jsonl"

    def events(self, kind: str) -> list[dict[str, Any]]:
        if not self.metrics.exists():
            return []
        lines = [json.loads(line) for line in self.metrics.read_text().splitlines() if line.strip()]
        return [item for item in lines if item.get("event") == kind]

    def start(self, role: str, config: dict[str, Any], extra: list[str], env: dict[str, str]) -> None:
        path = self.workdir / f"{self.name}.json"
        path.write_text(json.dumps({**config, "metrics_file": str(self.metrics)}))
        log = (self.workdir / f"{self.name}.log").open("ab")
        command = [sys.executable, str(Path(__file__).resolve()), "--peer", role, str(path), *extra]
        self.proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)

    def stop(self, timeout: float = 60) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


@dataclass
class Run:
    name: str
    kind: str | None
    robust: bool
    honest: list[Peer]
    attacker: Peer | None
    observations: list[Any] = field(default_factory=list)
    spot_checks: list[Any] = field(default_factory=list)
    attempts: list[Any] = field(default_factory=list)
    state_checks: list[Any] = field(default_factory=list)
    swarm_epochs: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    def final_epochs(self) -> list[int]:
        """The epoch each honest peer stopped at."""
        return [stop["final_epoch"] for peer in self.honest for stop in peer.events("stop")]

    def alone(self) -> tuple[int, int]:
        """Honest epochs that stepped alone (a group of 1 or none), and of them those with another
        trainer in the peer's view of the swarm (a round that failed, rather than a peer alone)."""
        lone = [e for peer in self.honest for e in peer.events("epoch") if e["group_size"] < 2]
        return len(lone), sum(e["num_peers"] >= 2 for e in lone)

    def utilization(self) -> float:
        compute = wall = 0.0
        for peer in self.honest:
            for epoch in peer.events("epoch")[1:]:  # the first epoch includes joining the swarm
                compute += epoch["compute_time"]
                wall += epoch["wall_time"]
        return compute / wall if wall else float("nan")


def _wait(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # polling for an event (a file, an exit), not for time to pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.5)


def run_swarm(root: Path, name: str, kind: str | None, robust: bool, epochs: int, corpus: Path, tok: Path) -> Run:
    from trainer.training.attacks import ATTACK_ENV
    from trainer.training.identity import load_or_create_identity

    workdir = root / name
    workdir.mkdir(parents=True)
    names = [f"honest{i}" for i in range(1, TRAINERS + (0 if kind else 1))] + (["attacker"] if kind else [])
    peers = {n: Peer(n, load_or_create_identity(workdir / f"{n}.key").peer_id, workdir) for n in [*names, "aux"]}
    admitted = [peers[n].peer_id for n in names if not (n == "attacker" and kind == "outsider")]
    (workdir / "allow.txt").write_text("\n".join(admitted) + "\n")
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "OMP_NUM_THREADS": "1",
        "PYTHONUNBUFFERED": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "INJECTIVE_AI_HUB_CACHE": str(workdir / "cache"),
    }
    env.pop(ATTACK_ENV, None)

    def common(peer: str) -> dict[str, Any]:
        return {
            "run_id": f"robustness-{name}",
            "model": "tiny",
            "tokenizer": str(tok),
            "target_batch_size": TARGET,
            "averaging": "gradient",
            "host_maddrs": ["/ip4/127.0.0.1/tcp/0"],
            "matchmaking_time": 1.5,
            "averaging_timeout": 6.0,
            "metadata_expiration": 8.0,
            "load_state_timeout": 10.0,
            "checkpoint_dir": str(workdir / peer),
            "identity_path": str(workdir / f"{peer}.key"),
            "num_threads": 1,
            "robust_aggregation": robust,
        }

    aux = peers["aux"]
    started = time.monotonic()
    try:
        aux_config = common("aux") | {
            "checkpoint_every": 0,
            "maddrs_file": str(workdir / "aux.maddrs"),
            "observations_file": str(workdir / "observations.jsonl"),
            "log_every": 5.0,
            # the run's data and sequence length: the spot checker reads its held-out batch from them
            "data": str(corpus),
            "data_shards": TRAINERS,
            "seq_len": SEQ_LEN,
        }
        aux.start("aux", aux_config, [str(workdir / "allow.txt")], env)
        _wait(lambda: (workdir / "aux.maddrs").is_file(), 180, "the aux peer")
        bootstrap = (workdir / "aux.maddrs").read_text().split()
        for n in names:
            config = common(n) | {
                "data": str(corpus),
                "data_shards": TRAINERS,
                "seq_len": SEQ_LEN,
                "batch_size": BATCH,
                "lr": 3e-3,
                "warmup_steps": 2,
                "total_steps": 400,
                "checkpoint_every": 0,
                "max_epochs": epochs if n != "attacker" else 100 * epochs,
                "log_every": 10.0,
                "progress_bar": False,
                "initial_peers": bootstrap,
                "trusted_reducers": [aux.peer_id] if robust else [],
            }
            peer_env = {**env, ATTACK_ENV: kind} if n == "attacker" and kind else env
            extra = [str(workdir / f"{n}.ready"), str(workdir / "go"), str(len(names) - bool(kind)), str(len(names))]
            peers[n].start("train", config, extra, peer_env)
        _wait(lambda: all((workdir / f"{n}.ready").exists() for n in names), 300, "the trainers to join")
        (workdir / "go").touch()
        honest = [peers[n] for n in names if n != "attacker"]
        for peer in honest:
            _wait(lambda p=peer: p.proc.poll() is not None, 900, f"{peer.name} to finish")
        if kind:
            peers["attacker"].stop()
        aux.stop()
    finally:
        for peer in peers.values():
            peer.stop(10)

    (workdir / "run.json").write_text(json.dumps({"seconds": time.monotonic() - started}))
    return load_run(root, name, kind, robust)


def load_run(root: Path, name: str, kind: str | None, robust: bool) -> Run:
    """A finished scenario from its folder (what `run_swarm` left there)."""
    from trainer.pool.spot_check import SpotCheckLog
    from trainer.training.identity import load_or_create_identity
    from trainer.training.observations import ATTEMPTS_FILE, JoinAttemptLog, ObservationLog
    from trainer.training.vouched_state import STATE_CHECKS_FILE, StateCheckLog

    workdir = root / name
    peers = {p.stem: Peer(p.stem, load_or_create_identity(p).peer_id, workdir) for p in workdir.glob("*.key")}
    honest = [peers[n] for n in sorted(peers) if n.startswith("honest")]
    run = Run(name, kind, robust, honest, peers.get("attacker"))
    run.observations = ObservationLog(workdir / "observations.jsonl").read()
    run.spot_checks = SpotCheckLog(workdir / "spot_checks.jsonl").read()
    run.attempts = JoinAttemptLog(workdir / ATTEMPTS_FILE).read()
    run.state_checks = StateCheckLog(workdir / STATE_CHECKS_FILE).read()
    epochs = workdir / SWARM_EPOCHS_FILE
    run.swarm_epochs = [json.loads(line) for line in epochs.read_text().splitlines()] if epochs.exists() else []
    meta = workdir / "run.json"
    run.seconds = json.loads(meta.read_text())["seconds"] if meta.exists() else float("nan")
    return run


# --- the honest peers' final models ------------------------------------------------------------------


def held_out_sequences(root: Path) -> Any:
    """The sequences every final model is scored on: the aux peer's state-scoring batch
    (`trainer.training.vouched_state`), drawn for one fixed run name so that every scenario's
    models see the same ones."""
    from trainer.training.config import TrainConfig
    from trainer.training.tokenizer import load_tokenizer
    from trainer.training.vouched_state import STATE_SCORE_SEQUENCES, held_out_batch

    config = TrainConfig(**json.loads((root / "honest-robust" / "honest1.json").read_text()))
    tokenizer = load_tokenizer(str(config.tokenizer))
    return held_out_batch(config.model_copy(update={"run_id": "robustness"}), tokenizer, STATE_SCORE_SEQUENCES)


def final_loss(run: Run, held_out: Any) -> float:
    """The mean held-out loss of the honest peers' final models (each one's last checkpoint,
    written as it stops); NaN when a peer left none."""
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging as transformers_logging

    from trainer.training.checkpoint import find_checkpoint
    from trainer.training.vouched_state import held_out_loss

    transformers_logging.disable_progress_bar()
    losses = []
    for peer in run.honest:
        info = find_checkpoint(peer.workdir / peer.name)
        if info is None:
            return float("nan")
        model = AutoModelForCausalLM.from_pretrained(info.path / "model").eval()
        losses.append(held_out_loss(model, held_out))
    return sum(losses) / len(losses)


# --- the audit, offline, on a run's evidence ----------------------------------------------------------


@dataclass
class Judged:
    claims: dict[str, list[tuple[int, str]]]  # peer name -> (tokens claimed, verdict) per claim
    trained: dict[str, int]  # peer name -> tokens it trained (0 for the liar)
    reasons: dict[str, list[str]] = field(default_factory=dict)  # peer name -> "epoch E: reason" per penalty

    def verdicts(self, name: str) -> list[str]:
        return [verdict for _, verdict in self.claims.get(name, [])]

    def penalized(self, *names: str, verdicts: tuple[str, ...] = ("soft", "hard")) -> int:
        return sum(v in verdicts for n in names for v in self.verdicts(n))


def audit(run: Run, workdir: Path, liar: bool = False) -> Judged:
    """Every trainer claims each of its epochs as `trainer join` would; the liar (if any) claims an
    honest share of every epoch it signed records for, having sent nothing."""
    from eth_account import Account

    from hub.metadata import AuditPolicy
    from trainer.pool.audit import Claim, judge
    from trainer.pool.binding import sign_binding
    from trainer.pool.evidence import EvidenceStore
    from trainer.pool.spot_check import SpotCheckLog
    from trainer.pool.work_queue import work_key
    from trainer.training.observations import ObservationLog
    from trainer.training.progress import EpochWork

    store_dir = workdir / f"audit-{run.name}{'-liar' if liar else ''}"
    shutil.rmtree(store_dir, ignore_errors=True)  # a --rejudge starts from the run's log again
    store = EvidenceStore(store_dir, CHAIN, POOL)
    ObservationLog(store.directory / "observations.jsonl").append(run.observations)
    checks = SpotCheckLog(store.directory / "spot_checks.jsonl")
    for check in run.spot_checks:
        checks.append(check)
    # the reducer's log of requests to join its rounds: a round a peer asked to join and missed is
    # not its silence (`trainer.pool.evidence`)
    for attempt in run.attempts:
        store.attempts.append(attempt)
    policy = AuditPolicy(tolerance=0.05, hard_factor=1.5, slash=0, grace_seconds=0)
    peers = [*run.honest, *([run.attacker] if run.attacker is not None else [])]
    works: dict[str, list[tuple[int, int]]] = {
        p.name: [(e["epoch"], e["tokens"]) for e in p.events("epoch") if e["tokens"] > 0] for p in peers
    }
    # when each signed its record of each epoch (a trainer: when it finished the epoch; the liar: as
    # each round of the epoch closed), which places it in time (`trainer.pool.evidence`)
    signed_at: dict[str, list[float]] = {
        p.name: [e["time"] for e in p.events("epoch") if e["tokens"] > 0] for p in peers
    }
    ids = {p.name: p.peer_id for p in peers}
    if liar:
        share = TARGET * SEQ_LEN // TRAINERS
        closed: dict[int, float] = {}
        for obs in run.observations:
            closed[obs.epoch] = min(closed.get(obs.epoch, obs.time), obs.time)
        rounds = sorted(closed)
        works["liar"] = [(epoch, share) for epoch in rounds]  # what it signs is what it claims
        signed_at["liar"] = [closed[epoch] for epoch in rounds]
        ids["liar"] = "QmLiarThatSentNothing"
    keys = {name: Account.create() for name in works}

    @dataclass
    class Record:
        recent: list
        node: str
        node_signature: str

    @dataclass
    class Signed:
        peer_id: str
        record: Record

    for name, items in works.items():
        signature = sign_binding(keys[name], CHAIN, POOL, ids[name])
        recent = [EpochWork(epoch=e, samples=t // SEQ_LEN, tokens=t, mean_loss=1.0, seconds=1.0) for e, t in items]
        for end in range(len(items)):
            record = Record(recent[max(0, end - 15) : end + 1], keys[name].address, signature)
            store.remember({ids[name]: Signed(ids[name], record)}, now=signed_at[name][end])
    # the aux peer's own evidence: its state downloads, and the epochs the peers signed as it read them
    store.state_checks.extend(run.state_checks)
    for seen in run.swarm_epochs:
        store.note_epochs(seen["stated"], seen["aux_epoch"])
    store.refresh()
    epoch_tokens = TARGET * SEQ_LEN
    judged = Judged({}, {})
    for name, items in works.items():
        judged.claims[name] = []
        for epoch, tokens in items:
            key = work_key(POOL, ids[name], epoch, epoch)
            claim = Claim(key, keys[name].address, "0xprovider", tokens, 0, 1)
            span = store.match(ids[name], key)
            found = None if span is None else store.range_evidence(ids[name], *span, TARGET)
            decision = judge(claim, found, policy, SEQ_LEN, epoch_tokens)
            judged.claims[name].append((tokens, decision.verdict))
            if decision.verdict in ("soft", "hard"):
                judged.reasons.setdefault(name, []).append(f"epoch {epoch}: {decision.verdict}: {decision.reason}")
        judged.trained[name] = 0 if name == "liar" else sum(t for _, t in items)
    return judged


def evidence_summary(runs: dict[str, Run]) -> list[str]:
    """What the thresholds of the sign-flip rule and the spot checks are judged against: the cosines
    with the aggregate and the spot-check scores of honest peers (every scenario) and of attackers."""
    honest_cosines: list[float] = []
    worst_share, worst_of = 0.0, 0
    lines = []
    for kind, run in runs.items():
        honest_ids = {peer.peer_id for peer in run.honest}
        for peer_id in honest_ids:
            cosines = [o.cosine for o in run.observations if o.peer_id == peer_id and o.cosine is not None]
            honest_cosines += cosines
            if cosines:
                share = sum(c < 0 for c in cosines) / len(cosines)
                if share > worst_share or (share == worst_share and len(cosines) > worst_of):
                    worst_share, worst_of = share, len(cosines)
        if run.attacker is not None:
            attacker = [
                o.cosine for o in run.observations if o.peer_id == run.attacker.peer_id and o.cosine is not None
            ]
            scores = [c.score for c in run.spot_checks if c.peer_id == run.attacker.peer_id]
            lines.append(f"  {kind}: attacker cosines {_fmt(attacker)}; attacker spot scores {_fmt(scores)}")
        honest_scores = [c.score for c in run.spot_checks if c.peer_id in honest_ids]
        lines.append(f"  {kind}: honest spot scores {_fmt(honest_scores)}")
    negative = sum(c < 0 for c in honest_cosines)
    head = (
        f"honest cosines with the aggregate: {len(honest_cosines)} contributions, min "
        f"{min(honest_cosines, default=float('nan')):.3f}, negative {negative}; worst peer negative in "
        f"{worst_share:.0%} of its {worst_of} rounds"
    )
    return [head, *lines]


def _fmt(values: list[float]) -> str:
    scored = sorted(value for value in values if value == value)  # NaN: an inconclusive spot check
    if not scored:
        return f"none ({len(values)} inconclusive)" if values else "none"
    unscored = f", {len(values) - len(scored)} inconclusive" if len(scored) < len(values) else ""
    return f"n={len(scored)} min {scored[0]:.3f} median {scored[len(scored) // 2]:.3f} max {scored[-1]:.3f}{unscored}"


def profit_inj(judged: Judged, name: str) -> float:
    from aihub_demo.local_chain import FRAUD_SLASH, REWARD_PER_TOKEN

    hard = "hard" in judged.verdicts(name)
    # a hard invalidation voids every locked reward of the node and slashes its provider; a soft one
    # returns that claim's reward to the pool's budget
    paid = sum(tokens for tokens, verdict in judged.claims[name] if verdict in ("accept", "unverified"))
    collected = 0 if hard else paid * REWARD_PER_TOKEN
    lost = FRAUD_SLASH if hard else 0
    honest_pay = judged.trained[name] * REWARD_PER_TOKEN
    return (collected - lost - honest_pay) / 10**18


# --- main ---------------------------------------------------------------------------------------------


@dataclass
class Row:
    kind: str
    run: Run
    loss: float
    caught: str
    penalized: int
    slashed: int
    profit: float
    reasons: list[str]

    def line(self, reference: float) -> str:
        alone, in_view = self.run.alone()
        epochs = self.run.final_epochs()
        reached = f"{min(epochs)}-{max(epochs)}" if epochs else "-"
        seconds = 0.0 if self.kind == "liar" else self.run.seconds  # the liar's run is the honest one
        return (
            f"{self.kind:10} {self.loss / reference:10.3f} {self.caught:>7} {self.penalized:10d} {self.slashed:8d} "
            f"{self.profit:11.4f} {reached:>7} {f'{alone} ({in_view})':>13} {seconds:8.0f}"
        )


def judge_scenario(kind: str, run: Run, root: Path, held_out: Any) -> Row:
    """The row of one scenario: `kind` "none" is the honest robust run, "liar" is judged on it."""
    if kind == "none":
        judged, name = audit(run, root), None
    elif kind == "liar":
        judged, name = audit(run, root, liar=True), "liar"
    else:
        judged, name = audit(run, root), "attacker"
    others = [n for n in judged.claims if n != name]
    reasons = [f"{n}, {reason}" for n in others for reason in judged.reasons.get(n, [])]
    if name is None:
        caught, profit = "-", 0.0
    else:
        sent = [obs for obs in run.observations if run.attacker is not None and obs.peer_id == run.attacker.peer_id]
        refused = bool(sent) and all(obs.verdict == "not_admitted" for obs in sent)
        caught = "yes" if "hard" in judged.verdicts(name) or (kind == "outsider" and refused) else "no"
        # an outsider is not a pool node: it cannot claim on chain, so it earns and loses nothing
        profit = 0.0 if kind == "outsider" else profit_inj(judged, name)
    loss = final_loss(run, held_out)
    return Row(
        kind,
        run,
        loss,
        caught,
        judged.penalized(*others),
        judged.penalized(*others, verdicts=("hard",)),
        profit,
        reasons,
    )


def aggregation_cost(robust: Run, plain: Run) -> float:
    """Percent of the honest peers' compute utilization that robust aggregation costs."""
    return 100 * (1 - robust.utilization() / plain.utilization())


def report(
    rows: list[Row],
    plain: Run,
    plain_loss: float,
    epochs: int,
    load: tuple[float, float],
    pairs: list[tuple[Run, Run]],
) -> None:
    honest = rows[0]
    reference = honest.loss
    costs = [aggregation_cost(robust, plain_run) for robust, plain_run in pairs]
    cost = statistics.median(costs)
    print(
        f"robustness bench: {TRAINERS} peers, tiny LLaMA, {epochs} epochs of {TARGET} samples, "
        f"load {load[0]:.1f} -> {load[1]:.1f}"
    )
    print(f"honest final models' held-out loss: robust {reference:.3f}, plain averaging {plain_loss:.3f}")
    for i, (robust, plain_run) in enumerate(pairs, 1):
        print(
            f"honest pair {i} of {len(pairs)}: compute utilization robust {100 * robust.utilization():.0f}%, "
            f"plain {100 * plain_run.utilization():.0f}%: aggregation cost {costs[i - 1]:.1f}%"
        )
    if len(pairs) > 1:
        print(
            f"aggregation cost: median of {len(pairs)} pairs {cost:.1f}% (range {min(costs):.1f}% to {max(costs):.1f}%)"
        )
    alone, in_view = plain.alone()
    print(f"honest epochs alone in the plain run: {alone} ({in_view} with others in view)")
    print(
        "penalized: honest claims soft- or hard-invalidated; slashed: of them, hard; reached: the epochs the honest "
        "peers stopped at; alone: honest epochs stepped alone (of them with another trainer in view)"
    )
    print(
        f"{'attacker':10} {'loss ratio':>10} {'caught':>7} {'penalized':>10} {'slashed':>8} {'profit INJ':>11} "
        f"{'reached':>7} {'alone (view)':>13} {'seconds':>8}"
    )
    for row in rows:
        print(row.line(reference))
    for row in rows:
        for reason in row.reasons if row.kind != "liar" else []:
            print(f"  {row.kind}: {reason}")
    for line in evidence_summary({row.kind: row.run for row in rows if row.kind != "liar"}):
        print(line)
    attacks = rows[1:]
    print(
        f"robustness: worst loss ratio {max((r.loss / reference for r in attacks), default=1.0):.3f}, "
        f"caught {sum(r.caught == 'yes' for r in attacks)}/{len(attacks)}, "
        f"honest penalized {sum(r.penalized for r in rows if r.kind != 'liar')}, aggregation cost {cost:.1f}%, "
        f"best attack profit {max((r.profit for r in attacks), default=0.0):.4f} INJ"
    )


def main() -> None:
    from trainer.training.attacks import KINDS

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kinds", nargs="*", default=[*KINDS, "liar"], help="'none': the honest runs only")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument(
        "--cost-pairs", type=int, default=1, help="honest robust/plain pairs the aggregation cost is the median of"
    )
    parser.add_argument(
        "--rejudge", action="store_true", help="reuse the swarm runs already in --workdir; only judge them again"
    )
    args = parser.parse_args()
    if args.rejudge and args.workdir is None:
        parser.error("--rejudge needs --workdir (the folder of an earlier run)")
    if args.cost_pairs < 1:
        parser.error("--cost-pairs must be at least 1 (the first honest pair is always run)")
    root = args.workdir or Path(tempfile.mkdtemp(prefix="robustness-"))
    root.mkdir(parents=True, exist_ok=True)
    print(f"workdir {root}", flush=True)

    from trainer.training.corpus import generate_corpus
    from trainer.training.tokenizer import build_tokenizer

    corpus, tok = root / "corpus.txt", root / "tokenizer"
    if not args.rejudge:
        generate_corpus(corpus, num_lines=3000, seed=1)
        build_tokenizer(corpus.read_text().splitlines(), 1024, tok)
    load_before = os.getloadavg()[0]

    def scenario(name: str, kind: str | None, robust: bool) -> Run:
        if args.rejudge:
            return load_run(root, name, kind, robust)
        return run_swarm(root, name, kind, robust, args.epochs, corpus, tok)

    honest = scenario("honest-robust", None, True)
    plain = scenario("honest-plain", None, False)
    pairs = [(honest, plain)]
    for i in range(2, args.cost_pairs + 1):  # interleaved, so a change of load falls on both sides
        pairs.append((scenario(f"honest-robust-{i}", None, True), scenario(f"honest-plain-{i}", None, False)))
    held_out = held_out_sequences(root)
    rows = [judge_scenario("none", honest, root, held_out)]
    for kind in (k for k in args.kinds if k != "none"):
        run = honest if kind == "liar" else scenario(f"attack-{kind}", kind, True)
        rows.append(judge_scenario(kind, run, root, held_out))
    report(rows, plain, final_loss(plain, held_out), args.epochs, (load_before, os.getloadavg()[0]), pairs)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--peer":
        peer_main(sys.argv[2], Path(sys.argv[3]), sys.argv[4:])
    else:
        main()
