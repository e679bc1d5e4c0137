"""What the aux peer knows about each peer's work, kept on its disk for as long as a claim may need it.

Append-only JSON-lines files in the aux peer's workdir, never rewritten or pruned (a claim can
name an epoch range of any length, sent any time later, and is judged while its challenge window
is open, so no age makes evidence useless; a line is a few dozen bytes per peer per epoch):

- ``observations.jsonl``: what the pool's trusted reducer saw of each contribution in each
  averaging round (`trainer.training.observations`, written by the aux peer). This is the
  evidence claims are judged by: it does not depend on what the claimant says. A zero-weight
  contribution (a tag-along, `_tag_along`) counts as a request to join the round, not as work.
- ``spot_checks.jsonl``: sampled contributions scored by the loss change they cause on held-out
  data (`trainer.pool.spot_check`); a contribution that failed its check is not credited.
- ``epoch_reports.jsonl``: admitted peers whose own signed progress record (hivemind's, the one the
  swarm's epoch is computed from) stated an epoch over `EPOCH_LEAD` ahead of both the swarm and the
  peer's own work ledger (`epoch_liars`), once per peer: positive evidence, read by the audit.
- ``state_checks.jsonl``: every state download of the aux peer from an admitted donor, with what
  it found (`trainer.training.vouched_state`); a donor that served non-finite weights, tensors
  of the wrong shapes, or weights whose held-out loss is junk (over a nat worse than uniform
  guessing) served bad state: positive evidence. A copy only worse than the aux peer's best is
  refused but is not evidence (an honest donor may lag).
- ``records.jsonl``: every (peer, epoch) the aux peer read in a signed DHT progress record whose
  node binding verifies (`trainer.pool.binding`), with the node it binds to and when the peer had
  completed it (`PlacedEpochs`). It maps a claim's node to its peers and its work key to an epoch
  range, places the peer in time, and keeps the claimant's own statement for the decision log. DHT
  records hold 16 epochs and expire after an hour; this file keeps them all.

Silence is judged in time, not by epoch number alone. A round the reducer closed without a peer
counts against it only if, when the round was reduced, the peer's own signed records place it in
that round's epoch: the last epoch they list as completed by then is the round's epoch or the one
before (`PLACED_EPOCHS`), or the one after if its records go on past it (`AHEAD_EPOCHS`: a peer
that steps without waiting for rounds runs a step ahead of them). A peer that trained its epochs
alone before the swarm's rounds (hivemind skips averaging when it sees no other peer) or after
them, one that stopped, and one that crashed and came back were somewhere else when those rounds
with the same numbers closed: no silence there. A liar signs the swarm's epochs as they go by, so
its records place it in the rounds it missed, and it stays caught. A round or a peer without
times (evidence written before times were kept) is judged by epoch number, as before.

Reading an `EvidenceStore` indexes the files once (`refresh`); the auditor refreshes it once per
pass.
"""

from __future__ import annotations

import bisect
import itertools
import json
import logging
import math
import os
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from trainer.pool.binding import bound_node
from trainer.pool.spot_check import MIN_SPOT_SCORE, SPOT_CHECKS_FILE, SpotCheckLog
from trainer.pool.work_queue import work_key
from trainer.training.observations import ATTEMPTS_FILE, DROPPED, JoinAttemptLog, Observation, ObservationLog
from trainer.training.vouched_state import BAD_STATE, STATE_CHECKS_FILE, StateCheckLog

if TYPE_CHECKING:
    from trainer.training.progress import SignedProgress

log = logging.getLogger("trainer.pool.evidence")

OBSERVATIONS_FILE = "observations.jsonl"
RECORDS_FILE = "records.jsonl"
EPOCH_REPORTS_FILE = "epoch_reports.jsonl"
# @dev An admitted peer whose signed progress record states an epoch more than this many epochs
#      ahead of the swarm (the highest epoch a majority of admitted peers' records reach, or the aux
#      peer's own, whichever is higher) and ahead of the last epoch its own signed work ledger lists
#      inflates the swarm's epoch (the `epoch` attack). An honest peer's epoch moves one epoch per
#      swarm round, or jumps by a state download to the state's epoch, and state comes only from the
#      aux peer's vouched copy (`trainer.training.vouched_state`), never ahead of the aux peer. So an
#      honest peer is ahead of the majority by the rounds it closed alone (a partition, a lagging
#      majority), and its ledger lists each of those epochs; it is ahead of its ledger by the epochs
#      it skipped in a download (a rejoin, a lag), which leaves it at the swarm's epoch. Measured
#      honest leads are 0-2 epochs (hivemind's transition race: one peer enters the next epoch first);
#      16 leaves a margin of 8x, and the quorum guard (`trainer.training.guards`) already ignores a
#      lone record ahead, so an inflation of 16 or less is bounded without being flagged.
EPOCH_LEAD = 16
# @dev Consecutive rounds the aux peer reduced without a contribution from a peer, or a request of
#      its to join them, before its silence counts as evidence that it did no work for the swarm
#      then. Shorter gaps, and rounds it asked to join but missed (the group closed first), are a
#      missed round (a matchmaking timeout): treated like epochs the aux peer did not observe.
SILENT_ROUNDS = 3
# @dev Epochs a peer's signed records may have completed by the time a round of epoch e was
#      reduced for the round to count as its silence: e - 1 (it was training e) and e itself
#      (hivemind's transition race: a peer enters the next epoch just before the round closes).
#      A round outside them breaks a gap, so a peer that stopped (its last record stays in the DHT)
#      is placed in at most these many consecutive rounds: fewer than `SILENT_ROUNDS`.
PLACED_EPOCHS = 2
# @dev A peer whose records had completed e + 1 when the round of e was reduced is placed in that
#      round too, if its records go on to complete a later epoch: it was training along with the
#      swarm a step ahead of the round. A peer that never waits for a round (hivemind's local step
#      when a round cannot start, the liar) steps as soon as the swarm's samples reach the target,
#      while the honest senders' round of that epoch may take seconds more to close under load: a
#      clean-clone run's `hub demo --attacker liar` had a liar 1 epoch ahead of one round of four,
#      which broke its silence into gaps of 1 and 2 rounds, and it went unslashed
#      (tests/bridge/data/demo_liar_ci33). The last record of a peer that stopped places it no
#      further, so the `PLACED_EPOCHS` bound above still holds for it.
AHEAD_EPOCHS = 1
# @dev A contribution CenteredClip kept less than this fraction of (it sat more than ten times
#      the clipping radius from the aggregate: noise, a flipped sign) did not reach the model: its
#      samples are not credited. Honest contributions sit inside the radius (scale 1) or near it.
MIN_SCALE = 0.1
# @dev A sender whose contribution pointed against most of the round's other screened-in senders
#      (negative dot product with more than half of them, in a round with at least two others) in
#      more than `FLIP_SHARE` of such rounds, over at least `FLIP_MIN_ROUNDS`, sends flipped
#      gradients: those rounds are not credited and are positive evidence. Measured against the other
#      senders rather than the aggregate: a flipper that holds most of a round's weight (honest
#      declarations vary several-fold between rounds) drags the aggregate its way, and its cosine
#      with it was positive in half its rounds in the bench while an honest peer's was negative. An
#      honest sender opposes only the attackers of a round, a minority; with parameter averaging off
#      honest weights drift apart between state downloads, so it may oppose a peer now and then
#      (bench/RESULTS.md, issue 16: what honest senders did in every robustness scenario).
#      Gradient rounds only: a DiLoCo pseudo-gradient is a step from the sender's own outer
#      weights, and those of an honest peer that applied an outer step alone (before it saw the
#      swarm) stay apart from the others'. In a clean-clone run such a peer pointed against both
#      other honest senders in 3 of 3 rounds (cosines with the aggregate +0.04..+0.16) and would
#      have been slashed. A DiLoCo flipper is bounded by CenteredClip, not flagged (README).
FLIP_MODES = frozenset({"gradient"})
FLIP_MIN_ROUNDS = 3
FLIP_SHARE = 2 / 3
# @dev A round credits a peer with at most this many epochs' target batch (the reducer caps a
#      weight at the same, trainer.training.swarm): a round forms after the swarm reaches its target,
#      so a peer keeps training while it forms, and the bench measured honest peers bringing 64-152
#      samples to one round of a 64-sample target (1x left 12 honest claims withheld).
ROUND_CREDIT_EPOCHS = 2
# @dev Longest epoch range searched for a claim's work key (first epoch at most this far below the
#      last). `trainer join` claims far shorter ranges; a longer one is left unmatched (no action).
MAX_RANGE_EPOCHS = 4096


@dataclass(frozen=True)
class _Seen:
    verdict: str
    declared: float
    """Samples the sender declared (0 when not a finite number)."""
    samples: float
    """Samples the sender declared, if its contribution reached the model (else 0): not dropped,
    not scaled below `MIN_SCALE` by CenteredClip, and not failed by a spot check."""
    weight: float
    """The weight the reducer gave it (declarations above the round's median are capped)."""
    harmful: bool = False
    """Positive evidence of bad work: dropped (not for want of admission), all but removed by the
    clip, a spot check that found it raising the held-out loss (score below `-MIN_SPOT_SCORE`), or
    a round against the aggregate of a sender that flips signs (`FLIP_SHARE`)."""
    against: bool = False
    """It pointed against most of the round's other screened-in senders (two or more)."""


@dataclass(frozen=True)
class RangeEvidence:
    """What the aux peer observed of one peer in one claim's epoch range."""

    peer_id: str
    first: int
    last: int
    rounds: frozenset[int]
    """Epochs of the range for which the aux peer reduced a round (its coverage)."""
    accepted: dict[int, float]
    """Samples of the peer's contributions that reached the model, by epoch (0 when dropped), in
    the range and one epoch either side (see `verified_samples`)."""
    verdicts: dict[int, list[str]]
    """The reducer's verdicts on the peer's contributions, by epoch."""
    silent: frozenset[int]
    """Reduced rounds of the range without any contribution of the peer, in a gap of at least
    `SILENT_ROUNDS` consecutive rounds."""
    ever_accepted: bool
    """Whether the reducer ever accepted a contribution of this peer (in any round, not just these)."""
    reported: dict[int, int]
    """The peer's own signed tokens per epoch, one epoch either side of the range included (the
    claimant's statement: never what a claim is credited by)."""
    declared: dict[int, float] = field(default_factory=dict)
    """Samples the peer declared to the reducer per epoch of the range (finite declarations)."""
    spot_failed: dict[int, float] = field(default_factory=dict)
    """Epochs of the range in which a contribution of the peer failed its spot check, with the
    score (`trainer.pool.spot_check`): those rounds are not credited."""
    harmful: bool = False
    """Whether every contribution the peer sent in the range (other than before its admission) is
    positive evidence of bad work (see `_Seen.harmful`)."""
    flipped: tuple[int, int] | None = None
    """(rounds against most others, rounds compared) over the peer's whole history, when that
    makes it a sign flipper (`FLIP_SHARE`); None otherwise."""
    against: tuple[int, ...] = ()
    """Epochs of the range in which the peer's contribution pointed against most of the others."""
    attempted: frozenset[int] = frozenset()
    """Epochs of the range in which the peer asked to join one of the reducer's rounds
    (`trainer.training.observations.JoinAttempt`): a round it missed then was not silence."""
    misconduct: tuple[str, ...] = ()
    """Positive evidence against the peer the aux peer gathered itself, whatever the range: a signed
    progress record far ahead of the swarm (`epoch_liars`), bad state served to the aux peer's own
    download (`trainer.training.vouched_state`). One line each."""

    @property
    def span(self) -> int:
        return self.last - self.first + 1

    @property
    def unobserved(self) -> int:
        """Epochs of the range with no evidence either way: no round reduced by the aux peer, a
        contribution it did not admit, or a short gap (a missed round) of a peer whose work the
        reducer has accepted before."""
        return self.span - len(self.rounds) + sum(1 for e in self.rounds if self._excused(e))

    def _excused(self, epoch: int) -> bool:
        if epoch in self.silent:
            return False
        verdicts = self.verdicts.get(epoch)
        if verdicts is None and not self.ever_accepted and epoch not in self.attempted:
            # a missed round is excused only for a peer the reducer has accepted work from, or one
            # that asked to join it (the group closed first): one it never heard from at all is
            # paid for nothing it claims in the rounds it missed
            return False
        # not admitted: the admission feed had not seen its binding yet, so its work was never judged
        return verdicts is None or all(v == "not_admitted" for v in verdicts)

    @property
    def sent(self) -> bool:
        """Whether the peer sent contributions in the range (other than before its admission)."""
        return any(not all(v == "not_admitted" for v in vs) for vs in self.verdicts.values())

    def verified_samples(self) -> float:
        """Accepted samples in the range, or in the range shifted by one epoch if that finds more:
        a round carries the epoch most of its senders declared (`trainer.training.reducer.round_epoch`),
        and a peer that joined a round its groupmates closed one epoch apart from it numbers that
        work one off."""
        return max(
            sum(v for e, v in self.accepted.items() if self.first + shift <= e <= self.last + shift)
            for shift in (-1, 0, 1)
        )


class EvidenceStore:
    """The aux peer's evidence files in `directory`; `refresh()` before reading."""

    def __init__(self, directory: Path, chain_id: int, pool_id: int) -> None:
        self.directory = Path(directory)
        self.chain_id, self.pool_id = chain_id, pool_id
        self.observations = ObservationLog(self.directory / OBSERVATIONS_FILE)
        self.spot_checks = SpotCheckLog(self.directory / SPOT_CHECKS_FILE)
        self.attempts = JoinAttemptLog(self.directory / ATTEMPTS_FILE)
        self._attempted: dict[str, set[int]] = {}
        self.records_path = self.directory / RECORDS_FILE
        self._nodes: dict[str, str] = {}  # peer id -> node address (checksummed)
        # the admission feed reads the bindings from the reducer's thread while the audit adds to them
        self._nodes_lock = threading.Lock()
        self._reported: dict[str, dict[int, int]] = defaultdict(dict)
        self._placed: dict[str, dict[int, float]] = defaultdict(dict)
        self._rounds: list[int] = []
        self._round_times: dict[int, list[float]] = {}
        self._seen: dict[str, dict[int, list[_Seen]]] = {}
        self._failed: dict[tuple[int, str], float] = {}
        self._flipped: dict[str, tuple[int, int]] = {}
        self._keys: dict[str, dict[str, tuple[int, int]]] = defaultdict(dict)
        self._indexed_lasts: dict[str, set[int]] = defaultdict(set)
        self.epoch_reports_path = self.directory / EPOCH_REPORTS_FILE
        self._epoch_lies: dict[str, dict[str, int]] = {}
        self.state_checks = StateCheckLog(self.directory / STATE_CHECKS_FILE)
        self._bad_state: dict[str, list[tuple[int, str]]] = {}
        self._load_records()
        self._load_epoch_reports()

    # -- the claimant's signed records

    def _load_records(self) -> None:
        if not self.records_path.exists():
            return
        lines = self.records_path.read_text().splitlines()
        for number, line in enumerate(lines, start=1):
            try:
                item = json.loads(line)
            except ValueError:
                if number == len(lines):
                    break  # a write cut short by a crash
                raise ValueError(f"{self.records_path}:{number}: malformed record line") from None
            self._nodes[item["peer_id"]] = item["node"]
            if item.get("epoch") is not None:
                self._reported[item["peer_id"]][int(item["epoch"])] = int(item["tokens"])
                if item.get("time") is not None:
                    self._placed[item["peer_id"]].setdefault(int(item["epoch"]), float(item["time"]))

    def remember(self, records: dict[str, SignedProgress], now: float | None = None) -> None:
        """Keep every new (peer, epoch) of `records` whose node binding verifies, with when the
        peer had completed it: the signed time of the first record listing it, but never later than
        `now` (the aux peer's clock, when it read the record: a record cannot predate its reading)."""
        read_at = time.time() if now is None else now
        lines = []
        for peer_id, signed in records.items():
            node = _verified_node(signed, self.chain_id, self.pool_id)
            if node is None:
                continue
            if self._nodes.get(peer_id) != node:
                with self._nodes_lock:
                    self._nodes[peer_id] = node
                lines.append({"peer_id": peer_id, "node": node, "epoch": None})
            known = self._reported[peer_id]
            signed_at = float(getattr(signed.record, "time", 0.0) or 0.0)
            done_by = min(signed_at, read_at) if signed_at > 0 else read_at
            placed = self._placed[peer_id]
            for work in signed.record.recent:
                if known.get(work.epoch) != work.tokens:
                    known[work.epoch] = work.tokens
                    placed.setdefault(work.epoch, done_by)
                    lines.append(
                        {
                            "peer_id": peer_id,
                            "node": node,
                            "epoch": work.epoch,
                            "tokens": work.tokens,
                            "time": placed[work.epoch],
                        }
                    )
        if lines:
            self.directory.mkdir(parents=True, exist_ok=True)
            with open(self.records_path, "a") as fh:
                fh.write("".join(json.dumps(line) + "\n" for line in lines))
                fh.flush()
                os.fsync(fh.fileno())

    # -- epochs the peers state in the swarm's progress records

    def _load_epoch_reports(self) -> None:
        if not self.epoch_reports_path.exists():
            return
        for line in self.epoch_reports_path.read_text().splitlines():
            try:
                item = json.loads(line)
            except ValueError:
                continue  # a write cut short by a crash (the peer is reported again)
            self._epoch_lies[item["peer_id"]] = item

    def note_epochs(self, stated: Mapping[str, int], aux_epoch: int | None = None) -> list[str]:
        """Record every bound peer whose signed swarm epoch in `stated` (peer id -> epoch,
        `trainer.training.progress.fetch_swarm_epochs`) is an `epoch_liars` lie, once per peer;
        returns the peers newly recorded. Call after `remember` (the ledgers and bindings)."""
        bound = self.bindings()
        ledgers = {peer: max(epochs) for peer, epochs in self._reported.items() if epochs}
        lies = epoch_liars({p: e for p, e in stated.items() if p in bound}, ledgers, aux_epoch)
        new = [peer for peer in lies if peer not in self._epoch_lies]
        if not new:
            return []
        lines = []
        for peer in new:
            epoch, reference, ledger = lies[peer]
            item = {"peer_id": peer, "node": bound[peer], "epoch": epoch, "swarm_epoch": reference}
            item["ledger_epoch"] = ledger
            self._epoch_lies[peer] = item
            lines.append(item)
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.epoch_reports_path, "a") as fh:
            fh.write("".join(json.dumps(line) + "\n" for line in lines))
            fh.flush()
            os.fsync(fh.fileno())
        for item in lines:
            log.warning(
                "peer %s signed epoch %d while the swarm is at %d and its own ledger at %d: epoch inflation",
                item["peer_id"],
                item["epoch"],
                item["swarm_epoch"],
                item["ledger_epoch"],
            )
        return new

    def misconduct(self, peer_id: str) -> tuple[str, ...]:
        """The aux peer's own positive evidence against `peer_id` (see `RangeEvidence.misconduct`)."""
        out = []
        lie = self._epoch_lies.get(peer_id)
        if lie is not None:
            out.append(
                f"it signed a progress record at epoch {lie['epoch']} while the swarm was at {lie['swarm_epoch']} "
                f"and its own work ledger at {lie['ledger_epoch']} (over {EPOCH_LEAD} epochs ahead of both)"
            )
        bad = self._bad_state.get(peer_id)
        if bad:
            epochs = ", ".join(f"{epoch} ({verdict})" for epoch, verdict in bad[:5])
            out.append(f"it served bad state to {len(bad)} of the aux peer's own downloads, at epochs {epochs}")
        return tuple(out)

    def peers_of(self, node: str) -> list[str]:
        """Peers whose signed binding names `node`."""
        return [peer for peer, bound in self.bindings().items() if bound.lower() == node.lower()]

    def bindings(self) -> dict[str, str]:
        """Peer id -> node address, for every binding the aux peer has verified."""
        with self._nodes_lock:
            return dict(self._nodes)

    # -- the reducer's observations

    def refresh(self) -> None:
        """Index the observation log and the spot checks as they are now."""
        seen: dict[str, dict[int, list[_Seen]]] = defaultdict(lambda: defaultdict(list))
        rounds: set[int] = set()
        round_times: dict[int, set[float]] = defaultdict(set)
        failed = {(check.epoch, check.peer_id): check.score for check in self.spot_checks.read() if not check.passed}
        observed = self.observations.read()
        flipped = sign_flippers(observed)
        tagged: dict[str, set[int]] = defaultdict(set)
        for obs in observed:
            rounds.add(obs.epoch)
            if obs.time > 0:
                round_times[obs.epoch].add(obs.time)
            if _tag_along(obs):
                tagged[obs.peer_id].add(obs.epoch)
                continue
            against = _against(obs)
            flip = against and obs.peer_id in flipped
            used = (
                obs.verdict not in DROPPED
                and math.isfinite(obs.declared_samples)
                and obs.scale >= MIN_SCALE
                and (obs.epoch, obs.peer_id) not in failed
                and not flip
            )
            # a score in [0, MIN_SPOT_SCORE) is not credited but is no proof: an honest gradient
            # on the checker's older weights can score low; one that raises the loss is
            harmful = (obs.verdict in DROPPED and obs.verdict != "not_admitted") or (
                obs.verdict not in DROPPED
                and (obs.scale < MIN_SCALE or failed.get((obs.epoch, obs.peer_id), 0.0) < -MIN_SPOT_SCORE or flip)
            )
            seen[obs.peer_id][obs.epoch].append(
                _Seen(
                    obs.verdict,
                    max(0.0, obs.declared_samples) if math.isfinite(obs.declared_samples) else 0.0,
                    max(0.0, obs.declared_samples) if used else 0.0,
                    max(0.0, obs.accepted_weight),
                    harmful,
                    against,
                )
            )
        self._rounds = sorted(rounds)
        self._round_times = {epoch: sorted(times) for epoch, times in round_times.items()}
        self._seen = seen
        # a request to join names the epoch its sender was in; the round it missed may carry the
        # next or the previous one (rounds take the majority's epoch), so each covers those too
        attempted: dict[str, set[int]] = defaultdict(set)
        for attempt in self.attempts.read():
            attempted[attempt.peer_id].update((attempt.epoch - 1, attempt.epoch, attempt.epoch + 1))
        for peer_id, epochs in tagged.items():
            attempted[peer_id].update(epochs)
        self._attempted = attempted
        self._failed = failed
        self._flipped = flipped
        bad_state: dict[str, list[tuple[int, str]]] = defaultdict(list)
        for check in self.state_checks.read():
            if check.verdict in BAD_STATE:
                bad_state[check.peer_id].append((check.epoch, check.verdict))
        self._bad_state = dict(bad_state)

    def sign_flippers(self) -> dict[str, tuple[int, int]]:
        """Peer id -> (rounds against the aggregate, rounds with a cosine), for the sign flippers."""
        return dict(self._flipped)

    @property
    def reducing(self) -> bool:
        """Whether the aux peer has reduced any round of the pool (robust aggregation is on)."""
        return bool(self._rounds)

    def round_samples(self) -> dict[int, float]:
        """The weight the reducer gave each round, all senders together (declarations capped by
        the reducer: an inflated one does not count)."""
        totals: dict[int, float] = defaultdict(float)
        for epochs in self._seen.values():
            for epoch, entries in epochs.items():
                totals[epoch] += sum(entry.weight for entry in entries)
        return dict(totals)

    def silent_epochs(self, peer_id: str) -> frozenset[int]:
        """Reduced rounds without a contribution of `peer_id` that its records place it in, in gaps
        of >= `SILENT_ROUNDS` rounds (see the module's docstring)."""
        present = self._seen.get(peer_id, {})
        attempted = self._attempted.get(peer_id, set())
        placed_in = self._placement(peer_id)
        silent: set[int] = set()
        gap: list[int] = []
        for epoch in [*self._rounds, None]:
            # a round it asked to join and missed (the group closed first) is no silence, nor one
            # reduced while the peer was in another epoch (before it came, after it stopped)
            if (
                epoch is not None
                and epoch not in present
                and epoch not in attempted
                and (placed_in is None or placed_in(epoch))
            ):
                gap.append(epoch)
                continue
            if len(gap) >= SILENT_ROUNDS:
                silent.update(gap)
            gap = []
        return frozenset(silent)

    def _placement(self, peer_id: str) -> Callable[[int], bool] | None:
        """Whether the peer's signed records place it in an epoch when a round of that epoch was
        reduced (`PLACED_EPOCHS`); None without times for the peer (judged by epoch number)."""
        placed = self._placed.get(peer_id)
        if not placed:
            return None
        ordered = sorted((done, epoch) for epoch, done in placed.items())
        times = [done for done, _ in ordered]
        completed = list(itertools.accumulate((epoch for _, epoch in ordered), max))

        def placed_in(epoch: int) -> bool:
            reduced = self._round_times.get(epoch)
            if not reduced:
                return True  # a round without a time: judged by its epoch number
            for reduced_at in reduced:
                done = bisect.bisect_right(times, reduced_at)
                if not done:
                    continue
                last = completed[done - 1]
                # a step ahead of the round counts only while the peer moves on (`AHEAD_EPOCHS`)
                ahead = last == epoch + AHEAD_EPOCHS and completed[-1] > last
                if epoch - PLACED_EPOCHS < last <= epoch or ahead:
                    return True
            return False

        return placed_in

    def range_evidence(self, peer_id: str, first: int, last: int, epoch_samples: float) -> RangeEvidence:
        """The evidence on `peer_id` in epochs [first, last]; a round credits it with the samples it
        declared for contributions that reached the model, at most `ROUND_CREDIT_EPOCHS` times
        `epoch_samples` (the run's target batch)."""
        present = self._seen.get(peer_id, {})
        in_range = [e for e in range(first, last + 1) if e in present]
        around = [e for e in range(first - 1, last + 2) if e in present]
        return RangeEvidence(
            peer_id=peer_id,
            first=first,
            last=last,
            rounds=frozenset(e for e in self._rounds if first <= e <= last),
            accepted={
                e: min(ROUND_CREDIT_EPOCHS * epoch_samples, sum(entry.samples for entry in present[e])) for e in around
            },
            verdicts={e: [entry.verdict for entry in present[e]] for e in in_range},
            silent=frozenset(e for e in self.silent_epochs(peer_id) if first <= e <= last),
            attempted=frozenset(e for e in self._attempted.get(peer_id, ()) if first <= e <= last),
            ever_accepted=any(entry.samples > 0 for entries in present.values() for entry in entries),
            reported={e: t for e, t in self._reported.get(peer_id, {}).items() if first - 1 <= e <= last + 1},
            declared={e: sum(entry.declared for entry in present[e]) for e in in_range},
            spot_failed={e: self._failed[(e, peer_id)] for e in in_range if (e, peer_id) in self._failed},
            harmful=any(entry.verdict != "not_admitted" for e in in_range for entry in present[e])
            and all(entry.harmful for e in in_range for entry in present[e] if entry.verdict != "not_admitted"),
            flipped=self._flipped.get(peer_id),
            against=tuple(e for e in in_range if any(entry.against for entry in present[e])),
            misconduct=self.misconduct(peer_id),
        )

    # -- work keys

    def match(self, peer_id: str, key: str) -> tuple[int, int] | None:
        """The epoch range [first, last] of `peer_id` whose work key is `key`: its last epoch is one
        the peer reported or contributed to, its first at most `MAX_RANGE_EPOCHS` below."""
        key = key.lower()
        keys = self._keys[peer_id]
        if key in keys:
            return keys[key]
        lasts = set(self._reported.get(peer_id, {})) | set(self._seen.get(peer_id, {}))
        for last in sorted(lasts - self._indexed_lasts[peer_id], reverse=True):
            self._indexed_lasts[peer_id].add(last)
            for first in range(last, max(-1, last - MAX_RANGE_EPOCHS), -1):
                keys[work_key(self.pool_id, peer_id, first, last)] = (first, last)
            if key in keys:
                return keys[key]
        return None


def epoch_liars(
    stated: Mapping[str, int], ledgers: Mapping[str, int], aux_epoch: int | None = None
) -> dict[str, tuple[int, int, int]]:
    """Peers whose signed swarm epoch (`stated`, admitted peers only) is more than `EPOCH_LEAD`
    ahead of both the swarm's epoch (the highest a majority of `stated` reach, or `aux_epoch` if
    higher) and the last epoch of their own signed work ledger (`ledgers`; -1 without one):
    peer id -> (stated epoch, swarm epoch, ledger epoch). With a single record there is no majority
    to outvote it: nobody is flagged."""
    if len(stated) < 2:
        return {}
    ordered = sorted(stated.values(), reverse=True)
    swarm = max(ordered[len(ordered) // 2], aux_epoch if aux_epoch is not None else -1)
    out = {}
    for peer, epoch in stated.items():
        ledger = ledgers.get(peer, -1)
        if epoch > swarm + EPOCH_LEAD and epoch > ledger + EPOCH_LEAD:
            out[peer] = (epoch, swarm, ledger)
    return out


def sign_flippers(observations: list[Observation]) -> dict[str, tuple[int, int]]:
    """Peers whose contributions pointed against most of the others in more than `FLIP_SHARE` of at
    least `FLIP_MIN_ROUNDS` gradient rounds they were compared in: peer id -> (rounds against, rounds)."""
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for obs in observations:
        if obs.compared >= 2 and obs.mode in FLIP_MODES:
            tally[obs.peer_id][0] += _against(obs)
            tally[obs.peer_id][1] += 1
    return {
        peer: (against, total)
        for peer, (against, total) in tally.items()
        if total >= FLIP_MIN_ROUNDS and against > FLIP_SHARE * total
    }


def _tag_along(obs: Observation) -> bool:
    """A zero-weight contribution: a round the sender's optimizer skipped or had not triggered yet,
    which hivemind ran anyway with the weight the sender set when it scheduled it, 0
    (`trainer.training.reducer.RobustAveragerMixin.schedule_step`), and with whatever its buffers
    held. It had no say in the round (`trainer.training.robust.aggregate_part`) and carries none of
    the sender's work, so it is read as what it shows: the sender asked to join that round (a join
    attempt, `refresh`), never as a contribution.

    Read as a contribution it penalized honest peers. In a clean-clone `hub demo --attacker liar`
    run (issue 16) the other trainer closed epoch 2 with the aux peer and moved on; the late peer's
    progress tracker then showed it alone, hivemind skipped its pre-scheduled round ("no other
    peers") and the peer stepped with its 1064 samples locally, while the skipped round, already in
    matchmaking, still ran with the aux peer as a tag-along. The audit took that for "the
    reducer accepted 0 samples of epoch 2" (not a missed round) and withheld the honest claim
    (soft); a tag-along alone in a claim's range read as a contribution the clip all but removed
    (scale 0: bad work) and would have been hard. Treating it as an attempt widens nothing: the
    reducer leads every round, so the tag-along's request to join was logged as an attempt already
    (in that run: epoch 2, 1.8 s before the round), and a sender with no other presence is excused
    no more than one that asked to join and left (a liar that does either every round is not
    silent: the attempt rule's known limit)."""
    return obs.verdict not in DROPPED and obs.declared_samples == 0


def _against(obs: Observation) -> bool:
    # two or more others: with one, the two senders of a round oppose each other alike
    return obs.mode in FLIP_MODES and obs.compared >= 2 and 2 * obs.opposed > obs.compared


def _verified_node(signed: SignedProgress, chain_id: int, pool_id: int) -> str | None:
    """The node a record's binding names, if the binding's signature recovers to it."""
    node, signature = getattr(signed.record, "node", None), getattr(signed.record, "node_signature", None)
    if not node or not signature:
        return None
    signer = bound_node(signature, chain_id, pool_id, signed.peer_id)
    if signer is None or signer.lower() != node.lower():
        log.warning("peer %s carries a node binding that does not verify (claims %s)", signed.peer_id, node)
        return None
    return signer
