"""The robust part reducer inside hivemind's all-reduce control flow, without a network."""

import asyncio

import torch

from trainer.training.reducer import Admission, RobustPartReducer
from trainer.training.robust import RobustConfig


def run_round(parts_by_sender, weights, admitted=None):
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
            shapes, senders, admitted=admitted or [True] * senders, config=RobustConfig(), on_round=rounds.append
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


def test_an_unadmitted_sender_is_reported_and_ignored():
    parts = [honest(1), honest(2), honest(3)]
    results, rounds = run_round(parts, [8.0, 8.0, 8.0], admitted=[True, True, False])
    expected = torch.stack([parts[0][0], parts[1][0]]).mean(0)
    assert torch.allclose(results[2][0], expected, atol=1e-5)
    assert [tally.verdict for tally in rounds[0]] == ["accepted", "accepted", "not_admitted"]


def test_admission_is_closed_until_published_and_follows_each_publish():
    admission = Admission()
    assert admission.admitted() is None
    admission.publish({"QmA", "QmB"})
    assert admission.admitted() == {"QmA", "QmB"}
    admission.publish(set())
    assert admission.admitted() == frozenset()
