"""The aux peer's audit: every work claim on chain against what the aux peer observed itself.

For each `WorkSubmitted` in the pool the auditor finds the peers bound to the claiming node key
(`trainer.pool.binding`; the aux peer keeps every binding it has verified, `trainer.pool.evidence`),
finds the epoch range whose work key matches the claim, and compares the claimed tokens with what
the pool's trusted reducer accepted from that peer in those epochs (its observation log), never
with what the claimant says about itself:

- verified: the samples of the peer's contributions in the range that reached the model (the
  reducer neither dropped them as non-finite or absurd, nor refused the sender, nor kept less than
  `MIN_SCALE` of them in CenteredClip: noise and flipped signs; nor failed a spot check,
  `trainer.pool.spot_check`), at most two epochs' target batch per round
  (`evidence.ROUND_CREDIT_EPOCHS`: a peer trains on while a round forms), times the run's
  ``seq_len`` (the range shifted by one epoch counts if that finds more: a round carries the epoch
  most of its senders declared, which a lagging sender numbers one apart). A contribution counts
  with the samples its sender declared: the reducer caps the *weight* of a declaration above the round's
  median, but a faster honest peer really did more work, and the node's throughput is bounded on
  chain by its attested compute units (the work-rate rule);
- allowed: ``verified`` plus, for every epoch the aux peer has no evidence for (it reduced no
  round then: it was down; or the peer, whose work it has accepted before, missed fewer than
  `SILENT_ROUNDS` rounds in a row; or the reducer had not admitted it yet), a whole epoch's
  tokens (the most one peer can add to one epoch). Missing evidence thus never counts against a
  claim;
- claimed <= allowed x (1 + tolerance) + `LATE_SAMPLES` x verified: accepted;
- hard invalidation (the node's locked rewards are voided, it is ejected and barred, its provider
  slashed `audit.slash`) only on positive evidence of a lie or of bad work: a claim above
  hard_factor x what the peer's own signed records state for the range (it contradicts its
  signer); a peer that declared to the reducer over `DECLARATION_LIE_FACTOR` times the samples its
  record states (an inflated all-reduce weight); a range in which the reducer dropped or all but
  removed every contribution the peer sent (NaN, absurd norms, noise, flipped signs), or a spot check
  found each raising the held-out loss (`evidence._Seen.harmful`); a sign flipper (its contribution
  against most of the round's other senders in over 2/3 of 3+ rounds, `evidence.sign_flippers`)
  that claims a round in which it did; a peer whose contributions the reducer never accepted,
  silent (no contribution, no request to join) for at least `SILENT_ROUNDS` rounds in a row that its
  own signed records place it in (`evidence.PLACED_EPOCHS`, `evidence.AHEAD_EPOCHS`: a peer that
  trained alone before or after the swarm's rounds is not silent in them), that claims work (a
  consistent liar);
- the aux peer's own evidence against the peer, whatever the claim's range: a progress record it
  signed far ahead of the swarm (an inflated epoch, `evidence.epoch_liars`), or bad state it served
  to the aux peer's own download (non-finite, misshapen or junk weights,
  `trainer.training.vouched_state`): hard, on any claim judged after
  that evidence was found (the first voids every locked reward of the node and ejects it);
- otherwise soft invalidation (the claim's reward returns to the budget; no slash): work that did
  not reach the model as claimed. Per-epoch sample counts are too noisy for more (a reducer and a
  trainer may number a round differently; samples fed while a round forms; a peer whose epoch does
  not advance keeps accumulating), so they never decide a slash;
- no round of the range reduced by the aux peer (it was down, or the pool runs without robust
  aggregation): the claimant's own signed records (kept by the aux peer for good) are the only
  evidence; a claim above what they state contradicts its own signer (soft, or hard beyond
  hard_factor), a claim within them is accepted, and a claim over epochs without a record is
  left alone;
- no peer bound to the node while the aux peer reduces the pool's rounds: soft (admission needs
  the binding, so none of the node's work reached a round);
- otherwise no peer bound to the node, or a work key that matches no range of its peers:
  "unverified", logged with the reason, and nothing is done on chain.

Thresholds come from the pool's metadata (`trainer.pool.run_config.AuditPolicy`). A claim is judged
once, `grace_seconds` after it was submitted, and only while its challenge window is open; a claim
that would be soft only because the reducer has not accepted the peer yet, nor found it silent, waits
for the next rounds until `DECIDE_BY_SECONDS` before its window closes. Every
decision is appended to a JSON-lines file with its evidence, and each peer's quality score is
rewritten to ``scores.json`` beside it (`publish_scores`).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from trainer.pool.evidence import SILENT_ROUNDS, EvidenceStore, RangeEvidence
from trainer.pool.run_config import AuditPolicy

if TYPE_CHECKING:
    from hub.client import HubClient, WorkSubmitted
    from trainer.training.progress import SignedProgress

log = logging.getLogger("trainer.pool.audit")

Verdict = Literal["accept", "soft", "hard", "unverified"]
# @dev Samples a trainer feeds while its round is being formed count in its epoch's report but not
#      in the declaration the reducer saw (a quarter of an epoch on loaded CPU swarms): that much
#      above the verified samples is accepted.
LATE_SAMPLES = 0.25
# @dev A peer that declares to the reducer this many times the samples its own signed record states
#      for the epoch lied in one of two statements it signed (the inflated-weight attack): hard.
DECLARATION_LIE_FACTOR = 10.0
SCORES_FILE = "scores.json"


# @dev A claim whose judgement waits for evidence (a peer the reducer has not accepted yet) is
#      decided at the latest this long before its challenge window closes: a few audit ticks and
#      one transaction.
DECIDE_BY_SECONDS = 15


@dataclass(frozen=True)
class Claim:
    work_key: str
    node: str
    provider: str
    units: int
    submitted_at: int
    unlocks_at: int


@dataclass
class Decision:
    work_key: str
    node: str
    verdict: Verdict
    claimed: int
    reported: int
    """The claimant's own signed tokens for the range (its statement; not what it is judged by)."""
    reason: str
    peer_id: str | None = None
    epochs: list[int] | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    verified: int = 0
    """Tokens the reducer accepted from the peer in the range."""
    allowed: int = 0
    """`verified` plus a whole epoch's tokens for each epoch without evidence."""


def judge(
    claim: Claim,
    found: RangeEvidence | None,
    policy: AuditPolicy,
    tokens_per_sample: int,
    epoch_tokens: int,
    *,
    unbound_while_reducing: bool = False,
) -> Decision:
    """Judge one claim from the aux peer's evidence for its range (None: its key matched no range
    of a peer bound to the node). `epoch_tokens`: the most tokens one peer can add to one epoch.
    `unbound_while_reducing`: no peer has ever shown the aux peer a binding to this node while it
    reduces the pool's rounds, so none of the node's work can have been admitted to one."""
    if found is None and unbound_while_reducing:
        return Decision(
            claim.work_key,
            claim.node,
            "soft",
            claim.units,
            0,
            "no peer bound to this node ever showed itself, so none of its work was admitted to a round: "
            "reward withheld, no slash",
        )
    if found is None:
        return Decision(
            claim.work_key,
            claim.node,
            "unverified",
            claim.units,
            0,
            "its work key matches no epoch range of a peer bound to this node: no evidence, no action",
        )
    epochs = list(range(found.first, found.last + 1))
    reported = sum(t for e, t in found.reported.items() if found.first <= e <= found.last)
    evidence = {
        "rounds_observed": len(found.rounds),
        "accepted_samples": {str(e): s for e, s in sorted(found.accepted.items())},
        "verdicts": {str(e): v for e, v in sorted(found.verdicts.items())},
        "silent_epochs": sorted(found.silent),
        "unobserved_epochs": found.unobserved,
        "reported": {str(e): t for e, t in sorted(found.reported.items())},
        "spot_checks_failed": {str(e): score for e, score in sorted(found.spot_failed.items())},
        "against_others": list(found.against),
        "sign_flipper": list(found.flipped) if found.flipped else None,
    }

    def decision(verdict: Verdict, reason: str, verified: int = 0, allowed: int = 0) -> Decision:
        return Decision(
            claim.work_key,
            claim.node,
            verdict,
            claim.units,
            reported,
            reason,
            found.peer_id,
            epochs,
            evidence,
            verified,
            allowed,
        )

    if found.misconduct:
        evidence["misconduct"] = list(found.misconduct)
        return decision("hard", "; ".join(found.misconduct))
    if not found.rounds:
        return _judge_by_records(claim, found, policy, epoch_tokens, decision)
    verified = int(found.verified_samples() * tokens_per_sample)
    allowed = verified + found.unobserved * epoch_tokens
    inflated = _inflated_declarations(found, tokens_per_sample)
    if inflated:
        return decision(
            "hard",
            f"declared over {DECLARATION_LIE_FACTOR:g}x the samples to the reducer that its own signed record states "
            f"(epochs {', '.join(map(str, inflated))})",
            verified,
            allowed,
        )
    if found.flipped and found.against:
        against, total = found.flipped
        return decision(
            "hard",
            f"its contributions pointed against most of the other senders in {against} of its {total} rounds "
            f"(a sign flip), {len(found.against)} of them in this claim's epochs",
            verified,
            allowed,
        )
    stated = _stated(found)
    if stated is not None and claim.units > stated * policy.hard_factor:
        return decision(
            "hard",
            f"claimed {claim.units / max(stated, 1):.2f}x what the peer's own signed records state",
            verified,
            allowed,
        )
    slack = verified * LATE_SAMPLES
    if claim.units <= allowed * (1 + policy.tolerance) + slack:
        note = f"; {found.unobserved} of {found.span} epochs without evidence" if found.unobserved else ""
        return decision("accept", f"within what the reducer accepted{note}", verified, allowed)
    ratio = claim.units / allowed if allowed else float("inf")
    if verified == 0 and found.sent and found.harmful:
        checked = f" or they raised the held-out loss (spot checks, epochs {', '.join(map(str, found.spot_failed))})"
        return decision(
            "hard",
            "the reducer dropped or all but removed every contribution the peer sent"
            + (checked if found.spot_failed else ""),
            verified,
            allowed,
        )
    if found.silent and not found.ever_accepted:
        return decision(
            "hard",
            f"the reducer never accepted a contribution of this peer; silent in {len(found.silent)} rounds "
            f"of the range (>= {SILENT_ROUNDS} in a row)",
            verified,
            allowed,
        )
    return decision(
        "soft", f"claimed {ratio:.2f}x what the reducer accepted from it: reward withheld, no slash", verified, allowed
    )


def _judge_by_records(
    claim: Claim, found: RangeEvidence, policy: AuditPolicy, epoch_tokens: int, decision: Callable[..., Decision]
) -> Decision:
    """No round of the range was reduced by the aux peer (it was down, or the pool runs without
    robust aggregation): the only evidence is the claimant's own signed records. A claim above
    them contradicts what its signer stated, which is evidence against it; epochs without a record
    are credited a whole epoch, and a claim they could explain is left alone."""
    stated = sum(found.reported.get(e, 0) for e in range(found.first, found.last + 1))
    missing = sum(1 for e in range(found.first, found.last + 1) if e not in found.reported)
    bound = stated + missing * epoch_tokens
    where = f"the aux peer reduced no round in epochs {found.first}-{found.last}"
    if claim.units <= bound * (1 + policy.tolerance):
        if missing:
            return decision("unverified", f"{where} and holds no record of {missing} of them: no evidence, no action")
        return decision("accept", f"{where}; within the peer's own signed records", 0, bound)
    ratio = claim.units / bound if bound else float("inf")
    verdict = "soft" if claim.units <= bound * policy.hard_factor else "hard"
    return decision(verdict, f"{where}; claimed {ratio:.2f}x what the peer's own signed records state", 0, bound)


def _stated(found: RangeEvidence) -> int | None:
    """Tokens the peer's own signed records state for the range (None if one epoch has no record)."""
    epochs = range(found.first, found.last + 1)
    if any(e not in found.reported for e in epochs):
        return None
    return sum(found.reported[e] for e in epochs)


def _inflated_declarations(found: RangeEvidence, tokens_per_sample: int) -> list[int]:
    """Epochs in which the peer declared to the reducer over `DECLARATION_LIE_FACTOR` times the
    samples its own signed record states (the largest of that epoch and its two neighbours, so a
    reducer and a trainer that label a round one epoch apart never accuse an honest peer)."""
    out = []
    for epoch, declared in sorted(found.declared.items()):
        signed = [found.reported[e] for e in (epoch - 1, epoch, epoch + 1) if e in found.reported]
        if signed and declared * tokens_per_sample > DECLARATION_LIE_FACTOR * max(max(signed), tokens_per_sample):
            out.append(epoch)
    return out


class Auditor:
    """Audits one pool's claims as a validator; `tick(records)` once per refresh."""

    def __init__(
        self,
        client: HubClient,
        pool_id: int,
        policy: AuditPolicy,
        evidence: EvidenceStore,
        *,
        tokens_per_sample: int,
        epoch_samples: int,
        log_file: Path | None = None,
    ) -> None:
        self.client = client
        self.pool_id = pool_id
        self.policy = policy
        self.evidence = evidence
        self.tokens_per_sample = tokens_per_sample
        self.epoch_samples = epoch_samples
        self.log_file = log_file
        self.window = client.rewards.budget(pool_id).challenge_window
        # keyed by (node, work key): work keys are namespaced by node on chain, so two nodes may
        # use the same key and each claim is judged on its own
        self.judged: dict[tuple[str, str], Decision] = {}
        if log_file is not None and log_file.exists():
            for line in log_file.read_text().splitlines():
                item = json.loads(line)
                decision = Decision(**{k: v for k, v in item.items() if k != "time"})
                self.judged[(decision.node.lower(), decision.work_key)] = decision
        self._from_block: int | None = None
        self._claims: dict[tuple[str, str], Claim] = {}

    def claims(self) -> list[Claim]:
        """Every claim in the pool so far (new logs are fetched incrementally)."""
        head = self.client.block_number()
        for event in self.client.rewards.work_submitted(self.pool_id, from_block=self._from_block, to_block=head):
            self._claims[(event.node.lower(), event.work_key)] = _claim(event, self.window)
        self._from_block = head + 1
        return list(self._claims.values())

    def epoch_tokens(self) -> int:
        """The most tokens one peer can add to one epoch: the run's target batch, or the largest
        round the reducer has accepted, whichever is larger."""
        largest = max(self.evidence.round_samples().values(), default=0.0)
        return int(max(self.epoch_samples, largest) * self.tokens_per_sample)

    def find(self, claim: Claim) -> RangeEvidence | None:
        for peer_id in self.evidence.peers_of(claim.node):
            span = self.evidence.match(peer_id, claim.work_key)
            if span is not None:
                return self.evidence.range_evidence(peer_id, *span, self.epoch_samples)
        return None

    def tick(
        self,
        records: dict[str, SignedProgress],
        swarm_epochs: dict[str, int] | None = None,
        aux_epoch: int | None = None,
    ) -> list[Decision]:
        """Judge and act on every claim that is due; returns the decisions taken now.
        ``swarm_epochs``: the epoch each peer signed in the swarm's progress records
        (`trainer.training.progress.fetch_swarm_epochs`), checked for inflation
        (`trainer.pool.evidence.epoch_liars`) against ``aux_epoch`` and the admitted peers'."""
        now = self.client.now()
        self.evidence.remember(records)
        if swarm_epochs:
            self.evidence.note_epochs(swarm_epochs, aux_epoch)
        self.evidence.refresh()
        epoch_tokens = self.epoch_tokens()
        taken = []
        for claim in self.claims():
            if (claim.node.lower(), claim.work_key) in self.judged or now >= claim.unlocks_at:
                continue  # decided already, or its window closed: it can no longer be challenged
            if now - claim.submitted_at < self.policy.grace_seconds:
                continue  # give the peer's record and the round's observations time to land
            found = self.find(claim)
            decision = judge(
                claim,
                found,
                self.policy,
                self.tokens_per_sample,
                epoch_tokens,
                unbound_while_reducing=not self.evidence.peers_of(claim.node) and self.evidence.reducing,
            )
            if (
                decision.verdict == "soft"
                and found is not None
                and not found.ever_accepted
                and not found.silent
                and now < claim.unlocks_at - DECIDE_BY_SECONDS
            ):
                # a peer the reducer has neither accepted nor found silent yet (its first round
                # closed without it: a state download, a slow start) is not judged on that alone:
                # its next rounds decide it (accepted: the missed round is excused; silent: the
                # liar's rule), and it is judged again on the next tick
                continue
            if decision.verdict in ("soft", "hard"):
                work = self.client.rewards.work(self.pool_id, claim.node, claim.work_key, now=now)
                if work.voided or work.state.value != "locked":
                    # the node's hard invalidation already voided it: no second slash for one fraud
                    decision.reason += f"; already {'voided' if work.voided else work.state.value}, no action"
                    decision.evidence["onchain"] = work.state.value
                    self._record(decision)
                    taken.append(decision)
                    continue
            self._act(decision)
            taken.append(decision)
        if taken:
            self.publish_scores()
        return taken

    def _act(self, decision: Decision) -> None:
        from hub.errors import HubError

        try:
            if decision.verdict == "soft":
                result = self.client.pool.invalidate_work(self.pool_id, decision.node, decision.work_key)
                decision.evidence["tx"] = result.tx_hash
            elif decision.verdict == "hard":
                result = self.client.pool.hard_invalidate_work(
                    self.pool_id,
                    decision.node,
                    decision.work_key,
                    slash_amount=self.policy.slash,
                    reason=f"audit: {decision.reason}"[:128],
                )
                decision.evidence["tx"] = result.tx_hash
        except HubError as exc:
            decision.evidence["error"] = exc.message  # e.g. the window closed meanwhile
            log.error("audit of %s: %s failed: %s", decision.work_key, decision.verdict, exc.message)
        self._record(decision)

    def _record(self, decision: Decision) -> None:
        self.judged[(decision.node.lower(), decision.work_key)] = decision
        log.info(
            "audit %s: node %s claimed %d, the reducer accepted %d (allowed %d): %s (%s)",
            decision.work_key[:10],
            decision.node,
            decision.claimed,
            decision.verified,
            decision.allowed,
            decision.verdict,
            decision.reason,
        )
        if self.log_file is not None:
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
            with open(self.log_file, "a") as fh:
                fh.write(json.dumps({**asdict(decision), "time": time.time()}) + "\n")

    def scores(self) -> dict[str, dict[str, Any]]:
        """Per peer: its node, the rounds since its first contribution, how many it contributed to
        and how many the reducer accepted, its claims by verdict, ``sign_flipper`` ([rounds against
        most other senders, rounds] when the evidence store flags it, else None), and `score`: the share
        of those rounds in which its contribution was accepted, 0 once a claim of its node was hard."""
        self.evidence.refresh()
        rounds = sorted(self.evidence.round_samples())
        out: dict[str, dict[str, Any]] = {}
        flippers = self.evidence.sign_flippers()
        for peer_id, node in sorted(self.evidence.bindings().items()):
            span = self.evidence.range_evidence(peer_id, rounds[0], rounds[-1], self.epoch_samples) if rounds else None
            contributed = sorted(span.verdicts) if span else []
            since = [e for e in rounds if contributed and e >= contributed[0]]
            accepted = sum(1 for e in contributed if span and span.accepted.get(e, 0) > 0)
            verdicts = [d.verdict for d in self.judged.values() if d.peer_id == peer_id]
            counts = {v: verdicts.count(v) for v in ("accept", "soft", "hard", "unverified")}
            out[peer_id] = {
                "node": node,
                "rounds": len(since),
                "contributed": len(contributed),
                "accepted": accepted,
                "claims": counts,
                "sign_flipper": list(flippers[peer_id]) if peer_id in flippers else None,
                "score": 0.0 if counts["hard"] else (accepted / len(since) if since else None),
            }
        return out

    def publish_scores(self) -> None:
        """Rewrite ``scores.json`` beside the decision log (atomically) for the dashboard and reward rules."""
        if self.log_file is None:
            return
        path = self.log_file.with_name(SCORES_FILE)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"pool_id": self.pool_id, "time": time.time(), "peers": self.scores()}, indent=1))
        os.replace(tmp, path)


def _claim(event: WorkSubmitted, window: int) -> Claim:
    # unlocksAt = submittedAt + challengeWindow + 1 (RewardsDistributor)
    return Claim(
        event.work_key, event.node, event.provider, event.units, event.unlocks_at - window - 1, event.unlocks_at
    )
