# pragma version 0.4.3
# pragma evm-version prague
# pragma nonreentrancy on
"""
@title Governance
@license MIT
@notice Governor and timelock in one contract (one contract on purpose: the proposal that was
        voted is the one that runs, with no second queue to keep in step). Providers propose
        batches of calls to an allow-list of the system's own setters, vote with their active
        stake, and anyone queues a proposal that reached quorum and majority, then executes it
        after the timelock delay. After `hub deploy --governance` this contract holds the hub's
        DEFAULT_ADMIN and FEDERATOR roles and no key does (docs/SPEC.md 12).
@custom:security Voting power is the voter's active stake at its vote; the vote locks that stake
        from unbonding until the vote ends (StakeManager.lockForVote), so it cannot leave and vote
        again from another account, and `recount` lowers a vote to the voter's active stake after
        a slash (SPEC 12.3). Proposals can only call the setters in SPEC 12.2 (role grants and
        revocations only for the federator and validator roles); anything else is refused at
        propose time, so exits (withdraw, claim, refund) never depend on governance. The
        guardian, if any, may only cancel queued proposals, and only until GUARDIAN_UNTIL.
"""

from interfaces import IGovernance
from interfaces import IStakeManager

implements: IGovernance

# @dev At most this many calls per proposal; `execute` loops over at most this many.
MAX_CALLS: public(constant(uint256)) = 8

# @dev Ceiling of the voting delay and the timelock delay: a proposal runs within two months.
MAX_DELAY: public(constant(uint256)) = 30 * 86400

# @dev A queued proposal not executed within this long after its eta expires (stale decisions do
#      not run months later against a changed system).
GRACE_PERIOD: public(constant(uint256)) = 14 * 86400

# @dev Basis points of a whole (quorum is quorumBps / 10,000 of the stake in custody).
_BPS: constant(uint256) = 10_000

# @dev Proposal states, numbered as in OpenZeppelin's Governor so indexers read them alike.
PENDING: constant(uint8) = 0
ACTIVE: constant(uint8) = 1
CANCELED: constant(uint8) = 2
DEFEATED: constant(uint8) = 3
SUCCEEDED: constant(uint8) = 4
QUEUED: constant(uint8) = 5
EXPIRED: constant(uint8) = 6
EXECUTED: constant(uint8) = 7

# @dev Vote choices.
VOTE_AGAINST: constant(uint8) = 0
VOTE_FOR: constant(uint8) = 1
VOTE_ABSTAIN: constant(uint8) = 2

# @dev The hub's role ids that proposals may grant or revoke (never DEFAULT_ADMIN).
_FEDERATOR_ROLE: constant(bytes32) = keccak256("FEDERATOR_ROLE")
_VALIDATOR_ROLE: constant(bytes32) = keccak256("VALIDATOR_ROLE")

# @dev The allow-list (SPEC 12.2): hub setters, then governance's own.
_SET_STAKE_MINIMUM: constant(bytes4) = method_id("setStakeMinimum(uint256)", output_type=bytes4)
_SET_TREASURY: constant(bytes4) = method_id("setTreasury(address)", output_type=bytes4)
_CREATE_DOMAIN: constant(bytes4) = method_id("createDomain(string,address,string)", output_type=bytes4)
_GRANT_ROLE: constant(bytes4) = method_id("grantRole(bytes32,address)", output_type=bytes4)
_REVOKE_ROLE: constant(bytes4) = method_id("revokeRole(bytes32,address)", output_type=bytes4)
_SET_PARAMETERS: constant(bytes4) = method_id(
    "setParameters(uint256,uint256,uint256,uint256,uint256)", output_type=bytes4
)

# @dev The InjectiveAiHub whose setters proposals call.
HUB: public(immutable(address))

# @dev The StakeManager: voting power is its active stake, and it holds the vote locks.
STAKE_MANAGER: public(immutable(address))

# @dev The StakeManager's unbonding period; the voting period stays shorter (SPEC 12.3).
UNBONDING_PERIOD: public(immutable(uint256))

# @dev May cancel queued proposals until GUARDIAN_UNTIL; the zero address means no guardian.
GUARDIAN: public(immutable(address))

# @dev The last second (exclusive) at which the guardian may cancel.
GUARDIAN_UNTIL: public(immutable(uint256))

# @dev Seconds from propose to the start of voting.
votingDelay: public(uint256)

# @dev Seconds voting lasts.
votingPeriod: public(uint256)

# @dev Seconds from queue to the earliest execution.
timelockDelay: public(uint256)

# @dev Quorum in basis points of the stake in custody when a proposal is made.
quorumBps: public(uint256)

# @dev Active stake a proposer needs.
proposalThreshold: public(uint256)

# @dev Number of proposals made; ids are 1..proposalCount.
proposalCount: public(uint256)

# @dev proposalId => its record.
_proposals: HashMap[uint256, IGovernance.Proposal]

# @dev proposalId => its calls, as proposed.
_calls: HashMap[uint256, DynArray[IGovernance.Call, MAX_CALLS]]

# @dev proposalId => voter => weight (bits 0-127) | (support + 1) << 128; 0 means no vote.
_receipts: HashMap[uint256, HashMap[address, uint256]]


@deploy
def __init__(
    hub: address,
    stakeManager: address,
    votingDelay_: uint256,
    votingPeriod_: uint256,
    timelockDelay_: uint256,
    quorumBps_: uint256,
    proposalThreshold_: uint256,
    guardian: address,
    guardianPeriod: uint256,
):
    """
    @param hub The InjectiveAiHub.
    @param stakeManager The hub's StakeManager.
    @param votingDelay_ Seconds from propose to voting, at most MAX_DELAY.
    @param votingPeriod_ Seconds of voting, > 0 and shorter than the unbonding period.
    @param timelockDelay_ Seconds from queue to execution, 1..MAX_DELAY.
    @param quorumBps_ Quorum in basis points of the stake in custody, 1..10,000.
    @param proposalThreshold_ Active stake a proposer needs (wei).
    @param guardian Who may cancel queued proposals (zero: nobody).
    @param guardianPeriod Seconds from deployment during which the guardian may cancel.
    """
    assert hub != empty(address) and stakeManager != empty(address), "Governance: zero address"
    assert staticcall IStakeManager(stakeManager).HUB() == hub, "Governance: stake manager belongs to another hub"
    HUB = hub
    STAKE_MANAGER = stakeManager
    UNBONDING_PERIOD = staticcall IStakeManager(stakeManager).UNBONDING_PERIOD()
    GUARDIAN = guardian
    GUARDIAN_UNTIL = block.timestamp + guardianPeriod if guardian != empty(address) else 0
    self._set_parameters(votingDelay_, votingPeriod_, timelockDelay_, quorumBps_, proposalThreshold_)


# ---------------------------------------------------------------------------------------------
# Proposal life cycle
# ---------------------------------------------------------------------------------------------

@external
def propose(calls: DynArray[IGovernance.Call, MAX_CALLS], description: String[1024]) -> uint256:
    """
    @notice Propose a batch of calls. Each must be on the allow-list (SPEC 12.2). The caller
            needs at least `proposalThreshold` active stake. Voting starts after `votingDelay`.
    @param calls One to MAX_CALLS calls, run in order by `execute`.
    @param description What the proposal does, for voters (kept in the event only).
    @return The new proposal's id.
    """
    assert len(calls) > 0, "Governance: a proposal needs at least one call"
    stake: uint256 = staticcall IStakeManager(STAKE_MANAGER).stakeOf(msg.sender)
    assert stake > 0 and stake >= self.proposalThreshold, "Governance: proposer stake below the threshold"
    for call: IGovernance.Call in calls:
        assert self._is_allowed(call), "Governance: call not on the allow-list"
    proposal_id: uint256 = self.proposalCount + 1
    self.proposalCount = proposal_id
    vote_start: uint256 = block.timestamp + self.votingDelay
    vote_end: uint256 = vote_start + self.votingPeriod
    # what the StakeManager holds for stakers: active stake and pending unbonds (it cannot tell
    # them apart without a counter on every stake change); rounds up, against the proposal
    custody: uint256 = STAKE_MANAGER.balance - staticcall IStakeManager(STAKE_MANAGER).slashedPending()
    quorum: uint256 = (custody * self.quorumBps + _BPS - 1) // _BPS
    self._proposals[proposal_id] = IGovernance.Proposal(
        proposer=msg.sender,
        voteStart=vote_start,
        voteEnd=vote_end,
        eta=0,
        quorum=quorum,
        forVotes=0,
        againstVotes=0,
        abstainVotes=0,
        queued=False,
        executed=False,
        canceled=False,
    )
    self._calls[proposal_id] = calls
    log IGovernance.ProposalCreated(
        proposalId=proposal_id,
        proposer=msg.sender,
        voteStart=vote_start,
        voteEnd=vote_end,
        quorum=quorum,
        calls=calls,
        description=description,
    )
    return proposal_id


@external
def castVote(proposalId: uint256, support: uint8) -> uint256:
    """
    @notice Vote with your whole active stake. Locks that stake from unbonding until the vote ends
            (SPEC 12.3); adding stake later does not add to the vote.
    @param proposalId The proposal, which must be ACTIVE.
    @param support 0 against, 1 for, 2 abstain.
    @return The weight counted.
    """
    assert self._state(proposalId) == ACTIVE, "Governance: voting is not open"
    assert support <= VOTE_ABSTAIN, "Governance: support must be 0 (against), 1 (for) or 2 (abstain)"
    assert self._receipts[proposalId][msg.sender] == 0, "Governance: already voted"
    weight: uint256 = staticcall IStakeManager(STAKE_MANAGER).stakeOf(msg.sender)
    assert weight > 0, "Governance: no active stake to vote with"
    # weight < 2**128 (the StakeManager stores stakes in 128 bits); support + 1 is 1..3
    self._receipts[proposalId][msg.sender] = weight | (convert(support + 1, uint256) << 128)
    self._add(proposalId, support, weight)
    extcall IStakeManager(STAKE_MANAGER).lockForVote(msg.sender, self._proposals[proposalId].voteEnd)
    log IGovernance.VoteCast(voter=msg.sender, proposalId=proposalId, support=support, weight=weight)
    return weight


@external
def recount(proposalId: uint256, voter: address) -> uint256:
    """
    @notice Lower `voter`'s vote to its active stake now, if a slash took stake it voted with.
            Anyone may call, while voting is open (SPEC 12.3: slashed stake does not vote).
    @param proposalId The proposal, which must be ACTIVE.
    @param voter Who voted.
    @return The vote's new weight.
    """
    assert self._state(proposalId) == ACTIVE, "Governance: voting is not open"
    receipt: uint256 = self._receipts[proposalId][voter]
    assert receipt != 0, "Governance: no vote to recount"
    weight: uint256 = receipt & (2**128 - 1)
    stake: uint256 = staticcall IStakeManager(STAKE_MANAGER).stakeOf(voter)
    assert stake < weight, "Governance: the vote is still backed by active stake"
    support: uint8 = convert((receipt >> 128) - 1, uint8)
    # stake < weight: the stored weight is positive and the new one smaller, so the receipt stays non-zero
    self._receipts[proposalId][voter] = stake | ((receipt >> 128) << 128)
    self._sub(proposalId, support, unsafe_sub(weight, stake))
    log IGovernance.VoteRecounted(voter=voter, proposalId=proposalId, previousWeight=weight, weight=stake)
    return stake


@external
def queue(proposalId: uint256) -> uint256:
    """
    @notice Put a SUCCEEDED proposal (quorum and majority reached, voting over) in the timelock.
            Anyone may call.
    @param proposalId The proposal.
    @return The eta: the first second it may be executed.
    """
    assert self._state(proposalId) == SUCCEEDED, "Governance: proposal has not succeeded"
    eta: uint256 = block.timestamp + self.timelockDelay
    self._proposals[proposalId].eta = eta
    self._proposals[proposalId].queued = True
    log IGovernance.ProposalQueued(proposalId=proposalId, eta=eta)
    return eta


@external
def execute(proposalId: uint256):
    """
    @notice Run a QUEUED proposal's calls, in order, once its eta has come. Anyone may call. If one
            call reverts, the whole execution reverts with its reason and can be retried.
    @param proposalId The proposal.
    """
    assert self._state(proposalId) == QUEUED, "Governance: proposal is not queued"
    assert block.timestamp >= self._proposals[proposalId].eta, "Governance: timelock delay has not passed"
    self._proposals[proposalId].executed = True
    log IGovernance.ProposalExecuted(proposalId=proposalId, executor=msg.sender)
    for call: IGovernance.Call in self._calls[proposalId]:
        # every call was checked against the allow-list at propose time and calls are never edited
        raw_call(call.target, call.data)


@external
def cancel(proposalId: uint256):
    """
    @notice Cancel a proposal: its proposer may while it is PENDING (before voting starts); the
            guardian may while it is QUEUED, until GUARDIAN_UNTIL. Nobody else, never otherwise.
    @param proposalId The proposal.
    """
    state: uint8 = self._state(proposalId)
    by_proposer: bool = msg.sender == self._proposals[proposalId].proposer and state == PENDING
    if not by_proposer:
        assert msg.sender == GUARDIAN and msg.sender != empty(address), (
            "Governance: only the proposer before voting or the guardian while queued may cancel"
        )
        assert state == QUEUED, "Governance: the guardian may cancel only queued proposals"
        assert block.timestamp < GUARDIAN_UNTIL, "Governance: the guardian's cancel period is over"
    self._proposals[proposalId].canceled = True
    log IGovernance.ProposalCanceled(proposalId=proposalId, canceller=msg.sender)


@external
@reentrant
def setParameters(
    votingDelay_: uint256,
    votingPeriod_: uint256,
    timelockDelay_: uint256,
    quorumBps_: uint256,
    proposalThreshold_: uint256,
):
    """
    @notice Change governance's own parameters. Only this contract, by an executed proposal.
            Proposals already made keep their voting window and quorum; the new timelock delay
            applies to proposals queued from now on.
    @dev Reentrant on purpose: `execute` calls it on this contract while holding the lock. It makes
         no external call.
    @param votingDelay_ Seconds from propose to voting, at most MAX_DELAY.
    @param votingPeriod_ Seconds of voting, > 0 and shorter than the unbonding period.
    @param timelockDelay_ Seconds from queue to execution, 1..MAX_DELAY.
    @param quorumBps_ Quorum in basis points, 1..10,000.
    @param proposalThreshold_ Active stake a proposer needs (wei).
    """
    assert msg.sender == self, "Governance: only an executed proposal may change parameters"
    self._set_parameters(votingDelay_, votingPeriod_, timelockDelay_, quorumBps_, proposalThreshold_)


# ---------------------------------------------------------------------------------------------
# Views
# ---------------------------------------------------------------------------------------------

@external
@view
def state(proposalId: uint256) -> uint8:
    """
    @notice A proposal's state: 0 pending, 1 active, 2 canceled, 3 defeated, 4 succeeded,
            5 queued, 6 expired, 7 executed.
    @param proposalId The proposal.
    @return The state.
    """
    return self._state(proposalId)


@external
@view
def isAllowed(call: IGovernance.Call) -> bool:
    """
    @notice Whether `propose` would accept `call` (SPEC 12.2).
    @param call A target and its calldata.
    @return True if it is on the allow-list.
    """
    return self._is_allowed(call)


@external
@view
def getProposal(proposalId: uint256) -> IGovernance.Proposal:
    """
    @notice A proposal's record.
    @param proposalId The proposal.
    @return Its record (all zero for an unknown id).
    """
    return self._proposals[proposalId]


@external
@view
def getCalls(proposalId: uint256) -> DynArray[IGovernance.Call, MAX_CALLS]:
    """
    @notice A proposal's calls, as proposed.
    @param proposalId The proposal.
    @return The calls (empty for an unknown id).
    """
    return self._calls[proposalId]


@external
@view
def voteOf(proposalId: uint256, voter: address) -> (uint8, uint256):
    """
    @notice How `voter` voted and with what weight (after recounts).
    @param proposalId The proposal.
    @param voter The voter.
    @return (support, weight); weight 0 means no vote.
    """
    receipt: uint256 = self._receipts[proposalId][voter]
    if receipt == 0:
        return 0, 0
    return convert((receipt >> 128) - 1, uint8), receipt & (2**128 - 1)


# ---------------------------------------------------------------------------------------------
# Internals
# ---------------------------------------------------------------------------------------------

@internal
@view
def _state(proposal_id: uint256) -> uint8:
    """@dev The state of a proposal; reverts for an unknown id."""
    assert proposal_id > 0 and proposal_id <= self.proposalCount, "Governance: unknown proposal"
    p: IGovernance.Proposal = self._proposals[proposal_id]
    if p.canceled:
        return CANCELED
    if p.executed:
        return EXECUTED
    if block.timestamp < p.voteStart:
        return PENDING
    if block.timestamp < p.voteEnd:
        return ACTIVE
    if p.forVotes + p.abstainVotes < p.quorum or p.forVotes <= p.againstVotes:
        return DEFEATED
    if not p.queued:
        return SUCCEEDED
    if block.timestamp >= p.eta + GRACE_PERIOD:
        return EXPIRED
    return QUEUED


@internal
@view
def _is_allowed(call: IGovernance.Call) -> bool:
    """@dev The allow-list of SPEC 12.2, including the role and account checks of grant / revoke."""
    if len(call.data) < 4:
        return False
    selector: bytes4 = convert(slice(call.data, 0, 4), bytes4)
    if call.target == self:
        return selector == _SET_PARAMETERS
    if call.target != HUB:
        return False
    if selector == _SET_STAKE_MINIMUM or selector == _SET_TREASURY or selector == _CREATE_DOMAIN:
        return True
    if selector != _GRANT_ROLE and selector != _REVOKE_ROLE:
        return False
    # exactly (bytes32 role, address account): the words checked below are the ones the hub reads
    if len(call.data) != 68:
        return False
    role: bytes32 = extract32(call.data, 4)
    if role != _FEDERATOR_ROLE and role != _VALIDATOR_ROLE:
        return False
    # governance never revokes its own federator role: it would lose setStakeMinimum for good
    return not (selector == _REVOKE_ROLE and extract32(call.data, 36, output_type=address) == self)


@internal
def _set_parameters(
    voting_delay: uint256, voting_period: uint256, timelock_delay: uint256, quorum_bps: uint256, threshold: uint256
):
    """@dev Check the bounds of SPEC 12.4 and store the parameters."""
    assert voting_delay <= MAX_DELAY, "Governance: voting delay above MAX_DELAY"
    assert voting_period > 0 and voting_period < UNBONDING_PERIOD, (
        "Governance: voting period must be positive and shorter than the unbonding period"
    )
    assert timelock_delay > 0 and timelock_delay <= MAX_DELAY, "Governance: timelock delay must be 1..MAX_DELAY"
    assert quorum_bps > 0 and quorum_bps <= _BPS, "Governance: quorum must be 1..10000 basis points"
    self.votingDelay = voting_delay
    self.votingPeriod = voting_period
    self.timelockDelay = timelock_delay
    self.quorumBps = quorum_bps
    self.proposalThreshold = threshold
    log IGovernance.ParametersUpdated(
        votingDelay=voting_delay,
        votingPeriod=voting_period,
        timelockDelay=timelock_delay,
        quorumBps=quorum_bps,
        proposalThreshold=threshold,
    )


@internal
def _add(proposal_id: uint256, support: uint8, weight: uint256):
    """@dev Add `weight` to the tally of `support`."""
    if support == VOTE_FOR:
        self._proposals[proposal_id].forVotes += weight
    elif support == VOTE_AGAINST:
        self._proposals[proposal_id].againstVotes += weight
    else:
        self._proposals[proposal_id].abstainVotes += weight


@internal
def _sub(proposal_id: uint256, support: uint8, weight: uint256):
    """@dev Take `weight` from the tally of `support` (it was added there by the same voter's vote)."""
    if support == VOTE_FOR:
        self._proposals[proposal_id].forVotes -= weight
    elif support == VOTE_AGAINST:
        self._proposals[proposal_id].againstVotes -= weight
    else:
        self._proposals[proposal_id].abstainVotes -= weight
