"""Robust aggregation with plain tensors: honest-only equals the mean; a minority moves it boundedly."""

import pytest
import torch

from trainer.training.robust import RobustConfig, SenderTally, aggregate_part, centered_clip, opposition

CONFIG = RobustConfig()


def honest_parts(count: int, size: int = 256, seed: int = 0) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    signal = torch.randn(size, generator=generator)
    return [signal + 0.3 * torch.randn(size, generator=generator) for _ in range(count)]


def test_honest_only_is_the_weighted_mean():
    parts = honest_parts(4)
    declared = [8.0, 8.0, 8.0, 8.0]
    result = aggregate_part(parts, declared, CONFIG)
    assert torch.allclose(result.aggregate, torch.stack(parts).mean(0), atol=1e-5)
    assert result.verdicts == ["accepted"] * 4
    assert result.scales == [1.0] * 4


def test_unequal_honest_weights_are_kept_up_to_twice_the_median_and_capped_above_it():
    parts = honest_parts(3)
    assert aggregate_part(parts, [4.0, 8.0, 12.0], CONFIG).weights == [4.0, 8.0, 12.0]
    result = aggregate_part(parts, [4.0, 8.0, 40.0], CONFIG)
    assert result.weights == [4.0, 8.0, 16.0]
    two = aggregate_part(parts[:2], [140.0, 120000.0], CONFIG)
    assert two.weights == [140.0, 280.0], "with two senders the inflated one gets at most twice the other's"

    assert result.verdicts == ["accepted", "accepted", "clipped"]


@pytest.mark.parametrize("kind", ["scale1e3", "nan", "inf", "noise", "signflip", "weight", "shift"])
def test_one_attacker_in_four_moves_the_aggregate_by_a_bounded_amount(kind):
    parts = honest_parts(4)
    declared = [8.0] * 4
    honest_mean = torch.stack(parts[:3]).mean(0)
    spread = max(float((part - honest_mean).norm()) for part in parts[:3])
    bad = parts[3]
    if kind == "scale1e3":
        bad = bad * 1e3
    elif kind == "nan":
        bad = bad.clone()
        bad[7] = float("nan")
    elif kind == "inf":
        bad = bad.clone()
        bad[0] = float("inf")
    elif kind == "noise":
        bad = 50 * torch.randn(bad.shape, generator=torch.Generator().manual_seed(9))
    elif kind == "signflip":
        bad = -bad
    elif kind == "weight":
        declared[3] = 1e9
    elif kind == "shift":  # just under the norm screen: only CenteredClip stands in the way
        bad = bad + 5 * bad.norm() * torch.ones_like(bad) / bad.numel() ** 0.5
    result = aggregate_part(parts[:3] + [bad], declared, CONFIG)

    assert torch.isfinite(result.aggregate).all()
    # BTARD's bound: the attacker's share of the weight times tau, tau a few honest spreads
    assert float((result.aggregate - honest_mean).norm()) <= 0.25 * CONFIG.clip_multiplier * 2 * spread + spread
    assert result.verdicts[3] != "accepted"
    assert result.verdicts[:3] == ["accepted"] * 3


def test_without_any_defence_the_same_attack_would_move_the_mean_far():
    # guards the test above: the attack is strong enough that a plain mean fails the bound
    parts = honest_parts(4)
    honest_mean = torch.stack(parts[:3]).mean(0)
    plain = torch.stack(parts[:3] + [parts[3] * 1e3]).mean(0)
    assert float((plain - honest_mean).norm()) > 100 * float((parts[0] - honest_mean).norm())


def test_an_unadmitted_sender_has_no_say_even_when_honest_looking():
    parts = honest_parts(3)
    result = aggregate_part(parts, [8.0] * 3, CONFIG, admitted=[True, True, False])
    assert result.verdicts[2] == "not_admitted" and result.weights[2] == 0.0
    assert torch.allclose(result.aggregate, torch.stack(parts[:2]).mean(0), atol=1e-5)


def test_two_senders_one_scaled_the_norm_screen_compares_with_the_other():
    parts = honest_parts(2)
    result = aggregate_part([parts[0], parts[1] * 1e3], [8.0, 8.0], CONFIG)
    assert result.verdicts == ["accepted", "dropped_norm"]
    assert torch.allclose(result.aggregate, parts[0])


def test_everyone_dropped_gives_a_zero_update_not_a_nan():
    bad = torch.full((8,), float("nan"))
    result = aggregate_part([bad, bad.clone()], [1.0, 1.0], CONFIG)
    assert torch.equal(result.aggregate, torch.zeros(8))
    assert result.verdicts == ["dropped_nonfinite"] * 2


def test_non_finite_or_negative_declared_weight_is_dropped_and_zero_weight_is_ignored():
    parts = honest_parts(4)
    result = aggregate_part(parts, [8.0, float("nan"), -1.0, 0.0], CONFIG)
    assert result.verdicts == ["accepted", "dropped_nonfinite", "dropped_nonfinite", "accepted"]
    assert result.weights[3] == 0.0
    assert torch.allclose(result.aggregate, parts[0])


def test_centered_clip_of_identical_rows_is_that_row():
    row = torch.arange(5.0)
    center, factors = centered_clip(torch.stack([row, row, row]), torch.ones(3), 3.0, 5)
    assert torch.allclose(center, row) and torch.equal(factors, torch.ones(3))


def test_sender_tally_keeps_the_worst_verdict_and_whole_round_geometry():
    tally = SenderTally(declared=8.0)
    aggregate = torch.ones(4)
    tally.add(torch.ones(4), aggregate, "accepted", 8.0, 1.0)
    tally.add(2 * torch.ones(4), aggregate, "clipped", 8.0, 0.5)
    assert tally.verdict == "clipped" and tally.scale == 0.5
    assert tally.norm == pytest.approx((4 + 16) ** 0.5)
    assert tally.distance == pytest.approx(2.0)
    assert tally.cosine == pytest.approx(12 / (20**0.5 * 8**0.5))
    tally.add(torch.full((4,), float("nan")), aggregate, "dropped_nonfinite", 0.0, 0.0)
    assert tally.verdict == "dropped_nonfinite" and tally.distance is None and tally.accepted == 0.0


def test_a_sender_alone_in_a_round_is_measured_against_the_reference_from_earlier_rounds():
    parts = honest_parts(3)
    earlier = aggregate_part(parts, [8.0] * 3, CONFIG)
    assert earlier.reference_norm == pytest.approx(sorted(float(p.norm()) for p in parts)[1])

    alone = aggregate_part([parts[0] * 1e3], [8.0], CONFIG, reference_norm=earlier.reference_norm)
    assert alone.verdicts == ["dropped_norm"] and torch.equal(alone.aggregate, torch.zeros_like(parts[0]))
    assert alone.reference_norm is None, "a round without comparison sets no reference"

    honest_alone = aggregate_part([parts[1]], [8.0], CONFIG, reference_norm=earlier.reference_norm)
    assert honest_alone.verdicts == ["accepted"] and torch.equal(honest_alone.aggregate, parts[1])
    assert aggregate_part([parts[0] * 1e3], [8.0], CONFIG).verdicts == ["accepted"], "nothing to compare with"


def test_opposition_counts_the_other_senders_a_contribution_points_against():
    # sender 3 is a flipped copy of the honest direction; 0-2 are honest; 4 was screened out
    dots = {(0, 1): 5.0, (0, 2): 4.0, (1, 2): 6.0, (0, 3): -5.0, (1, 3): -6.0, (2, 3): -4.0, (0, 4): -9.0}
    assert opposition(dots, [0, 1, 2, 3]) == {0: (3, 1), 1: (3, 1), 2: (3, 1), 3: (3, 3)}
    assert opposition(dots, [0, 3]) == {0: (1, 1), 3: (1, 1)}  # two senders oppose each other alike


DILOCO = RobustConfig(max_samples_per_peer=384.0, norm_per_sample=True)


def test_diloco_screen_keeps_an_honest_peer_that_brings_more_local_steps():
    # the CI case: an honest peer missed a round and brought 192 samples of local steps to a round
    # where two others brought 24 and 28; its pseudo-gradient's norm was 6x theirs over the whole
    # tensor and over 10x on one part, which the raw screen dropped. Per sample it is ordinary
    parts = honest_parts(3)
    pseudo = [parts[0] * 24 / 8, parts[1] * 28 / 8, parts[2] * 192 / 8 * 1.5]
    raw = aggregate_part(pseudo, [24.0, 28.0, 192.0], RobustConfig(max_samples_per_peer=384.0))
    assert raw.verdicts[2] == "dropped_norm", "the raw screen drops it (what went wrong)"
    result = aggregate_part(pseudo, [24.0, 28.0, 192.0], DILOCO)
    assert result.verdicts[2] == "clipped", result.verdicts  # kept, its weight capped at 2x the lower median
    assert result.weights == [24.0, 28.0, 56.0]


def test_diloco_screen_still_drops_a_scaled_pseudo_gradient_whatever_it_declares():
    # an inflated declaration excuses at most the weight cap's factor (2x the lower median): a
    # pseudo-gradient scaled 1e3 is dropped even when it claims a thousand times the samples
    parts = honest_parts(4)
    pseudo = [part * 8 for part in parts[:3]] + [parts[3] * 8 * 1e3]
    for declared in (8.0, 8000.0):
        result = aggregate_part(pseudo, [8.0, 8.0, 8.0, declared], DILOCO)
        assert result.verdicts[3] == "dropped_norm", (declared, result.verdicts)
    # 25x the others' norm with the cap's 2x declaration: 12.5x per sample, over the 10x ratio
    result = aggregate_part(pseudo[:3] + [parts[3] * 8 * 25], [8.0, 8.0, 8.0, 16.0], DILOCO)
    assert result.verdicts[3] == "dropped_norm"


def test_diloco_screen_needs_two_other_senders_or_the_reference_to_drop():
    # a clean-clone run: the round's only other finite sender was an honest peer whose outer weights
    # had drifted apart (it applied an outer step alone before it saw the swarm); one part of the
    # other honest pseudo-gradient was over 10x its per-sample norm, and the screen dropped it
    parts = honest_parts(2)
    pseudo = [parts[0] * 192 / 8, parts[1] * 156 / 8 / 12]
    assert aggregate_part(pseudo, [192.0, 156.0], RobustConfig(max_samples_per_peer=384.0)).verdicts[0] == (
        "dropped_norm"
    ), "the raw two-sender comparison drops it (what went wrong)"
    result = aggregate_part(pseudo, [192.0, 156.0], DILOCO)
    assert "dropped_norm" not in result.verdicts, result.verdicts
    # the reference of earlier rounds still drops a scaled pseudo-gradient in a two-sender round
    earlier = aggregate_part([part * 8 for part in honest_parts(3)], [8.0] * 3, DILOCO)
    pair = [parts[0] * 8, parts[1] * 8 * 1e3]
    scaled = aggregate_part(pair, [8.0, 8.0], DILOCO, reference_norm=earlier.reference_norm)
    assert scaled.verdicts == ["accepted", "dropped_norm"], scaled.verdicts
