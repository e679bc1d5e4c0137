"""The observation log: what the reducer saw, kept append-only for the audit."""

import math

import pytest

from trainer.training.observations import Observation, ObservationLog


def obs(epoch: int, peer: str, verdict: str = "accepted", norm: float = 1.0) -> Observation:
    return Observation(
        epoch=epoch,
        peer_id=peer,
        declared_samples=8.0,
        accepted_weight=0.0 if verdict.startswith("dropped") or verdict == "not_admitted" else 8.0,
        norm=norm,
        distance=None if verdict != "accepted" else 0.5,
        cosine=None if verdict != "accepted" else 0.9,
        verdict=verdict,
    )


def test_round_trip_and_query_by_peer_and_epoch_range(tmp_path):
    log = ObservationLog(tmp_path / "sub" / "obs.jsonl")
    log.append([obs(1, "A"), obs(1, "B", "clipped")])
    log.append([obs(2, "A"), obs(2, "B", "dropped_nonfinite", norm=float("nan")), obs(3, "B", "not_admitted")])

    assert len(log.read()) == 5
    assert [o.epoch for o in log.query(peer_id="A")] == [1, 2]
    b = log.query(peer_id="B", first_epoch=2, last_epoch=3)
    assert [o.verdict for o in b] == ["dropped_nonfinite", "not_admitted"]
    assert math.isnan(b[0].norm) and b[0].dropped and not log.query(peer_id="A")[0].dropped
    assert log.query(first_epoch=3) == [obs(3, "B", "not_admitted")]
    assert log.peers() == {"A", "B"}


def test_an_unknown_verdict_is_refused():
    with pytest.raises(ValueError, match="unknown verdict"):
        obs(1, "A", verdict="fine")


def test_a_line_cut_by_a_crash_is_skipped_but_a_corrupt_middle_line_is_an_error(tmp_path):
    path = tmp_path / "obs.jsonl"
    log = ObservationLog(path)
    log.append([obs(1, "A")])
    with open(path, "a") as handle:
        handle.write('{"epoch": 2, "peer')
    assert [o.epoch for o in log.read()] == [1]

    with open(path, "a") as handle:
        handle.write("\n")
    log.append([obs(3, "A")])
    with pytest.raises(ValueError, match=r"obs.jsonl:2: malformed observation"):
        log.read()


def test_a_missing_log_reads_as_empty(tmp_path):
    assert ObservationLog(tmp_path / "none.jsonl").read() == []
