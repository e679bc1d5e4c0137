"""The aux peer's audit: every work claim on chain against the claimant's signed progress records.

For each `WorkSubmitted` in the pool the auditor finds the peer bound to the claiming node key
(`trainer.pool.binding`: the binding signature travels inside the peer's RSA-signed DHT record), finds
the epoch range whose work key matches the claim, and compares the claimed units with the tokens
the peer reported for those epochs:

- claimed <= reported x (1 + tolerance): accepted;
- claimed <= reported x hard_factor: soft invalidation (the claim's reward returns to the budget);
- above that, or no record backs the claim at all: hard invalidation (the node's locked rewards are
  voided, it is ejected and barred from the pool, and its provider is slashed `audit.slash`).

Thresholds come from the pool's metadata (`trainer.pool.run_config.AuditPolicy`). A claim is judged once
its peer's record had `grace_seconds` to reach the DHT, and only while its challenge window is
open. Every decision is appended to a JSON-lines file with its evidence, and logged.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from trainer.pool.binding import bound_node
from trainer.pool.run_config import AuditPolicy
from trainer.pool.work_queue import work_key

if TYPE_CHECKING:
    from hub.client import HubClient, WorkSubmitted
    from trainer.training.progress import SignedProgress

log = logging.getLogger("trainer.pool.audit")

Verdict = Literal["accept", "soft", "hard"]


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
    reason: str
    peer_id: str | None = None
    epochs: list[int] | None = None
    evidence: dict[str, Any] = field(default_factory=dict)


def peers_by_node(records: dict[str, SignedProgress], chain_id: int, pool_id: int) -> dict[str, SignedProgress]:
    """The records whose node binding verifies, keyed by the node address that signed it."""
    out = {}
    for peer_id, signed in records.items():
        node, signature = getattr(signed.record, "node", None), getattr(signed.record, "node_signature", None)
        if not node or not signature:
            continue
        signer = bound_node(signature, chain_id, pool_id, peer_id)
        if signer is not None and signer.lower() == node.lower():
            out[signer] = signed
        else:
            log.warning("peer %s carries a node binding that does not verify (claims %s)", peer_id, node)
    return out


def match_epochs(pool_id: int, peer_id: str, key: str, reported: dict[int, int]) -> tuple[int, int] | None:
    """The epoch range [first, last] whose work key is `key`, among ranges over the reported epochs."""
    if not reported:
        return None
    lo, hi = min(reported), max(reported)
    for first in range(lo, hi + 1):
        for last in range(first, hi + 1):
            if work_key(pool_id, peer_id, first, last) == key.lower():
                return first, last
    return None


def judge(claim: Claim, signed: SignedProgress | None, pool_id: int, policy: AuditPolicy) -> Decision:
    """Compare one claim with the claimant's record (None: no verified record for its node)."""
    if signed is None:
        return Decision(
            claim.work_key,
            claim.node,
            "hard",
            claim.units,
            0,
            "no signed progress record of any peer bound to this node",
        )
    reported_by_epoch = {w.epoch: w.tokens for w in signed.record.recent}
    span = match_epochs(pool_id, signed.peer_id, claim.work_key, reported_by_epoch)
    evidence = {
        "record_time": signed.record.time,
        "record_epoch": signed.record.epoch,
        "recent": {str(k): v for k, v in sorted(reported_by_epoch.items())},
    }
    if span is None:
        return Decision(
            claim.work_key,
            claim.node,
            "hard",
            claim.units,
            0,
            "the work key matches no epoch range the peer reported",
            signed.peer_id,
            None,
            evidence,
        )
    first, last = span
    reported = sum(reported_by_epoch.get(e, 0) for e in range(first, last + 1))
    epochs = list(range(first, last + 1))
    if claim.units <= reported * (1 + policy.tolerance):
        return Decision(
            claim.work_key,
            claim.node,
            "accept",
            claim.units,
            reported,
            "within tolerance",
            signed.peer_id,
            epochs,
            evidence,
        )
    verdict: Verdict = "soft" if claim.units <= reported * policy.hard_factor else "hard"
    ratio = claim.units / reported if reported else float("inf")
    return Decision(
        claim.work_key,
        claim.node,
        verdict,
        claim.units,
        reported,
        f"claimed {ratio:.2f}x the reported tokens",
        signed.peer_id,
        epochs,
        evidence,
    )


class Auditor:
    """Audits one pool's claims as a validator; `tick(records)` once per refresh."""

    def __init__(self, client: HubClient, pool_id: int, policy: AuditPolicy, log_file: Path | None = None) -> None:
        self.client = client
        self.pool_id = pool_id
        self.policy = policy
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

    def tick(self, records: dict[str, SignedProgress]) -> list[Decision]:
        """Judge and act on every claim that is due; returns the decisions taken now."""
        now = self.client.now()
        bound = peers_by_node(records, self.client.chain_id, self.pool_id)
        taken = []
        for claim in self.claims():
            if (claim.node.lower(), claim.work_key) in self.judged or now >= claim.unlocks_at:
                continue  # decided already, or its window closed: it can no longer be challenged
            if now - claim.submitted_at < self.policy.grace_seconds:
                continue  # give the peer's record time to reach the DHT
            decision = judge(claim, bound.get(claim.node), self.pool_id, self.policy)
            if decision.verdict != "accept":
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
            "audit %s: node %s claimed %d, reported %d: %s (%s)",
            decision.work_key[:10],
            decision.node,
            decision.claimed,
            decision.reported,
            decision.verdict,
            decision.reason,
        )
        if self.log_file is not None:
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
            with open(self.log_file, "a") as fh:
                fh.write(json.dumps({**asdict(decision), "time": time.time()}) + "\n")


def _claim(event: WorkSubmitted, window: int) -> Claim:
    # unlocksAt = submittedAt + challengeWindow + 1 (RewardsDistributor)
    return Claim(
        event.work_key, event.node, event.provider, event.units, event.unlocks_at - window - 1, event.unlocks_at
    )
