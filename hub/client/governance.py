"""Governance (docs/SPEC.md 12): proposals of allow-listed setter calls, stake-weighted votes, the
timelock. Calls are built here from what they change (`stake_minimum_call(2 * INJ)`), so no caller
encodes calldata by hand, and a proposal's calls are described back in words by `describe_call`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hub.amounts import format_inj
from hub.client.base import Connection, ContractBinding, SiblingReads, address_arg
from hub.client.results import ProposalCreation, ProposalQueued, VoteCast, VoteRecount, typed
from hub.errors import HubError

if TYPE_CHECKING:
    from hub.tx import TxResult

# @dev Proposal states, in the contract's numbering (Governance.vy, as OpenZeppelin's Governor).
STATES = ("pending", "active", "canceled", "defeated", "succeeded", "queued", "expired", "executed")
# @dev Vote choices, in the contract's numbering.
SUPPORT = ("against", "for", "abstain")
# @dev Most calls per proposal (Governance.MAX_CALLS).
MAX_CALLS = 8

_HUB_SIGNATURES = {
    "setStakeMinimum": "setStakeMinimum(uint256)",
    "setTreasury": "setTreasury(address)",
    "createDomain": "createDomain(string,address,string)",
    "grantRole": "grantRole(bytes32,address)",
    "revokeRole": "revokeRole(bytes32,address)",
}
_PARAMETERS_SIGNATURE = "setParameters(uint256,uint256,uint256,uint256,uint256)"


@dataclass(frozen=True)
class GovernanceParams:
    """Governance's own parameters (SPEC 12.4)."""

    voting_delay: int
    voting_period: int
    timelock_delay: int
    quorum_bps: int
    proposal_threshold: int


@dataclass(frozen=True)
class ProposedCall:
    """One call of a proposal, and what it does in words."""

    target: str
    data: bytes
    description: str


@dataclass(frozen=True)
class Proposal:
    id: int
    proposer: str
    state: str
    vote_start: int
    vote_end: int
    eta: int
    quorum: int
    for_votes: int
    against_votes: int
    abstain_votes: int
    calls: list[ProposedCall] = field(default_factory=list)

    @property
    def quorum_reached(self) -> bool:
        return self.for_votes + self.abstain_votes >= self.quorum


def parse_support(text: str) -> int:
    """0, 1 or 2 from `against`, `for` or `abstain` (any case)."""
    key = text.strip().lower()
    if key not in SUPPORT:
        raise HubError(f"invalid vote {text!r}", hint="vote for, against or abstain")
    return SUPPORT.index(key)


class GovernanceContract(ContractBinding):
    NAME = "Governance"

    def __init__(self, client: Connection, reads: SiblingReads | None = None) -> None:
        if self.NAME not in client.deployment.contracts:
            raise HubError(
                f"the deployment on chain {client.deployment.chain_id} has no governance",
                hint="`hub deploy --governance` deploys it and hands it the admin and federator powers",
            )
        super().__init__(client, reads)

    # -- building calls (each is checked by the contract's allow-list at propose time)

    def _hub_call(self, name: str, args: list[Any], description: str) -> ProposedCall:
        from eth_abi import encode
        from eth_utils import function_signature_to_4byte_selector

        signature = _HUB_SIGNATURES[name]
        types = signature[signature.index("(") + 1 : -1].split(",")
        data = function_signature_to_4byte_selector(signature) + encode(types, args)
        return ProposedCall(self.client.deployment.address("InjectiveAiHub"), data, description)

    def stake_minimum_call(self, amount: int) -> ProposedCall:
        return self._hub_call("setStakeMinimum", [amount], f"set the stake minimum to {format_inj(amount)} per unit")

    def treasury_call(self, treasury: str) -> ProposedCall:
        treasury = address_arg(treasury, "treasury")
        return self._hub_call("setTreasury", [treasury], f"set the treasury to {treasury}")

    def create_domain_call(self, name: str, validation: str, uri: str) -> ProposedCall:
        validation = address_arg(validation, "validation contract")
        return self._hub_call("createDomain", [name, validation, uri], f"create domain {name!r} ({validation})")

    def role_call(self, grant: bool, role: str, account: str) -> ProposedCall:
        from hub.inputs import role_id

        account = address_arg(account)
        if role not in ("federator", "validator"):
            raise HubError(
                f"a proposal cannot grant or revoke the {role} role", hint="only federator and validator (SPEC 12.2)"
            )
        verb = "grant" if grant else "revoke"
        return self._hub_call(
            f"{verb}Role", [role_id(role), account], f"{verb} {role} {'to' if grant else 'from'} {account}"
        )

    def parameters_call(self, params: GovernanceParams) -> ProposedCall:
        from eth_abi import encode
        from eth_utils import function_signature_to_4byte_selector

        values = [
            params.voting_delay,
            params.voting_period,
            params.timelock_delay,
            params.quorum_bps,
            params.proposal_threshold,
        ]
        data = function_signature_to_4byte_selector(_PARAMETERS_SIGNATURE) + encode(["uint256"] * 5, values)
        text = (
            f"set governance parameters: voting delay {params.voting_delay} s, voting period {params.voting_period} s, "
            f"timelock {params.timelock_delay} s, quorum {params.quorum_bps / 100:g}%, "
            f"proposal threshold {format_inj(params.proposal_threshold)}"
        )
        return ProposedCall(self.address, data, text)

    def describe_call(self, target: str, data: bytes) -> str:
        """What a stored call does, in the words the builders above use."""
        from eth_abi import decode
        from eth_utils import function_signature_to_4byte_selector, keccak

        selector, args = bytes(data[:4]), bytes(data[4:])
        if target == self.address and selector == function_signature_to_4byte_selector(_PARAMETERS_SIGNATURE):
            return self.parameters_call(GovernanceParams(*decode(["uint256"] * 5, args))).description
        for name, signature in _HUB_SIGNATURES.items():
            if selector != function_signature_to_4byte_selector(signature):
                continue
            values = decode(signature[signature.index("(") + 1 : -1].split(","), args)
            if name == "setStakeMinimum":
                return self.stake_minimum_call(values[0]).description
            if name == "setTreasury":
                return self.treasury_call(values[0]).description
            if name == "createDomain":
                return self.create_domain_call(*values).description
            role = "federator" if values[0] == keccak(text="FEDERATOR_ROLE") else "validator"
            return self.role_call(name == "grantRole", role, values[1]).description
        return f"call {target} with 0x{bytes(data).hex()}"

    # -- reads

    def params(self) -> GovernanceParams:
        return GovernanceParams(
            self._read("votingDelay"),
            self._read("votingPeriod"),
            self._read("timelockDelay"),
            self._read("quorumBps"),
            self._read("proposalThreshold"),
        )

    def proposal_count(self) -> int:
        return self._read("proposalCount")

    def guardian(self) -> tuple[str, int]:
        """(guardian address, last second it may cancel, exclusive)."""
        return self._read("GUARDIAN"), self._read("GUARDIAN_UNTIL")

    def proposal(self, proposal_id: int) -> Proposal:
        if not 1 <= proposal_id <= self.proposal_count():
            raise HubError(f"no proposal {proposal_id}", hint="`hub gov show` lists the proposals")
        record = self._read("getProposal", proposal_id)
        proposer, vote_start, vote_end, eta, quorum, for_votes, against, abstain = record[:8]
        calls = [
            ProposedCall(t, bytes(d), self.describe_call(t, bytes(d))) for t, d in self._read("getCalls", proposal_id)
        ]
        return Proposal(
            id=proposal_id,
            proposer=proposer,
            state=STATES[self._read("state", proposal_id)],
            vote_start=vote_start,
            vote_end=vote_end,
            eta=eta,
            quorum=quorum,
            for_votes=for_votes,
            against_votes=against,
            abstain_votes=abstain,
            calls=calls,
        )

    def vote_of(self, proposal_id: int, voter: str) -> tuple[str, int] | None:
        """(support, weight) of `voter`'s counted vote, or None (no vote, or recounted to zero)."""
        support, weight = self._read("voteOf", proposal_id, address_arg(voter))
        return (SUPPORT[support], weight) if weight else None

    # -- transactions

    def propose(self, calls: list[ProposedCall], description: str) -> ProposalCreation:
        """Propose `calls`."""
        if not calls:
            raise HubError("a proposal needs at least one change", hint="e.g. --set-stake-minimum 2")
        if len(calls) > MAX_CALLS:
            raise HubError(f"a proposal holds at most {MAX_CALLS} changes, got {len(calls)}", hint="split it in two")
        threshold = self.params().proposal_threshold
        stake = self.reads.stake_of(self.client.address)
        if stake == 0 or stake < threshold:
            raise HubError(
                f"proposing needs {format_inj(max(threshold, 1))} of active stake; {self.client.address} has "
                f"{format_inj(stake)}",
                hint="stake more with `hub provider stake add AMOUNT`",
            )
        result = self._send("propose", [(c.target, c.data) for c in calls], description, action="propose")
        created = self._event(result, "ProposalCreated")
        return typed(
            result,
            ProposalCreation,
            proposal_id=created["proposalId"],
            proposer=created["proposer"],
            vote_start=created["voteStart"],
            vote_end=created["voteEnd"],
            quorum=created["quorum"],
        )

    def vote(self, proposal_id: int, support: int) -> VoteCast:
        """Vote with the signer's active stake; the result has the weight counted."""
        proposal = self.proposal(proposal_id)
        if proposal.state == "pending":
            wait = max(proposal.vote_start - self.client.now(), 0)
            raise HubError(f"voting on proposal {proposal_id} opens in {wait} s", hint="vote then")
        if proposal.state != "active":
            raise HubError(f"proposal {proposal_id} is {proposal.state}: voting is closed")
        result = self._send("castVote", proposal_id, support, action="vote")
        cast = self._event(result, "VoteCast")
        return typed(
            result,
            VoteCast,
            proposal_id=cast["proposalId"],
            voter=cast["voter"],
            support=SUPPORT[cast["support"]],
            weight=cast["weight"],
        )

    def recount(self, proposal_id: int, voter: str) -> VoteRecount:
        """Lower `voter`'s vote to its active stake after a slash."""
        result = self._send("recount", proposal_id, address_arg(voter, "voter"), action="recount")
        recounted = self._event(result, "VoteRecounted")
        return typed(
            result,
            VoteRecount,
            proposal_id=recounted["proposalId"],
            voter=recounted["voter"],
            previous_weight=recounted["previousWeight"],
            weight=recounted["weight"],
        )

    def queue(self, proposal_id: int) -> ProposalQueued:
        """Queue a succeeded proposal; the result has its eta (chain time)."""
        proposal = self.proposal(proposal_id)
        if proposal.state == "active":
            wait = max(proposal.vote_end - self.client.now(), 0)
            raise HubError(f"proposal {proposal_id} is still being voted on for {wait} s", hint="queue it after that")
        if proposal.state != "succeeded":
            raise HubError(
                f"proposal {proposal_id} is {proposal.state}, not succeeded",
                hint="only a proposal with quorum and more for than against votes can be queued",
            )
        result = self._send("queue", proposal_id, action="queue")
        queued = self._event(result, "ProposalQueued")
        return typed(result, ProposalQueued, proposal_id=queued["proposalId"], eta=queued["eta"])

    def execute(self, proposal_id: int) -> TxResult:
        """Run a queued proposal's calls once its timelock delay has passed."""
        proposal = self.proposal(proposal_id)
        if proposal.state != "queued":
            raise HubError(f"proposal {proposal_id} is {proposal.state}, not queued", hint="`hub gov queue ID` first")
        wait = proposal.eta - self.client.now()
        if wait > 0:
            raise HubError(f"proposal {proposal_id} is in the timelock for {wait} s more", hint="execute it after that")
        return self._send("execute", proposal_id, action="execute")

    def cancel(self, proposal_id: int) -> TxResult:
        """Cancel: the proposer while pending, the guardian while queued (until its deadline)."""
        self.proposal(proposal_id)
        return self._send("cancel", proposal_id, action="cancel")
