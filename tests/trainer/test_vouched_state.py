"""State only from a donor the aux peer vouches for (`trainer.training.vouched_state`): the checks,
the donor rotation, the evidence log, and real hivemind averagers on loopback (in-process)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import hivemind
import pytest
import torch
from hivemind.p2p import PeerID

from tests.trainer.helpers import LocalSwarm, SwarmNode, wait_until
from trainer.training.config import TrainConfig
from trainer.training.reducer import Admission
from trainer.training.vouched_state import (
    BAD_STATE,
    JUNK_NATS,
    STATE_CHECKS_FILE,
    WORSE_MARGIN,
    HeldOutScorer,
    StateCheck,
    StateCheckLog,
    check_state,
    donor_order,
    held_out_batch,
    judge_loss,
)

SHAPES = [(2, 3), (4,)]


def _state(epoch: int = 3, fill: float = 1.0) -> tuple[dict, list[torch.Tensor]]:
    return {"epoch": epoch}, [torch.full(shape, fill) for shape in SHAPES] + [torch.zeros(5)]


def test_check_state_names_what_is_wrong_with_a_donors_state() -> None:
    assert check_state(*_state(), SHAPES, (0, 5)) == "ok"
    assert check_state(*_state(fill=float("nan")), SHAPES, None) == "nonfinite"
    metadata, tensors = _state()
    tensors[1][0] = float("inf")
    assert check_state(metadata, tensors, SHAPES, None) == "nonfinite"
    assert check_state({"epoch": 3}, [torch.zeros(3, 2), torch.zeros(4)], SHAPES, None) == "shape"
    # fewer tensors than the model's: a transfer cut short (the donor stopped), not bad state
    assert check_state({"epoch": 3}, [torch.zeros(2, 3)], SHAPES, None) == "failed"
    assert check_state(*_state(epoch=9), SHAPES, (0, 5)) == "epoch"
    assert check_state(*_state(epoch=2), SHAPES, (3, 5)) == "epoch"
    assert check_state({}, _state()[1], SHAPES, None) == "no_state"
    # optimizer statistics after the weights are the donor's own business: only the weights count
    metadata, tensors = _state()
    tensors[-1][0] = float("nan")
    assert check_state(metadata, tensors, SHAPES, None) == "ok"


def test_a_copys_held_out_loss_is_junk_above_the_ceiling_and_only_refused_when_merely_worse() -> None:
    best, ceiling = 5.0, 7.9
    assert judge_loss(4.2, best, ceiling) == "ok"
    assert judge_loss(best + WORSE_MARGIN, best, ceiling) == "ok"
    assert judge_loss(best + WORSE_MARGIN + 0.01, best, ceiling) == "worse"
    assert judge_loss(ceiling + 0.01, best, ceiling) == "junk"
    assert judge_loss(float("nan"), best, ceiling) == judge_loss(float("inf"), best, ceiling) == "junk"
    assert "junk" in BAD_STATE and "worse" not in BAD_STATE, "a copy that is only worse is never evidence"


def test_the_tiny_llamas_honest_copies_pass_and_junk_weights_are_evidence(tmp_path: Path) -> None:
    """The scorer on the real tiny LLaMA and held-out data of a run: the model as every peer builds
    it sets the first best, a few honest training steps lower it, the older honest copy (a lagging
    donor) is at worst refused, and random or scaled weights of the right shapes are junk."""
    import math

    from trainer.training.corpus import generate_corpus
    from trainer.training.data import BatchStream
    from trainer.training.model import load_model
    from trainer.training.plan import plan_run
    from trainer.training.tokenizer import build_tokenizer

    corpus = generate_corpus(tmp_path / "corpus.txt", num_lines=1500, seed=3)
    build_tokenizer(corpus.read_text().splitlines(), 512, tmp_path / "tok")
    cfg = TrainConfig(
        run_id="scored", model="tiny", tokenizer=str(tmp_path / "tok"), data=str(corpus), data_shards=4,
        seq_len=32, batch_size=8, device="cpu", checkpoint_dir=tmp_path / "ck",
    )  # fmt: skip
    plan = plan_run(cfg)
    model, trainable = load_model(plan.spec, plan.kernel, plan.profile, "cpu", seed=0)
    again, _ = load_model(plan.spec, plan.kernel, plan.profile, "cpu", seed=0)
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), again.parameters(), strict=True)), (
        "every peer builds the same initial model from the run's seed"
    )
    scorer = HeldOutScorer(model, trainable, held_out_batch(cfg, plan.tokenizer, 32))
    vocab = model.config.vocab_size
    assert scorer.ceiling == pytest.approx(max(math.log(vocab), scorer.best) + JUNK_NATS)
    initial = [p.detach().clone() for p in trainable]

    opt = torch.optim.AdamW(trainable, lr=3e-3)
    stream = BatchStream(cfg, plan.tokenizer, "trainer")
    for _ in range(8):
        opt.zero_grad()
        batch = next(stream).input_ids
        model(input_ids=batch, labels=batch).loss.backward()
        opt.step()
    trained = [p.detach().clone() for p in trainable]

    loss = scorer.loss(trained)
    assert judge_loss(loss, scorer.best, scorer.ceiling) == "ok" and loss < scorer.best
    scorer.accept(loss)
    assert scorer.best == loss
    assert judge_loss(scorer.loss(initial), scorer.best, scorer.ceiling) in ("ok", "worse"), "lagging: never junk"
    for junk in ([torch.randn_like(p) for p in trained], [p * 10 for p in trained]):
        assert judge_loss(scorer.loss(junk), scorer.best, scorer.ceiling) == "junk"
    assert all(torch.equal(p, t) for p, t in zip(trainable, trained, strict=True)), "the served weights untouched"


def test_donors_rotate_the_least_recently_checked_first() -> None:
    rng = random.Random(1)
    checked: dict[str, int] = {}
    seen = []
    for turn in range(6):
        first = donor_order(["a", "b", "c"], checked, rng)[0]
        seen.append(first)
        checked[first] = turn
    assert sorted(seen[:3]) == ["a", "b", "c"] and seen[3:] == seen[:3], "each donor once every three downloads"
    assert donor_order(["a", "b", "new"], {"a": 1, "b": 0}, rng) == ["new", "b", "a"]


def test_the_state_check_log_survives_a_cut_last_line(tmp_path: Path) -> None:
    log = StateCheckLog(tmp_path / STATE_CHECKS_FILE)
    checks = [StateCheck("QmA", 3, "ok", 1.0), StateCheck("QmB", 3, "nonfinite", 2.0)]
    log.extend(checks)
    with open(log.path, "a") as fh:
        fh.write('{"peer_id": "QmC", "ep')
    assert log.read() == checks


@pytest.fixture
def swarm(tmp_path: Path) -> Iterator[LocalSwarm]:
    """Peers of the robust run "vouched" in this process; a newcomer tries one state download."""
    settings = dict(run_id="vouched", load_state_timeout=5.0, load_state_attempts=1, robust_aggregation=True)
    with LocalSwarm(tmp_path, **settings) as started:
        yield started


def aux_node(swarm: LocalSwarm) -> SwarmNode:
    """The aux peer's DHT, started first so that the trainers join through it and trust it."""
    return swarm.node("aux", observations_file=swarm.tmp_path / "aux" / "observations.jsonl")


def declared(dht: hivemind.DHT) -> set[str]:
    """The peers whose state averager declares a state to download, as a DHT reads them."""
    found = dht.get("vouched_state_averager.all_averagers", latest=True)
    values = found.value if found is not None else {}
    return {PeerID(raw).to_base58() for raw, item in values.items() if item.value is not None}


def test_only_checked_state_is_installed_and_trainers_take_it_from_the_aux_peer_alone(swarm: LocalSwarm) -> None:
    """An honest donor and the badstate attacker (NaN weights at the highest priority): the aux peer
    tries both in two downloads, installs only the honest state and records the attacker's as
    evidence; a newcomer downloads from the aux peer only, whatever the attacker declares."""
    aux = aux_node(swarm)

    def trainer(name: str, fill: float, attack: str | None = None) -> SwarmNode:
        params = [torch.nn.Parameter(torch.full((4,), fill))]
        return swarm.peer(name, params, attack=attack, trusted_reducers=[aux.peer_id])

    honest = trainer("honest", 1.0)
    bad = trainer("bad", 1.0, attack="badstate")
    honest.optimizer.state_averager.local_epoch = bad.optimizer.state_averager.local_epoch = 2
    admission = Admission()
    admission.publish([honest.peer_id, bad.peer_id])
    aux_param = torch.nn.Parameter(torch.zeros(4))
    aux_opt = swarm.optimizer(aux, [aux_param], auxiliary=True, admission=admission)

    wait_until(lambda: {honest.peer_id, bad.peer_id} <= declared(aux.dht), 60, "both donors to declare their state")
    loaded = [aux_opt.fetch_checked_state() for _ in range(2)]
    checks = StateCheckLog(aux.config.checkpoint_dir / STATE_CHECKS_FILE).read()
    # the first download tries the two in random order; the second starts with the one the first
    # did not reach (or, if it refused the attacker first, with the attacker again)
    bad_verdicts = [c.verdict for c in checks if c.peer_id == bad.peer_id]
    assert bad_verdicts and set(bad_verdicts) == {"nonfinite"}
    assert [c.verdict for c in checks if c.peer_id == honest.peer_id] == ["ok", "ok"]
    assert loaded == [2, 2]
    # (state travels compressed as the run's compression says: close to the donor's, not equal)
    assert torch.allclose(aux_param.detach(), torch.ones(4), atol=1e-2), "only the honest donor's state"

    aux_opt.serve_state(2)
    newcomer = trainer("newcomer", 0.0).optimizer
    wait_until(lambda: aux.peer_id in declared(aux.dht), 60, "the aux peer to declare its copy")
    newcomer.state_averager.load_state_from_peers(timeout=newcomer.load_state_timeout)
    assert [c.peer_id for c in newcomer.state_averager.last_attempts] == [aux.peer_id]
    assert newcomer.local_epoch == 2
    params = [p for group in newcomer.opt.param_groups for p in group["params"]]
    assert all(torch.allclose(p.detach().cpu(), torch.ones(4), atol=1e-2) for p in params)


class _DistanceScorer:
    """Stands in for `HeldOutScorer` on the 4096 plain values these averagers hold: the "loss" is the
    mean squared distance from the honest weights (all ones). Its best starts at 0, as if the aux
    peer already held the honest copy."""

    best, ceiling = 0.0, 1.0

    def loss(self, weights: list[torch.Tensor]) -> float:
        return float((weights[0].float() - 1).square().mean())

    def accept(self, loss: float) -> None:
        self.best = min(self.best, loss)


def test_the_aux_peer_refuses_junk_state_as_evidence_and_a_lagging_copy_without_blame(swarm: LocalSwarm) -> None:
    """Three admitted donors at the same epoch, all finite and of the right shapes: an honest one, the
    junkstate attacker (random N(0, 1) weights at the highest priority) and an honest donor whose
    weights lag (0.4 where the swarm is at 1). Two downloads reach all three: only the honest copy is
    installed, the attacker's is junk (evidence, and the audit's misconduct names it), the lagging
    one is refused and never counted against its donor."""
    from trainer.pool.evidence import EvidenceStore

    size = 4096  # the attacker's junk lands about 2 from the honest weights, never near the ceiling of 1
    aux = aux_node(swarm)

    def trainer(name: str, fill: float, attack: str | None = None) -> str:
        params = [torch.nn.Parameter(torch.full((size,), fill))]
        node = swarm.peer(name, params, attack=attack, trusted_reducers=[aux.peer_id])
        node.optimizer.state_averager.local_epoch = 2
        return node.peer_id

    honest_id = trainer("honest", 1.0)
    lagging_id = trainer("lagging", 0.4)
    junk_id = trainer("junk", 1.0, attack="junkstate")
    admission = Admission()
    admission.publish([honest_id, lagging_id, junk_id])
    aux_param = torch.nn.Parameter(torch.zeros(size))
    aux_opt = swarm.optimizer(aux, [aux_param], auxiliary=True, admission=admission)
    aux_opt.state_averager.state_scorer = scorer = _DistanceScorer()

    wait_until(lambda: {honest_id, lagging_id, junk_id} <= declared(aux.dht), 60, "the three donors to declare")
    loaded = []
    for _ in range(2):
        loaded.append(aux_opt.fetch_checked_state())
        if aux_opt.state_averager.offered_loss is not None:  # as the aux peer's refresh does
            scorer.accept(aux_opt.state_averager.offered_loss)
    checks = StateCheckLog(aux.config.checkpoint_dir / STATE_CHECKS_FILE).read()
    verdicts = {peer: {c.verdict for c in checks if c.peer_id == peer} for peer in (honest_id, lagging_id, junk_id)}
    assert verdicts == {honest_id: {"ok"}, lagging_id: {"worse"}, junk_id: {"junk"}}
    assert all(c.loss is not None for c in checks), "every scored copy's loss is logged"
    assert loaded == [2, 2]
    assert torch.allclose(aux_param.detach(), torch.ones(size), atol=1e-2), "only the honest donor's state"

    evidence = EvidenceStore(aux.config.checkpoint_dir, chain_id=1, pool_id=1)
    evidence.refresh()
    assert evidence.misconduct(junk_id) and "(junk)" in evidence.misconduct(junk_id)[0]
    assert evidence.misconduct(lagging_id) == evidence.misconduct(honest_id) == ()
