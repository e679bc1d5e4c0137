"""What the client's transactions return: the mined transaction (`hub.tx.TxResult`: hash, block,
gas used, fee) plus the facts its receipt's events carry, decoded once in the binding that sent it,
so no caller decodes events or re-reads state to learn what a transaction did.

A write whose events carry nothing beyond its own arguments (whitelisting a provider, granting a
role, executing a proposal) returns the plain `TxResult`.

Each fact has one name: a caller reads `created.pool_id` or `refund.amount`, never a generic
`value`. The results once also set `value` to their "main fact" for callers written before these
types; once every caller (demo, bench, tests) read the named field, `value` was removed: a second
name for one fact lets a reader guess wrong which fact it is (a slashing's `value` was the amount
slashed, a vote's the weight), and a new result would have had to pick one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, TypeVar

from hub.client.models import PoolStatus, WorkInvalidated, WorkSubmitted
from hub.tx import TxResult

R = TypeVar("R", bound="TxFacts")


@dataclass(frozen=True, kw_only=True)
class TxFacts(TxResult):
    """A mined transaction and what its events say."""


def typed(result: TxResult, kind: type[R], **facts: Any) -> R:
    """`result` as a `kind`, with `facts` decoded from its receipt."""
    sent = {f.name: getattr(result, f.name) for f in fields(TxResult)}
    return kind(**sent, **facts)


# -- stake (InjectiveAiHub -> StakeManager)


@dataclass(frozen=True, kw_only=True)
class StakeChange(TxFacts):
    """Stake added (`registerProvider`, `increaseStake`) or rebonded (`rebondStake`)."""

    account: str
    amount: int
    # @dev The account's active stake after the transaction.
    stake: int


@dataclass(frozen=True, kw_only=True)
class Unbonding(TxFacts):
    """Stake moved into the unbond queue (`reclaimStake`; `deregisterProvider` unbonds it all, and
    nothing when nothing was staked: amount and unlocks_at are then 0)."""

    account: str
    amount: int
    # @dev Chain time from which `withdraw` pays it.
    unlocks_at: int
    # @dev The active stake left.
    stake: int


@dataclass(frozen=True, kw_only=True)
class Withdrawal(TxFacts):
    account: str
    amount: int


@dataclass(frozen=True, kw_only=True)
class Slashing(TxFacts):
    """A slash (`InjectiveAiHub.slash`, or part of a hard invalidation)."""

    provider: str
    requested: int
    slashed: int
    from_stake: int
    from_unbonding: int
    reason: str


@dataclass(frozen=True, kw_only=True)
class Sweep(TxFacts):
    treasury: str
    amount: int


# -- providers and nodes (InjectiveAiHub -> ComputeRegistry, ComputePool)


@dataclass(frozen=True, kw_only=True)
class NodeRegistration(TxFacts):
    """A node added under its provider (`addComputeNode`)."""

    provider: str
    node: str
    compute_units: int
    specs_uri: str
    # @dev The attestation nonce this addition used up.
    nonce: int


@dataclass(frozen=True, kw_only=True)
class NodeRemoval(TxFacts):
    provider: str
    node: str
    compute_units: int


@dataclass(frozen=True, kw_only=True)
class NodeValidation(TxFacts):
    provider: str
    node: str
    validated: bool


@dataclass(frozen=True, kw_only=True)
class ProviderBlacklisting(TxFacts):
    """A network-wide blacklisting, with the nodes released from their pools in the same transaction."""

    provider: str
    released: tuple[str, ...]


# -- federator and admin settings (InjectiveAiHub -> DomainRegistry)


@dataclass(frozen=True, kw_only=True)
class DomainCreation(TxFacts):
    domain_id: int
    name: str
    validation_logic: str
    uri: str


@dataclass(frozen=True, kw_only=True)
class StakeMinimumChange(TxFacts):
    previous: int
    current: int


@dataclass(frozen=True, kw_only=True)
class TreasuryChange(TxFacts):
    previous: str
    current: str


# -- pools (ComputePool -> RewardsDistributor)


@dataclass(frozen=True, kw_only=True)
class PoolCreation(TxFacts):
    pool_id: int
    domain_id: int
    creator: str
    manager: str
    compute_limit: int
    # @dev The budget funded, in wei.
    budget: int
    reward_per_unit: int
    challenge_window: int


@dataclass(frozen=True, kw_only=True)
class PoolStatusChange(TxFacts):
    pool_id: int
    status: PoolStatus


@dataclass(frozen=True, kw_only=True)
class ManagerChange(TxFacts):
    pool_id: int
    manager: str


@dataclass(frozen=True, kw_only=True)
class NodeJoin(TxFacts):
    pool_id: int
    node: str
    provider: str
    compute_units: int


@dataclass(frozen=True, kw_only=True)
class NodeLeave(TxFacts):
    pool_id: int
    node: str
    provider: str
    compute_units: int
    # @dev The contract's word: left, ejected, blacklisted, released or fraud.
    reason: str


@dataclass(frozen=True, kw_only=True)
class NodeBlacklisting(TxFacts):
    """A node barred from one pool; `left` says whether it was a member and was taken out."""

    pool_id: int
    node: str
    left: bool


@dataclass(frozen=True, kw_only=True)
class ProviderBarring(TxFacts):
    """A provider barred from one pool, with how many of its nodes were taken out."""

    pool_id: int
    provider: str
    nodes_removed: int


@dataclass(frozen=True, kw_only=True)
class SubmittedWork(TxFacts):
    """`submit_work`'s transaction, with what it locked: the reward (wei) and when it unlocks."""

    pool_id: int
    node: str
    work_key: str
    provider: str
    units: int
    reward: int
    unlocks_at: int

    @classmethod
    def from_event(cls, result: TxResult, args: Mapping[str, Any]) -> SubmittedWork:
        """`result` with its `WorkSubmitted` event's arguments (mapped as the log's record maps them)."""
        return typed(result, cls, **WorkSubmitted.fields_of(args))


@dataclass(frozen=True, kw_only=True)
class WorkInvalidation(TxFacts):
    """A soft or hard invalidation; a hard one also voids the node's locked work, bars the node from
    the pool and slashes its provider `slashed` (0 for a soft one or a slash of 0)."""

    pool_id: int
    node: str
    work_key: str
    units: int
    # @dev The invalidated work's reward, returned to the budget.
    reward: int
    hard: bool
    slashed: int

    @classmethod
    def from_event(cls, result: TxResult, args: Mapping[str, Any], *, slashed: int) -> WorkInvalidation:
        """`result` with its `WorkInvalidated` event's arguments and the amount its `Slashed` event
        took (0 without one)."""
        return typed(result, cls, **WorkInvalidated.fields_of(args), slashed=slashed)


# -- budgets (RewardsDistributor)


@dataclass(frozen=True, kw_only=True)
class TopUp(TxFacts):
    pool_id: int
    amount: int
    # @dev The pool's unused budget after the top-up.
    available: int


@dataclass(frozen=True, kw_only=True)
class Refund(TxFacts):
    pool_id: int
    creator: str
    amount: int


@dataclass(frozen=True, kw_only=True)
class VoidedRelease(TxFacts):
    pool_id: int
    count: int
    amount: int


# -- governance


@dataclass(frozen=True, kw_only=True)
class ProposalCreation(TxFacts):
    proposal_id: int
    proposer: str
    vote_start: int
    vote_end: int
    # @dev For + abstain stake that the vote needs.
    quorum: int


@dataclass(frozen=True, kw_only=True)
class VoteCast(TxFacts):
    proposal_id: int
    voter: str
    # @dev against, for or abstain.
    support: str
    weight: int


@dataclass(frozen=True, kw_only=True)
class VoteRecount(TxFacts):
    proposal_id: int
    voter: str
    previous_weight: int
    weight: int


@dataclass(frozen=True, kw_only=True)
class ProposalQueued(TxFacts):
    proposal_id: int
    # @dev Chain time from which the proposal can be executed.
    eta: int
