"""Robustness of a 4-peer swarm against one attacker of each kind, and what each attack would earn.

    python bench/robustness.py                      # every kind (about 15-25 minutes on 2 cores)
    python bench/robustness.py --kinds nan weight   # some kinds only (the honest runs always run)
    python bench/robustness.py --epochs 8           # longer runs (default 6)

Each scenario is a real swarm on loopback: an aux peer that reduces every round robustly
(`robust_aggregation`, CenteredClip, the allow-list; `trainer.training.robust`) and four trainers
of the tiny LLaMA, all but one honest; the attacker runs with ``TRAINER_ATTACK=<kind>``
(`trainer.training.attacks`). Two honest runs come first: four honest trainers with robust
aggregation (the reference) and with plain hivemind averaging (the aggregation's cost).

Per scenario, printed:

- loss ratio: the honest peers' mean loss in their last epoch / the same in the honest robust run;
- caught: the pool audit (`trainer.pool.audit.judge`) run on the aux peer's real observation log,
  its state downloads and the epochs it read from the peers' signed progress records (as the pool's
  aux service gathers them), and every trainer's own records, with one claim per epoch per trainer
  as `trainer join` makes them: the attacker counts as caught when a claim of it is hard, or
  (``outsider``) when the reducer refused every contribution it sent (it is not a pool member: the
  chain refuses its claims);
- honest penalized: honest claims judged soft or hard (must be 0);
- profit: under the demo pool's parameters (`aihub_demo.local_chain`: reward per token, fraud
  slash), the reward its claims collect (none once one is hard: the hard invalidation voids every
  locked reward of the node) minus the stake slashed, minus what an honest node doing the same
  work would have collected. A positive number is a profitable attack.

The ``liar`` has no process: it is a pool node that signs progress records for an honest share of
every epoch and claims them, and sends nothing; it is judged on the honest robust run's log.

Aggregation cost: 1 - (honest compute utilization with robust aggregation / with plain
averaging), utilization = compute time / wall time per epoch, on the same machine in the same
invocation. The last line reads ``robustness: worst loss ratio R, caught K/N, honest penalized P,
aggregation cost C%, best attack profit X INJ``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
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
TARGET = 48  # samples per collaborative epoch: 12 micro-batches of 4 across the swarm
TRAINERS = 4
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
        ready.touch()
        while not go.exists() and not stop.wait(0.1):
            pass
        session.run(stop_event=stop)
    finally:
        session.close()


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
    state_checks: list[Any] = field(default_factory=list)
    swarm_epochs: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    def final_loss(self) -> float:
        losses = []
        for peer in self.honest:
            epochs = [e for e in peer.events("epoch") if e["mean_loss"] == e["mean_loss"]]
            if epochs:
                losses.append(epochs[-1]["mean_loss"])
        return sum(losses) / len(losses) if losses else float("nan")

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
            peers[n].start("train", config, [str(workdir / f"{n}.ready"), str(workdir / "go")], peer_env)
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
    from trainer.training.observations import ObservationLog
    from trainer.training.vouched_state import STATE_CHECKS_FILE, StateCheckLog

    workdir = root / name
    peers = {p.stem: Peer(p.stem, load_or_create_identity(p).peer_id, workdir) for p in workdir.glob("*.key")}
    honest = [peers[n] for n in sorted(peers) if n.startswith("honest")]
    run = Run(name, kind, robust, honest, peers.get("attacker"))
    run.observations = ObservationLog(workdir / "observations.jsonl").read()
    run.spot_checks = SpotCheckLog(workdir / "spot_checks.jsonl").read()
    run.state_checks = StateCheckLog(workdir / STATE_CHECKS_FILE).read()
    epochs = workdir / SWARM_EPOCHS_FILE
    run.swarm_epochs = [json.loads(line) for line in epochs.read_text().splitlines()] if epochs.exists() else []
    meta = workdir / "run.json"
    run.seconds = json.loads(meta.read_text())["seconds"] if meta.exists() else float("nan")
    return run


# --- the audit, offline, on a run's evidence ----------------------------------------------------------


@dataclass
class Judged:
    claims: dict[str, list[tuple[int, str]]]  # peer name -> (tokens claimed, verdict) per claim
    trained: dict[str, int]  # peer name -> tokens it trained (0 for the liar)

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
            judged.claims[name].append((tokens, judge(claim, found, policy, SEQ_LEN, epoch_tokens).verdict))
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


def main() -> None:
    from trainer.training.attacks import KINDS

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kinds", nargs="*", default=[*KINDS, "liar"])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument(
        "--rejudge", action="store_true", help="reuse the swarm runs already in --workdir; only judge them again"
    )
    args = parser.parse_args()
    if args.rejudge and args.workdir is None:
        parser.error("--rejudge needs --workdir (the folder of an earlier run)")
    root = args.workdir or Path(tempfile.mkdtemp(prefix="robustness-"))
    root.mkdir(parents=True, exist_ok=True)

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
    reference = honest.final_loss()
    cost = 100 * (1 - honest.utilization() / plain.utilization())
    rows = []
    judged_honest = audit(honest, root)
    penalized = judged_honest.penalized(*judged_honest.claims)
    slashed = judged_honest.penalized(*judged_honest.claims, verdicts=("hard",))
    rows.append(("none", 1.0, "-", penalized, slashed, 0.0, honest.seconds))
    evidence_runs: dict[str, Run] = {"none": honest}
    caught = attackers = 0
    ratios, profits = [], []
    for kind in args.kinds:
        if kind == "liar":
            run, judged, name = honest, audit(honest, root, liar=True), "liar"
        else:
            run = scenario(f"attack-{kind}", kind, True)
            judged, name = audit(run, root), "attacker"
        attackers += 1
        sent = [obs for obs in run.observations if run.attacker is not None and obs.peer_id == run.attacker.peer_id]
        refused = bool(sent) and all(obs.verdict == "not_admitted" for obs in sent)
        is_caught = "hard" in judged.verdicts(name) or (kind == "outsider" and refused)
        caught += is_caught
        others = [n for n in judged.claims if n != name]
        honest_bad = judged.penalized(*others)
        honest_slashed = judged.penalized(*others, verdicts=("hard",))
        penalized += honest_bad
        slashed += honest_slashed
        ratio = run.final_loss() / reference
        ratios.append(ratio)
        # an outsider is not a pool node: it cannot claim on chain, so it earns and loses nothing
        profit = 0.0 if kind == "outsider" else profit_inj(judged, name)
        profits.append(profit)
        seconds = run.seconds if run is not honest else 0.0
        rows.append((kind, ratio, "yes" if is_caught else "no", honest_bad, honest_slashed, profit, seconds))
        if run is not honest:
            evidence_runs[kind] = run

    print(
        f"robustness bench: {TRAINERS} peers, tiny LLaMA, {args.epochs} epochs of {TARGET} samples, "
        f"load {load_before:.1f} -> {os.getloadavg()[0]:.1f}"
    )
    print(f"honest robust final loss {reference:.3f}; plain averaging {plain.final_loss():.3f}")
    print(f"compute utilization: robust {100 * honest.utilization():.0f}%, plain {100 * plain.utilization():.0f}%")
    print("honest penalized: honest claims soft- or hard-invalidated; slashed: of them, hard")
    header = f"{'attacker':10} {'loss ratio':>10} {'caught':>7} {'honest penalized':>17} {'slashed':>8}"
    print(f"{header} {'profit INJ':>11} {'seconds':>8}")
    for kind, ratio, was_caught, bad, hard, profit, seconds in rows:
        print(f"{kind:10} {ratio:10.3f} {was_caught:>7} {bad:17d} {hard:8d} {profit:11.4f} {seconds:8.0f}")
    print(f"honest claims slashed in all scenarios: {slashed}")
    for line in evidence_summary(evidence_runs):
        print(line)
    print(
        f"robustness: worst loss ratio {max(ratios, default=1.0):.3f}, caught {caught}/{attackers}, "
        f"honest penalized {penalized}, aggregation cost {cost:.1f}%, "
        f"best attack profit {max(profits, default=0.0):.4f} INJ"
    )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--peer":
        peer_main(sys.argv[2], Path(sys.argv[3]), sys.argv[4:])
    else:
        main()
