"""The robust part reducer inside hivemind's all-reduce control flow, without a network."""

import asyncio
import contextlib

import pytest
import torch

from trainer.training.reducer import Admission, RobustPartReducer, declared_epochs, round_epoch
from trainer.training.robust import RobustConfig


def run_round(parts_by_sender, weights, admitted=None, spot_sender=None, spots=None):
    rounds = []
    senders = len(parts_by_sender)
    shapes = tuple(part.shape for part in parts_by_sender[0])

    async def send(reducer, sender):
        out = []
        for index, part in enumerate(parts_by_sender[sender]):
            out.append(await reducer.accumulate_part(sender, index, part, weight=weights[sender]))
        return out

    async def main():
        # hivemind builds its reducer inside the averager's event loop; so does this test
        reducer = RobustPartReducer(
            shapes,
            senders,
            admitted=admitted or [True] * senders,
            config=RobustConfig(),
            on_round=rounds.append,
            spot_sender=spot_sender,
            on_spot=None if spots is None else lambda *sample: spots.append(sample),
        )
        results = await asyncio.gather(*(send(reducer, sender) for sender in range(senders)))
        reducer.finalize()
        return results

    return asyncio.run(main()), rounds


def honest(seed):
    generator = torch.Generator().manual_seed(seed)
    base = torch.Generator().manual_seed(0)
    return [torch.randn(64, generator=base) + 0.2 * torch.randn(64, generator=generator) for _ in range(3)]


def test_every_sender_gets_the_same_robust_aggregate_and_a_nan_sender_is_dropped_for_the_round():
    parts = [honest(1), honest(2), honest(3)]
    bad = [part.clone() for part in honest(4)]
    bad[1][5] = float("nan")  # only its second part is poisoned; its third part must not count either
    bad[2] = bad[2] * 1e6
    results, rounds = run_round(parts + [bad], [8.0] * 4)

    for part_index in range(3):
        outputs = [results[sender][part_index] for sender in range(4)]
        assert all(torch.equal(outputs[0], other) for other in outputs[1:])
        honest_mean = torch.stack([parts[s][part_index] for s in range(3)]).mean(0)
        assert torch.isfinite(outputs[0]).all()
        if part_index > 0:
            assert torch.allclose(outputs[0], honest_mean, atol=1e-5)

    (tallies,) = rounds
    assert [tally.verdict for tally in tallies] == ["accepted", "accepted", "accepted", "dropped_nonfinite"]
    assert all(tally.parts == 3 for tally in tallies)
    assert tallies[3].accepted == 0.0 and tallies[0].accepted == 8.0
    assert tallies[0].cosine is not None and tallies[0].cosine > 0.9


def test_a_dropped_part_is_described_in_the_reducers_log_by_sender_part_and_values(caplog):
    """A clean-clone run dropped an honest peer's contribution and left only its summed norm: the
    reducer's log line names the sender and the part, and counts the values at fp16's largest
    (what hivemind's compression makes of an infinity in the sender's buffer)."""
    parts = [honest(1), honest(2), honest(3)]
    big = [part.clone() for part in honest(4)]
    big[1][:3] = 65504.0  # fp16's largest: three infinities, once compressed
    with caplog.at_level("WARNING", logger="trainer.training.reducer"):
        _, rounds = run_round(parts + [big], [8.0] * 4)

    (tallies,) = rounds
    assert tallies[3].verdict == "dropped_norm"
    (line,) = [record.getMessage() for record in caplog.records if "dropped_norm" in record.getMessage()]
    assert "sender 3's part 1 of 3" in line
    assert "3 at fp16's largest" in line and "64 values" in line and "0 non-finite" in line


def test_a_sender_warns_when_what_it_sends_is_non_finite_or_jumps_far_above_its_last():
    from trainer.training.reducer import SENDER_NORM_JUMP, contribution_check

    gradient = [torch.full((4,), 0.5), torch.full((2, 2), 0.5)]
    norm, warning = contribution_check(gradient, None, epoch=3)
    assert norm == pytest.approx(2**0.5) and warning is None
    # a round later: a few times larger is an honest gradient's range
    assert contribution_check([t * 3 for t in gradient], norm, epoch=4)[1] is None
    jumped = [gradient[0].clone(), gradient[1] * SENDER_NORM_JUMP * 10]
    _, warning = contribution_check(jumped, norm, epoch=4)
    assert warning is not None and "epoch 4" in warning and "tensor 1 of 2 ((2, 2))" in warning
    broken = [gradient[0].clone(), gradient[1].clone()]
    broken[0][1] = float("inf")
    _, warning = contribution_check(broken, norm, epoch=5)
    assert warning is not None and "tensor 0 of 2" in warning and "1 non-finite" in warning


def test_a_flipped_sender_holding_most_of_the_weight_still_opposes_every_honest_sender():
    """Its weight (twice an honest one's) does not change who it opposes: every honest sender, and
    each honest sender only it."""
    parts = [honest(1), honest(2), honest(3)]
    flipped = [-part for part in honest(4)]
    tag_along = [torch.zeros_like(part) for part in honest(5)]  # declared 0 samples: no say, not compared
    _, rounds = run_round([*parts, flipped, tag_along], [4.0, 4.0, 4.0, 8.0, 0.0])
    (tallies,) = rounds
    compared = [(tally.compared, tally.opposed) for tally in tallies]
    assert compared == [(3, 1), (3, 1), (3, 1), (3, 3), (0, 0)]


def test_an_unadmitted_sender_is_reported_and_ignored():
    parts = [honest(1), honest(2), honest(3)]
    results, rounds = run_round(parts, [8.0, 8.0, 8.0], admitted=[True, True, False])
    expected = torch.stack([parts[0][0], parts[1][0]]).mean(0)
    assert torch.allclose(results[2][0], expected, atol=1e-5)
    assert [tally.verdict for tally in rounds[0]] == ["accepted", "accepted", "not_admitted"]


def test_the_sampled_sender_is_handed_over_whole_with_the_aggregate_and_only_if_screened_in():
    parts = [honest(1), honest(2), honest(3)]
    spots = []
    results, _ = run_round(parts, [8.0] * 3, spot_sender=1, spots=spots)
    ((contribution, aggregate),) = spots
    assert torch.equal(contribution, torch.cat(parts[1]))
    assert torch.equal(aggregate, torch.cat(results[0]))

    bad = [part.clone() for part in honest(4)]
    bad[2][0] = float("nan")  # screened out in its last part: nothing to check, it is not credited
    spots = []
    run_round([*parts, bad], [8.0] * 4, spot_sender=3, spots=spots)
    assert spots == []


def test_a_zero_weight_tag_along_is_never_sampled_for_a_spot_check():
    """A tag-along (a pre-scheduled round that ran with weight 0, whatever its sender's buffers held)
    is not its sender's work: a spot check of it would score leftovers and put a failed check on the
    sender's epoch (trainer.pool.evidence)."""
    parts = [honest(1), honest(2), honest(3)]
    spots = []
    run_round(parts, [8.0, 0.0, 8.0], spot_sender=1, spots=spots)
    assert spots == []
    run_round(parts, [8.0, 0.0, 8.0], spot_sender=2, spots=spots)
    assert len(spots) == 1 and torch.equal(spots[0][0], torch.cat(parts[2]))


def test_admission_is_closed_until_published_and_follows_each_publish():
    admission = Admission()
    assert admission.admitted() is None
    admission.publish({"QmA", "QmB"})
    assert admission.admitted() == {"QmA", "QmB"}
    admission.publish(set())
    assert admission.admitted() == frozenset()


def _gathered(user) -> bytes:
    """One peer's matchmaking metadata as hivemind's averager builds it: [bandwidth, mode, user data]."""
    from hivemind.utils.serializer import MSGPackSerializer

    return MSGPackSerializer.dumps([1.0, 0, MSGPackSerializer.dumps(user)])


def test_declared_epochs_are_read_from_the_metadata_and_garbage_declares_nothing():
    peers = ["QmA", "QmB", "QmC", "QmD", "QmE", "QmAux"]
    gathered = [
        _gathered({"epoch": 7}),
        _gathered({"epoch": 6}),
        _gathered({"epoch": -3}),  # negative: not an epoch
        _gathered("epoch 7"),  # not a dict
        b"\xc1 not msgpack",
        _gathered(None),  # the reducer itself declares nothing
    ]
    assert declared_epochs(peers, gathered) == {"QmA": 7, "QmB": 6}


def test_a_round_is_stamped_with_the_epoch_most_admitted_senders_declare():
    admitted = {"QmA", "QmB", "QmC"}
    # the aux peer lags (its own epoch 3), the senders close epoch 5: the senders decide
    assert round_epoch({"QmA": 5, "QmB": 5, "QmC": 5}, admitted, own=3) == 5
    # one sender inflates (or lags): the majority holds
    assert round_epoch({"QmA": 5, "QmB": 5, "QmC": 1005}, admitted, own=3) == 5
    # a peer outside the allow-list does not vote, however many of it there are
    assert round_epoch({"QmA": 5, "QmX": 9, "QmY": 9}, admitted, own=3) == 5
    # two senders disagree: the reducer's own epoch (never forged) decides
    assert round_epoch({"QmA": 5, "QmB": 1005}, admitted, own=4) == 5
    assert round_epoch({"QmA": 0, "QmB": 5}, admitted, own=4) == 5
    # nobody declared anything usable: the reducer's own epoch
    assert round_epoch({}, admitted, own=4) == 4


@contextlib.contextmanager
def loopback_swarm(tmp_path, prefix, senders, reducer_epoch=0):
    """An aux peer (the reducer, logging observations) and ``senders`` trainers' gradient averagers
    (senders in averaging client mode), each with a gradient of 8 values, on loopback; all are
    shut down on exit. Yields the reducer, the senders and the observation log's path."""
    import hivemind
    from hivemind.optim.grad_averager import GradientAverager

    from trainer.training.reducer import ReducerSpec, RobustAveragerMixin
    from trainer.training.swarm import keeping_sigint

    averager_class = type("GradientAverager", (RobustAveragerMixin, GradientAverager), {})
    log_path = tmp_path / "observations.jsonl"
    reducer_spec = ReducerSpec(role="reducer", log_path=str(log_path))
    reducer_spec.epoch.value = reducer_epoch
    maddrs = ["/ip4/127.0.0.1/tcp/0"]
    started = []
    # hivemind's averagers set SIGINT to ignored in this process: put it back afterwards
    with keeping_sigint():
        try:
            root = hivemind.DHT(start=True, host_maddrs=maddrs)
            started.append(root)
            initial = [str(addr) for addr in root.get_visible_maddrs()]
            common = dict(prefix=prefix, target_group_size=senders + 1, min_group_size=senders + 1)
            common |= dict(min_matchmaking_time=2.0)
            reducer = averager_class(
                [torch.zeros(8, requires_grad=True)],
                dht=root,
                robust=reducer_spec,
                auxiliary=True,
                start=True,
                **common,
            )
            started.append(reducer)
            trainers = []
            for seed in range(1, senders + 1):
                dht = hivemind.DHT(start=True, host_maddrs=maddrs, initial_peers=initial)
                started.append(dht)
                param = torch.nn.Parameter(torch.zeros(8))
                param.grad = torch.randn(8, generator=torch.Generator().manual_seed(seed))
                sender = averager_class([param], dht=dht, robust=ReducerSpec(role="sender"), start=True, **common)
                started.append(sender)
                trainers.append(sender)
            yield reducer, trainers, log_path
        finally:
            for item in reversed(started):
                item.shutdown()


def test_a_real_round_is_stamped_with_the_epoch_its_senders_are_closing(tmp_path):
    """Two trainers (senders in averaging client mode) and a lagging aux peer (the reducer) run one
    real hivemind round on loopback: the observations carry the senders' epoch, not the aux peer's."""
    from trainer.training.observations import ATTEMPTS_FILE, JoinAttemptLog, ObservationLog

    # the aux peer lags two epochs behind the trainers
    with loopback_swarm(tmp_path, "stamp", senders=2, reducer_epoch=3) as (reducer, senders, log_path):
        for sender in senders:
            sender.accumulate_grads_(batch_size=4)
            # hivemind's optimizer hands the averager its epoch on every transition, as this
            sender.state_sharing_priority = 5
        controls = [averager.step(wait=False, timeout=60) for averager in [reducer, *senders]]
        for control in controls:
            control.result(timeout=90)

    observations = ObservationLog(log_path).read()
    assert len(observations) == 2
    assert {obs.epoch for obs in observations} == {5}
    # and each sender's request to join, with the epoch it declared (the evidence a missed round
    # was not silence)
    attempts = JoinAttemptLog(log_path.with_name(ATTEMPTS_FILE)).read()
    assert {(a.peer_id, a.epoch) for a in attempts} == {(obs.peer_id, 5) for obs in observations}
    assert all(obs.verdict == "accepted" and obs.declared_samples == 4 for obs in observations)


def test_a_pre_scheduled_round_run_before_its_step_set_a_weight_counts_for_nothing(tmp_path):
    """hivemind pre-schedules a trainer's round before the trainer knows what it will send, and a
    round it cancels can still run (the averager's process saw the trigger cancelled as "triggered":
    one test_attacks run had a trainer that skipped its first round as alone join the aux peer's
    round 5 s later). Whatever its buffers hold then, such a round must count for nothing: weight 0
    (a tag-along, neither weighted nor dropped), never hivemind's default of 1 sample."""
    from trainer.training.observations import ObservationLog

    with loopback_swarm(tmp_path, "stale", senders=2) as (reducer, (stepped, stale), log_path):
        stepped.accumulate_grads_(batch_size=4)
        stale.accumulate_grads_(batch_size=4)
        pre_scheduled = stale.schedule_step(timeout=60)
        # what a cancelled trigger amounts to in the averager: the round runs with the control's weight
        pre_scheduled.allow_allreduce()
        controls = [reducer.step(wait=False, timeout=60), stepped.step(wait=False, timeout=60), pre_scheduled]
        for control in controls:
            control.result(timeout=90)
        stale_id, stepped_id = (str(averager.peer_id) for averager in (stale, stepped))

    observations = {obs.peer_id: obs for obs in ObservationLog(log_path).read()}
    assert set(observations) == {stale_id, stepped_id}
    assert observations[stale_id].declared_samples == 0 and observations[stale_id].accepted_weight == 0
    assert not observations[stale_id].dropped
    assert observations[stepped_id].declared_samples == 4 and observations[stepped_id].verdict == "accepted"
