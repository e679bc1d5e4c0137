"""What the client returns: typed, frozen records of on-chain state, JSON-ready (`model_dump(mode="json")`).

Amounts are integers in wei, times are chain timestamps (seconds), addresses are checksummed,
32-byte values (work keys, hashes) and signatures are 0x-hex strings.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from typing import Self  # Python 3.11+; annotations only


def hex32(value: bytes) -> str:
    """A 32-byte value (a work key, a hash) as the records hold it: 0x-hex."""
    return "0x" + bytes(value).hex()


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True)


class PoolStatus(str, Enum):
    """A pool's life cycle (the contract's flag values 1, 2, 4; 0 means no such pool)."""

    NONE = "none"
    PENDING = "pending"
    ACTIVE = "active"
    COMPLETED = "completed"

    @classmethod
    def from_flag(cls, value: int) -> PoolStatus:
        return {0: cls.NONE, 1: cls.PENDING, 2: cls.ACTIVE, 4: cls.COMPLETED}[int(value)]


class WorkState(str, Enum):
    """A work key's reward, as a provider sees it at the current block."""

    NONE = "none"  # never submitted
    LOCKED = "locked"  # in its challenge window
    CLAIMABLE = "claimable"  # window passed, not claimed
    CLAIMED = "claimed"
    INVALIDATED = "invalidated"  # soft or hard invalidation: never paid
    VOIDED = "voided"  # locked when its node was hard-invalidated: never paid


class Provider(_Record):
    address: str
    registered: bool
    whitelisted: bool
    blacklisted: bool
    total_compute: int
    node_count: int


class Node(_Record):
    address: str
    # @dev None when the key is not registered.
    provider: str | None
    compute_units: int
    validated: bool


class Unbond(_Record):
    amount: int
    maturity: int


class StakeInfo(_Record):
    account: str
    stake: int
    unbonding: int
    withdrawable: int
    pending: list[Unbond]


class Domain(_Record):
    domain_id: int
    name: str
    validation_logic: str
    uri: str


class Pool(_Record):
    pool_id: int
    domain_id: int
    creator: str
    manager: str
    validation_logic: str
    status: PoolStatus
    compute_limit: int
    total_compute: int
    metadata_hash: str
    metadata_uri: str
    created_at: int
    started_at: int
    ended_at: int


class Budget(_Record):
    pool_id: int
    creator: str
    reward_per_unit: int
    challenge_window: int
    funded: int
    refunded: int
    available: int
    committed: int
    paid: int


class Work(_Record):
    """One work key as stored (`RewardsDistributor.getWork`) plus its state at `now`."""

    pool_id: int
    work_key: str
    node: str | None
    provider: str | None
    units: int
    reward: int
    submitted_at: int
    unlocks_at: int
    voided: bool
    state: WorkState


# @dev Fields of an event's record that say where its log is, not what the event says.
_LOG_FIELDS = ("block_number", "tx_hash")


class _EventRecord(_Record):
    """A record of one event: each field but `_LOG_FIELDS` is the event's argument of the same name
    in camelCase (`pool_id` is `poolId`), a 32-byte value as 0x-hex."""

    @classmethod
    def fields_of(cls, args: Mapping[str, Any]) -> dict[str, Any]:
        """The event's arguments under the record's names: the one place that maps them, for the
        record of a log (`from_event`) and for the result of the transaction that logged the same
        event (`results.SubmittedWork`, `results.WorkInvalidation`)."""
        return {name: _plain(args[_camel(name)]) for name in cls.model_fields if name not in _LOG_FIELDS}

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> Self:
        """The record of a decoded log."""
        where = {"block_number": event["blockNumber"], "tx_hash": hex32(event["transactionHash"])}
        return cls(**cls.fields_of(event["args"]), **{k: v for k, v in where.items() if k in cls.model_fields})


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(word.title() for word in rest)


def _plain(value: Any) -> Any:
    return hex32(value) if isinstance(value, bytes) else value


class WorkSubmitted(_EventRecord):
    """A `WorkSubmitted` event."""

    pool_id: int
    node: str
    work_key: str
    provider: str
    units: int
    reward: int
    unlocks_at: int
    block_number: int
    tx_hash: str


class WorkInvalidated(_EventRecord):
    """A `WorkInvalidated` event (hard: with a slash, for fraud; soft: the reward returns to the pool)."""

    pool_id: int
    node: str
    work_key: str
    units: int
    reward: int
    hard: bool
    block_number: int


class ClaimResult(_Record):
    pool_id: int
    amount: int
    work_keys: list[str]
    tx_hashes: list[str]
    # @dev Gas paid for the claim transactions (wei).
    fee: int


class NodeAttestation(_Record):
    """A node key's EIP-712 consent to be added by `provider`: what `hub node attest` writes and
    `hub provider node add --attestation FILE` reads."""

    chain_id: int
    hub: str
    provider: str
    node: str
    compute_units: int
    specs_uri: str
    nonce: int
    deadline: int
    signature: str


class PoolInvite(_Record):
    """A pool manager's EIP-712 invite of one node: what `hub pool invite` writes and
    `hub node join --invite FILE` reads."""

    chain_id: int
    pool_contract: str
    pool_id: int
    node: str
    nonce: int
    deadline: int
    signature: str


class NodeMembership(_Record):
    """Whether `node` may train and submit work in pool `pool_id`, and if not, why."""

    pool_id: int
    node: str
    provider: str | None
    registered: bool
    validated: bool
    provider_whitelisted: bool
    provider_blacklisted: bool
    pool_status: PoolStatus
    in_pool: bool

    def problems(self) -> list[tuple[str, str]]:
        """(problem, fix) pairs; empty when the node can submit work now."""
        found = []
        if self.pool_status == PoolStatus.NONE:
            found.append((f"pool {self.pool_id} does not exist", "`hub pool list` shows the pools"))
        if not self.registered:
            found.append((f"node {self.node} is not registered", "its provider runs `hub provider node add`"))
        elif not self.validated:
            found.append((f"node {self.node} is not validated", "a validator runs `hub validator validate-node`"))
        if self.provider_blacklisted:
            found.append((f"the node's provider {self.provider} is blacklisted", "nothing to do: it is for good"))
        if not self.in_pool:
            found.append(
                (
                    f"node {self.node} is not in pool {self.pool_id}",
                    "join with an invite: `hub node join --invite FILE`",
                )
            )
        if self.pool_status == PoolStatus.PENDING:
            found.append((f"pool {self.pool_id} has not started", "its creator runs `hub pool start`"))
        elif self.pool_status == PoolStatus.COMPLETED:
            found.append((f"pool {self.pool_id} has ended", "pick an active pool: `hub pool list`"))
        return found

    @property
    def ready(self) -> bool:
        return not self.problems()
