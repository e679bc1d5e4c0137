"""Revert reasons the contracts give, turned into one-line errors that name the fix.

`eth_estimateGas` on Injective raises with the contract's revert string ("<Contract>: <reason>"),
so a transaction that would fail is stopped before it is signed. This table adds the hint: what the
user runs next. Reasons not listed still produce a one-line error, without a hint.
"""

from __future__ import annotations

from hub.errors import HubError

_HINTS: dict[str, str] = {
    "AccessControl: missing role": "this account lacks the role; an admin runs `hub admin grant ROLE ADDRESS`",
    "AccessControl: role already granted": "nothing to do: `hub admin roles ADDRESS` shows the roles",
    "AccessControl: role not held": "nothing to revoke: `hub admin roles ADDRESS` shows the roles",
    "InjectiveAiHub: stake below minimum": "stake more with `hub provider stake add AMOUNT`",
    "InjectiveAiHub: stake would fall below minimum": "reclaim less; `hub provider show` shows the minimum",
    "InjectiveAiHub: amount exceeds stake": "reclaim at most your active stake (`hub provider show`)",
    "InjectiveAiHub: provider not registered": "register first: `hub provider register --stake AMOUNT`",
    "InjectiveAiHub: not the node's provider": "only the provider that added the node can remove it",
    "InjectiveAiHub: attestation not signed by the node key": "have the node key sign: `hub node attest`",
    "InjectiveAiHub: attestation expired": "ask the node for a fresh `hub node attest`",
    "InjectiveAiHub: a slash cannot pay its validator": "the treasury's account cannot slash: use another validator",
    "ComputePool: a slash cannot pay its validator": "the treasury's account cannot slash: use another validator",
    "InjectiveAiHub: modules already set": "this system is already wired",
    "ComputeRegistry: provider already registered": "already registered: `hub provider show`",
    "ComputeRegistry: provider is blacklisted": "a blacklisted provider cannot do this",
    "ComputeRegistry: node key already registered": "remove the node first (`hub provider node remove NODE`)",
    "ComputeRegistry: node not registered": "add the node first: `hub provider node add`",
    "ComputeRegistry: node already validated": "nothing to do: `hub provider show PROVIDER` lists its nodes",
    "ComputeRegistry: node not validated": "a validator runs `hub validator validate-node NODE` first",
    "ComputeRegistry: remove the provider's nodes first": "remove every node: `hub provider node remove NODE`",
    "ComputeRegistry: provider already whitelisted": "nothing to do",
    "ComputeRegistry: provider already blacklisted": "nothing to do",
    "StakeManager: nothing matured to withdraw": "wait for the unbonding period; `hub provider show` lists maturities",
    "StakeManager: amount exceeds unbonding": "rebond at most what is unbonding (`hub provider show`)",
    "StakeManager: unbond queue full, withdraw first": "withdraw matured unbonds first: `hub provider stake withdraw`",
    "StakeManager: nothing to slash": "the provider has no stake left",
    "StakeManager: nothing to sweep": "no slashed INJ is waiting",
    "DomainRegistry: validation logic is not a contract": "pass the address of a deployed validation contract",
    "ComputePool: unknown domain": "`hub status` lists the domains; a federator creates one",
    "ComputePool: caller is not the pool creator": "use the account that created the pool",
    "ComputePool: caller is not the pool manager": "use the pool's manager or creator account",
    "ComputePool: pool is not pending": "the pool was already started",
    "ComputePool: pool is not active": "the pool is not running: `hub pool show ID`",
    "ComputePool: pool is not open": "the pool has ended or does not exist: `hub pool show ID`",
    "ComputePool: invite expired": "ask the pool manager for a new invite",
    "ComputePool: invite not signed by the pool manager": "ask the pool's current manager for a new invite",
    "ComputePool: node not validated": "a validator runs `hub validator validate-node NODE`",
    "ComputePool: provider not whitelisted": "a validator runs `hub validator whitelist PROVIDER`",
    "ComputePool: node already in a pool": "leave the other pool first: `hub node leave POOL`",
    "ComputePool: node not in pool": "the node is not a member: `hub pool show ID`",
    "ComputePool: pool compute limit reached": "the pool is full",
    "ComputePool: provider stake below minimum": "the provider stakes more: `hub provider stake add AMOUNT`",
    "ComputePool: work exceeds the node's capacity": "claim fewer units, or wait longer between submissions",
    "ComputePool: caller is not a validator": "hard invalidation needs the validator role",
    "ComputePool: caller is not the node or its provider": "use the node key or its provider's account",
    "RewardsDistributor: work key already used": "each work key is accepted once; use a new key",
    "RewardsDistributor: pool budget exhausted": "the pool creator tops it up: `hub pool top-up ID AMOUNT`",
    "RewardsDistributor: work not pending": "that work is already claimed or invalidated",
    "RewardsDistributor: challenge window closed": "the work can no longer be invalidated",
    "RewardsDistributor: work still in challenge window": "wait until it unlocks: `hub rewards`",
    "RewardsDistributor: not the node's provider": "claim with the provider account of the node",
    "RewardsDistributor: pool has not ended": "the creator ends the pool first: `hub pool end ID`",
    "RewardsDistributor: pool has ended": "an ended pool cannot be topped up",
    "RewardsDistributor: nothing to refund": "no unused budget is left",
    "RewardsDistributor: caller is not the pool creator": "use the account that created the pool",
}


def revert_reason(message: str) -> str:
    """The contract's reason from a node's error text ("execution reverted: X" -> "X")."""
    text = str(message).strip()
    for prefix in ("execution reverted:", "execution reverted"):
        if text.startswith(prefix):
            text = text[len(prefix) :].strip()
            break
    return text.splitlines()[0] if text else "execution reverted (no reason given)"


def revert_error(action: str, reason: str) -> HubError:
    """`<action> would fail: <reason>` with the fix, when the reason is known."""
    return HubError(f"{action} would fail: {reason}", hint=_HINTS.get(reason))
