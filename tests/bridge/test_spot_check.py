"""Spot checks: a contribution scored by the loss change it causes on held-out data, and the audit
crediting nothing for one that failed. A small regression model stands in for the LLaMA: the score
only needs parameters, a loss on held data, and gradients."""

from __future__ import annotations

import pytest
import torch

from tests.utils.waiting import wait_until
from trainer.pool.evidence import EvidenceStore
from trainer.pool.spot_check import MIN_SPOT_SCORE, SpotCheck, SpotCheckLog, loss_change_score
from trainer.training.observations import Observation

DIM = 2048


@pytest.fixture
def task():
    """A linear model, a held-out batch the aux peer keeps, and gradients of training batches."""
    generator = torch.Generator().manual_seed(7)
    truth = torch.randn(DIM, generator=generator)
    weight = torch.zeros(DIM, requires_grad=True)

    def batch(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.randn(n, DIM, generator=generator)
        return x, x @ truth

    held_x, held_y = batch(4096)  # large: the held-out gradient must be accurate

    def held_loss() -> torch.Tensor:
        return ((held_x @ weight - held_y) ** 2).mean()

    def gradient() -> torch.Tensor:
        x, y = batch(256)
        (grad,) = torch.autograd.grad(((x @ weight - y) ** 2).mean(), [weight])
        return grad

    aggregate = sum(gradient() for _ in range(4)) / 4
    return weight, held_loss, gradient, aggregate, generator


def _score(task, contribution: torch.Tensor) -> float:
    weight, held_loss, _, aggregate, _ = task
    return loss_change_score([weight], held_loss, [contribution], [aggregate])[0]


def test_an_honest_gradient_passes_and_the_weights_are_restored(task):
    weight, _, gradient, _, _ = task
    before = weight.detach().clone()
    assert _score(task, gradient()) > 0.4 > MIN_SPOT_SCORE
    assert torch.equal(weight.detach(), before)


def test_a_scaled_honest_gradient_scores_like_the_honest_one(task):
    """The norm is the reducer's business (it drops absurd norms); the check looks at the direction."""
    _, _, gradient, _, _ = task
    assert _score(task, 1e3 * gradient()) > 0.4


@pytest.mark.parametrize("attack", ["signflip", "noise", "zeros", "nan"])
def test_attacks_fail(task, attack):
    _, _, gradient, _, generator = task
    contribution = {
        "signflip": lambda: -gradient(),
        "noise": lambda: torch.randn(DIM, generator=generator) * float(gradient().norm()),
        "zeros": lambda: torch.zeros(DIM),
        "nan": lambda: torch.full((DIM,), float("nan")),
    }[attack]()
    score = _score(task, contribution)
    assert score < MIN_SPOT_SCORE
    if attack == "signflip":
        assert score < 0


def test_a_round_whose_aggregate_does_not_lower_the_loss_is_inconclusive_not_failed(task, tmp_path):
    weight, held_loss, gradient, aggregate, _ = task
    score = loss_change_score([weight], held_loss, [gradient()], [-aggregate])[0]
    assert score != score  # NaN
    check = SpotCheck(1, "QmA", score, 2.0, 1.9, 2.1)
    assert check.passed
    log = SpotCheckLog(tmp_path / "spot_checks.jsonl")
    log.append(check)
    (read,) = log.read()
    assert read.score != read.score and read.passed


def test_the_audit_credits_nothing_for_a_failed_check(tmp_path):
    store = EvidenceStore(tmp_path, 777, 7)
    store.observations.append(
        Observation(epoch, peer, 25, 25, 1.0, 0.1, 0.9, "accepted") for epoch in (1, 2) for peer in ("QmA", "QmB")
    )
    checks = SpotCheckLog(tmp_path / "spot_checks.jsonl")
    checks.append(SpotCheck(1, "QmA", 0.9, 2.0, 1.9, 1.89))
    checks.append(SpotCheck(2, "QmA", -0.8, 2.0, 2.1, 1.89))
    store.refresh()
    evidence = store.range_evidence("QmA", 1, 2, 100)
    assert evidence.accepted == {1: 25, 2: 0}
    assert store.range_evidence("QmB", 1, 2, 100).accepted == {1: 25, 2: 25}
    assert [c.passed for c in checks.read()] == [True, False]


@pytest.mark.parametrize(("score", "verdict"), [(0.1, "soft"), (-0.8, "hard")])
def test_a_low_score_is_not_credited_and_only_a_harmful_one_is_hard(tmp_path, score, verdict):
    """An honest gradient scored on the checker's older weights can land just under the pass mark:
    not credited, never slashed. One that raises the held-out loss is positive evidence."""
    from trainer.pool.audit import Claim, judge
    from trainer.pool.run_config import AuditPolicy
    from trainer.pool.work_queue import work_key

    store = EvidenceStore(tmp_path, 777, 7)
    store.observations.append([Observation(3, "QmA", 25, 25, 1.0, 0.1, 0.9, "accepted")])
    SpotCheckLog(tmp_path / "spot_checks.jsonl").append(SpotCheck(3, "QmA", score, 2.0, 2.0, 1.9))
    store.refresh()
    evidence = store.range_evidence("QmA", 3, 3, 100)
    claim = Claim(work_key(7, "QmA", 3, 3), "0xnode", "0xprovider", 250, 0, 1)
    policy = AuditPolicy(tolerance=0.05, hard_factor=1.5, slash=1, grace_seconds=0)
    assert evidence.accepted == {3: 0}
    assert judge(claim, evidence, policy, 10, 1000).verdict == verdict


def test_the_aux_peers_checker_scores_what_a_real_round_sampled(tmp_path):
    """The aux peer's path, as `trainer aux` runs it: two trainers send real gradients of the tiny
    LLaMA to the reducer in one hivemind round on loopback; the reducer samples one of them, the
    checker `start_spot_checks` returns (a thread, as in the aux peer) scores it on held-out data of
    the run and logs it where the evidence store reads it. A flipped copy of the same sample fails,
    and the audit then credits nothing for that round."""
    import copy

    import hivemind
    from hivemind.optim.grad_averager import GradientAverager

    from trainer.pool.audit import Claim, judge
    from trainer.pool.run_config import AuditPolicy
    from trainer.pool.spot_check import start_spot_checks
    from trainer.pool.work_queue import work_key
    from trainer.training.config import TrainConfig
    from trainer.training.corpus import generate_corpus
    from trainer.training.data import BatchStream
    from trainer.training.model import load_model
    from trainer.training.observations import SPOT_PENDING_FILE
    from trainer.training.plan import plan_run
    from trainer.training.reducer import ReducerSpec, RobustAveragerMixin
    from trainer.training.swarm import keeping_sigint
    from trainer.training.tokenizer import build_tokenizer

    corpus = generate_corpus(tmp_path / "corpus.txt", num_lines=1500, seed=3)
    build_tokenizer(corpus.read_text().splitlines(), 512, tmp_path / "tok")
    config = TrainConfig(
        run_id="spot",
        model="tiny",
        tokenizer=str(tmp_path / "tok"),
        data=str(corpus),
        data_shards=4,
        seq_len=32,
        batch_size=8,
        device="cpu",
        robust_aggregation=True,
        observations_file=tmp_path / "observations.jsonl",
    )
    plan = plan_run(config)
    model, trainable = load_model(plan.spec, plan.kernel, plan.profile, "cpu", seed=0)

    averager_class = type("GradientAverager", (RobustAveragerMixin, GradientAverager), {})
    reducer_spec = ReducerSpec(role="reducer", log_path=str(config.observations_file))
    reducer_spec.spot_checks.value = True  # what run_aux sets once its checker runs
    common = dict(prefix="spot", target_group_size=3, min_group_size=3, min_matchmaking_time=2.0)
    maddrs = ["/ip4/127.0.0.1/tcp/0"]
    started, senders = [], []
    # hivemind's averagers set SIGINT to ignored in this process: put it back afterwards
    with keeping_sigint():
        try:
            root = hivemind.DHT(start=True, host_maddrs=maddrs)
            started.append(root)
            initial = [str(addr) for addr in root.get_visible_maddrs()]
            reducer = averager_class(trainable, dht=root, robust=reducer_spec, auxiliary=True, start=True, **common)
            started.append(reducer)
            for peer in ("trainer-a", "trainer-b"):
                local = copy.deepcopy(model)
                params = [p for p in local.parameters() if p.requires_grad]
                batch = next(BatchStream(config, plan.tokenizer, peer)).input_ids
                local(input_ids=batch, labels=batch).loss.backward()
                dht = hivemind.DHT(start=True, host_maddrs=maddrs, initial_peers=initial)
                started.append(dht)
                sender = averager_class(params, dht=dht, robust=ReducerSpec(role="sender"), start=True, **common)
                started.append(sender)
                sender.accumulate_grads_(batch_size=8)
                sender.state_sharing_priority = 2  # the trainers close epoch 2
                senders.append(sender)
            controls = [averager.step(wait=False, timeout=60) for averager in [reducer, *senders]]
            for control in controls:
                control.result(timeout=90)
            sender_ids = {str(sender.peer_id) for sender in senders}
        finally:
            for item in reversed(started):
                item.shutdown()

    pending = tmp_path / SPOT_PENDING_FILE
    assert pending.exists()  # written before the reducer's round ended
    sample = torch.load(pending, weights_only=True)
    checker = start_spot_checks(model, trainable, plan.tokenizer, config)
    assert checker is not None
    checks = SpotCheckLog(tmp_path / "spot_checks.jsonl")
    try:
        # each wait is for the checker thread's event (a line written, the sample removed), not for time
        wait_until(lambda: checks.read(), 120, "the checker to score the sampled contribution")
        (honest_check,) = checks.read()
        # consumed (the reducer may sample again): the checker removes the sample just after it
        # writes its line, so wait for that event too (asserting at once failed once under load)
        wait_until(lambda: not pending.exists(), 120, "the checker to consume the sample it scored", poll=0.05)
        assert honest_check.peer_id in sender_ids and honest_check.epoch == 2
        assert honest_check.passed, honest_check

        torch.save({**sample, "contribution": -sample["contribution"]}, pending)
        wait_until(lambda: len(checks.read()) >= 2, 120, "the checker to score the flipped contribution")
    finally:
        checker.close()
    flipped = checks.read()[1]
    assert flipped.score < 0 and not flipped.passed

    store = EvidenceStore(tmp_path, 777, 7)
    store.refresh()
    evidence = store.range_evidence(flipped.peer_id, 2, 2, 100)
    assert evidence.accepted == {2: 0} and evidence.spot_failed == {2: flipped.score}
    claim = Claim(work_key(7, flipped.peer_id, 2, 2), "0xnode", "0xprovider", 8 * 32, 0, 1)
    policy = AuditPolicy(tolerance=0.05, hard_factor=1.5, slash=1, grace_seconds=0)
    decision = judge(claim, evidence, policy, 32, 100 * 32)
    assert decision.verdict == "hard" and "spot check" in decision.reason
