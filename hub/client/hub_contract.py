"""InjectiveAiHub: roles, providers and their stake, nodes, validators' and federators' actions.

Stake rules are checked here before anything is signed, with the numbers in the message (the
contract would refuse too, but only with "stake below minimum").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hub.amounts import format_inj, inj_number
from hub.client.base import ContractBinding, address_arg
from hub.client.models import NodeAttestation
from hub.client.results import (
    DomainCreation,
    NodeRegistration,
    NodeRemoval,
    NodeValidation,
    ProviderBlacklisting,
    Slashing,
    StakeChange,
    StakeMinimumChange,
    TreasuryChange,
    Unbonding,
    typed,
)
from hub.errors import HubError
from hub.inputs import ROLE_NAMES, role_id
from hub.signatures import NO_DEADLINE

if TYPE_CHECKING:
    from hub.tx import TxResult

# An unbond merges into the newest queue entry when both start in the same second, else it opens a
# new entry (a fresh storage slot). The estimate runs against the latest block, and the
# transaction may land in a later second: pay for the fresh slot up front rather than run out of
# gas (seen on the local chain with 0.1 s blocks; Injective charges the whole limit either way).
UNBOND_SLOT_GAS = 22_100


# @dev Most nodes per blacklistProvider call (InjectiveAiHub.MAX_BATCH).
MAX_BATCH = 64


def _positive(amount: int, what: str) -> None:
    if amount <= 0:
        raise HubError(f"{what} must be more than zero", hint="e.g. 10 (INJ), 0.5 or 1000wei")


class HubContract(ContractBinding):
    NAME = "InjectiveAiHub"

    # -- reads

    def has_role(self, role: str | bytes, account: str) -> bool:
        role_bytes = role if isinstance(role, bytes) else role_id(role)
        return bool(self._read("hasRole", role_bytes, address_arg(account)))

    def roles_of(self, account: str) -> list[str]:
        """The role names (admin, federator, validator) `account` holds."""
        return [name for name in ROLE_NAMES if self.has_role(name, account)]

    def role_holders(self, role: str | bytes) -> set[str]:
        """Every account that holds `role` now: each account a RoleGranted log since the deployment
        names, still holding it (the logs read in the windows the node takes, `_logs`)."""
        role_bytes = role if isinstance(role, bytes) else role_id(role)
        granted = {log["args"]["account"] for log in self._logs("RoleGranted", {"role": role_bytes})}
        return {account for account in granted if self.has_role(role_bytes, account)}

    def treasury(self) -> str:
        return self._read("treasury")

    def min_stake_per_compute_unit(self) -> int:
        return self._read("minStakePerComputeUnit")

    def minimum_stake(self, provider: str, extra_units: int = 0) -> int:
        """Stake `provider` needs with `extra_units` more compute (0: its current requirement)."""
        return self._read("calculateMinimumStake", address_arg(provider), extra_units)

    # -- providers

    def register_provider(self, stake: int) -> StakeChange:
        """Register the signer as a provider with `stake` wei."""
        me = self.client.address
        record = self.reads.provider(me)
        if record.registered:
            raise HubError(f"{me} is already a registered provider", hint="`hub provider show` shows its state")
        if record.blacklisted:
            raise HubError(f"{me} is blacklisted and cannot register")
        minimum = max(self.min_stake_per_compute_unit(), 1)
        if stake < minimum:
            raise HubError(
                f"stake {format_inj(stake)} is below the minimum {format_inj(minimum)}",
                hint=f"register with --stake {inj_number(minimum)} or more",
            )
        return self._staked(self._send("registerProvider", value=stake, action="register provider"))

    def _staked(self, result: TxResult, event: str = "Staked") -> StakeChange:
        args = self._event(result, event, contract="StakeManager")
        return typed(result, StakeChange, account=args["account"], amount=args["amount"], stake=args["stake"])

    def _unbonded(self, result: TxResult) -> Unbonding:
        found = self._events(result, "Unbonded", contract="StakeManager")
        if not found:  # a deregistration with nothing staked unbonds nothing
            return typed(result, Unbonding, account=self.client.address, amount=0, unlocks_at=0, stake=0)
        args = found[0]["args"]
        return typed(
            result,
            Unbonding,
            account=args["account"],
            amount=args["amount"],
            unlocks_at=args["maturity"],
            stake=args["stake"],
        )

    def _require_registered(self) -> None:
        if not self.reads.provider(self.client.address).registered:
            raise HubError(
                f"{self.client.address} is not a registered provider",
                hint="register first: `hub provider register --stake AMOUNT`",
            )

    def increase_stake(self, amount: int) -> StakeChange:
        _positive(amount, "the stake to add")
        self._require_registered()
        return self._staked(self._send("increaseStake", value=amount, action="add stake"))

    def reclaim_stake(self, amount: int) -> Unbonding:
        """Start unbonding `amount`; what stays must cover the minimum for the provider's compute."""
        _positive(amount, "the stake to reclaim")
        self._require_registered()
        me = self.client.address
        stake = self.reads.stake_of(me)
        if amount > stake:
            raise HubError(
                f"cannot reclaim {format_inj(amount)}: the active stake is {format_inj(stake)}",
                hint="`hub provider show` shows the stake",
            )
        minimum = self.minimum_stake(me)
        if stake - amount < minimum:
            spare = stake - minimum
            raise HubError(
                f"reclaiming {format_inj(amount)} would leave {format_inj(stake - amount)}, below the minimum "
                f"{format_inj(minimum)} for this provider's compute",
                hint=f"reclaim at most {format_inj(spare)}" if spare > 0 else "remove nodes first: they need it all",
            )
        return self._unbonded(self._send("reclaimStake", amount, action="reclaim stake", extra_gas=UNBOND_SLOT_GAS))

    def rebond_stake(self, amount: int) -> StakeChange:
        """Move `amount` of pending unbonds back into active stake."""
        _positive(amount, "the stake to rebond")
        self._require_registered()
        unbonding = self.reads.unbonding_of(self.client.address)
        if amount > unbonding:
            raise HubError(
                f"cannot rebond {format_inj(amount)}: only {format_inj(unbonding)} is unbonding",
                hint="`hub provider show` lists the pending unbonds",
            )
        return self._staked(self._send("rebondStake", amount, action="rebond stake"), "Rebonded")

    def deregister_provider(self) -> Unbonding:
        """Leave: needs no nodes left; the whole stake starts unbonding."""
        record = self.reads.provider(self.client.address)
        if not record.registered:
            raise HubError(f"{self.client.address} is not a registered provider")
        if record.node_count:
            raise HubError(
                f"the provider still has {record.node_count} node(s)",
                hint="remove them first: `hub provider node remove NODE`",
            )
        return self._unbonded(self._send("deregisterProvider", action="deregister provider", extra_gas=UNBOND_SLOT_GAS))

    # -- nodes

    def attest_node(
        self, provider: str, compute_units: int, specs_uri: str, *, deadline: int = NO_DEADLINE
    ) -> NodeAttestation:
        """The signer (a node key) consents to be added by `provider` with `compute_units`."""
        from hub import signatures

        provider = address_arg(provider, "provider")
        if compute_units <= 0:
            raise HubError("compute units must be a positive whole number", hint="e.g. --units 10")
        if len(specs_uri.encode()) > 256:
            raise HubError("the specs URI is longer than 256 bytes", hint="publish the specs under a shorter URI")
        node = self.client.address
        owner = self.reads.node(node).provider
        if owner is not None:
            raise HubError(
                f"node key {node} is already registered to provider {owner}",
                hint="that provider removes it first: `hub provider node remove NODE`",
            )
        nonce = self.reads.node_nonce(node)
        typed = signatures.node_attestation(
            self.client.chain_id, self.address, provider, node, compute_units, specs_uri, nonce, deadline
        )
        return NodeAttestation(
            chain_id=self.client.chain_id,
            hub=self.address,
            provider=provider,
            node=node,
            compute_units=compute_units,
            specs_uri=specs_uri,
            nonce=nonce,
            deadline=deadline,
            signature=self.client.sign_typed(typed),
        )

    def add_compute_node(self, attestation: NodeAttestation) -> NodeRegistration:
        """Add the attested node under the signer (the provider)."""
        me = self.client.address
        a = attestation
        if a.chain_id != self.client.chain_id or a.hub != self.address:
            raise HubError(
                f"the attestation is for chain {a.chain_id} / hub {a.hub}, not this deployment",
                hint="have the node sign again with `hub node attest` on this network",
            )
        if a.provider != me:
            raise HubError(
                f"the attestation names provider {a.provider}, not {me}",
                hint=f"the node signs again with `hub node attest --provider {me}`",
            )
        if a.nonce != self.reads.node_nonce(a.node):
            raise HubError(
                "the attestation was already used or is outdated", hint="the node runs `hub node attest` again"
            )
        self._require_registered()
        need = self.minimum_stake(me, a.compute_units)
        stake = self.reads.stake_of(me)
        if stake < need:
            raise HubError(
                f"stake {format_inj(stake)} is below the {format_inj(need)} needed with {a.compute_units} more "
                "compute units",
                hint=f"add {format_inj(need - stake)}: `hub provider stake add {inj_number(need - stake)}`",
            )
        signature = bytes.fromhex(a.signature.removeprefix("0x"))
        args = [a.node, a.specs_uri, a.compute_units, signature]
        if a.deadline != NO_DEADLINE:
            args.append(a.deadline)
        result = self._send("addComputeNode", *args, action="add node")
        added = self._event(result, "NodeAdded", contract="ComputeRegistry")
        return typed(
            result,
            NodeRegistration,
            provider=added["provider"],
            node=added["node"],
            compute_units=added["computeUnits"],
            specs_uri=added["specsURI"],
            nonce=added["nonce"],
        )

    def remove_compute_node(self, node: str) -> NodeRemoval:
        node = address_arg(node, "node")
        owner = self.reads.node(node).provider
        if owner != self.client.address:
            raise HubError(
                f"node {node} is not one of {self.client.address}'s nodes",
                hint="`hub provider show` lists your nodes",
            )
        result = self._send("removeComputeNode", node, action="remove node")
        removed = self._event(result, "NodeRemoved", contract="ComputeRegistry")
        return typed(
            result,
            NodeRemoval,
            provider=removed["provider"],
            node=removed["node"],
            compute_units=removed["computeUnits"],
        )

    # -- validators

    def validate_node(self, node: str) -> NodeValidation:
        return self._validation(self._send("validateNode", address_arg(node, "node"), action="validate node"))

    def invalidate_node(self, node: str) -> NodeValidation:
        return self._validation(self._send("invalidateNode", address_arg(node, "node"), action="invalidate node"))

    def _validation(self, result: TxResult) -> NodeValidation:
        changed = self._event(result, "NodeValidationChanged", contract="ComputeRegistry")
        return typed(
            result, NodeValidation, provider=changed["provider"], node=changed["node"], validated=changed["validated"]
        )

    def whitelist_provider(self, provider: str) -> TxResult:
        return self._send("whitelistProvider", address_arg(provider, "provider"), action="whitelist provider")

    def blacklist_provider(self, provider: str, nodes: list[str] | None = None) -> ProviderBlacklisting:
        """Blacklist `provider` network-wide and release its nodes from their pools (its current nodes,
        found from the logs, unless given), the first 64 of them: others stay in their pools until
        anyone releases them (`ComputePool.releaseBlacklistedNode`; `workflows.blacklist_provider`
        does both). The result names the nodes released."""
        provider = address_arg(provider, "provider")
        if nodes is None:
            nodes = [n.address for n in self.reads.nodes_of(provider)]
        nodes = [address_arg(n, "node") for n in nodes]
        result = self._send("blacklistProvider", provider, nodes[:MAX_BATCH], action="blacklist provider")
        released = tuple(e["args"]["node"] for e in self._events(result, "NodeLeft", contract="ComputePool"))
        return typed(result, ProviderBlacklisting, provider=provider, released=released)

    def preview_slash(self, provider: str, amount: int) -> int:
        """What `slash(provider, amount)` would take now: capped by the provider's bonded requirement
        (docs/SPEC.md 3.3) and by what it holds."""
        return self._read("previewSlash", address_arg(provider, "provider"), amount)

    def slash(self, provider: str, amount: int, reason: str) -> Slashing:
        """Slash up to `amount` of `provider`'s stake to the treasury, at most its bonded requirement
        per call (`preview_slash`)."""
        _positive(amount, "the slash amount")
        if len(reason.encode()) > 128:
            raise HubError("the slash reason is longer than 128 bytes", hint="shorten --reason")
        provider = address_arg(provider, "provider")
        result = self._send("slash", provider, amount, reason, action="slash")
        found = self._events(result, "Slashed", contract="StakeManager")
        if not found:  # the provider held nothing: the stake manager takes nothing and logs nothing
            return typed(
                result,
                Slashing,
                provider=provider,
                requested=amount,
                slashed=0,
                from_stake=0,
                from_unbonding=0,
                reason=reason,
            )
        slashed = found[0]["args"]
        return typed(
            result,
            Slashing,
            provider=slashed["account"],
            requested=slashed["requested"],
            slashed=slashed["slashed"],
            from_stake=slashed["fromStake"],
            from_unbonding=slashed["fromUnbonding"],
            reason=slashed["reason"],
        )

    # -- federators

    def set_stake_minimum(self, amount: int) -> StakeMinimumChange:
        result = self._send("setStakeMinimum", amount, action="set stake minimum")
        changed = self._event(result, "StakeMinimumUpdated")
        return typed(result, StakeMinimumChange, previous=changed["previous"], current=changed["current"])

    def create_domain(self, name: str, validation_logic: str | None = None, uri: str = "") -> DomainCreation:
        """Create a training domain. Validation defaults to the deployed WorkRateValidator."""
        if not name or len(name.encode()) > 64:
            raise HubError("a domain name has 1 to 64 bytes", hint="e.g. llama-tiny")
        if len(uri.encode()) > 256:
            raise HubError("the domain URI is longer than 256 bytes")
        logic = address_arg(validation_logic, "validation contract") if validation_logic else None
        logic = logic or self.client.deployment.address("WorkRateValidator")
        result = self._send("createDomain", name, logic, uri, action="create domain")
        created = self._event(result, "DomainCreated", contract="DomainRegistry")
        return typed(
            result,
            DomainCreation,
            domain_id=created["domainId"],
            name=created["name"],
            validation_logic=created["validationLogic"],
            uri=created["domainURI"],
        )

    # -- admin

    def grant_role(self, role: str, account: str) -> TxResult:
        return self._send("grantRole", role_id(role), address_arg(account), action=f"grant {role}")

    def revoke_role(self, role: str, account: str) -> TxResult:
        return self._send("revokeRole", role_id(role), address_arg(account), action=f"revoke {role}")

    def set_treasury(self, treasury: str) -> TreasuryChange:
        result = self._send("setTreasury", address_arg(treasury, "treasury"), action="set treasury")
        changed = self._event(result, "TreasuryUpdated")
        return typed(result, TreasuryChange, previous=changed["previous"], current=changed["current"])
