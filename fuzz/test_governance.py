"""Governance under arbitrary call orders (docs/SPEC.md 12, Rules R20-R24).

A state machine of its own: a system whose admin and federator powers were handed to Governance
(SPEC 12.1), providers and spare accounts that propose, vote, recount, queue, execute and cancel,
and adversary moves during votes: unbond, slash, withdraw, sweep the slashed INJ, and stake again
from another account. The ghost below states the rules from the SPEC section, not from the
contract: a vote weighs the voter's active stake at the vote (the ghost tracks stakes from the
deposits, unbonds and slashes it made), a voter cannot unbond before the vote ends, a proposal
succeeds only with quorum (for + abstain >= ceil(bps x stake in custody at propose time)) and
majority (for > against), executes only queued and at or after its eta, and changes exactly the
setter it names. Failures are tagged `[rule:R2x]` or `[call:<name>]` for fuzz/mutants.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

import boa
from boa.contracts.base_evm_contract import BoaError
from eth_abi import decode, encode
from eth_utils import function_signature_to_4byte_selector as selector
from eth_utils import keccak
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from fuzz.profiles import machine_settings
from fuzz.system import deploy
from hub.contracts import INJ, SystemParams
from hub.paths import contracts_dir

UNBONDING = 1_000
GRACE = 14 * 86400
ADMIN_ROLE = b"\x00" * 32
FEDERATOR_ROLE = keccak(text="FEDERATOR_ROLE")
VALIDATOR_ROLE = keccak(text="VALIDATOR_ROLE")
KNOWN_ROLES = (ADMIN_ROLE, FEDERATOR_ROLE, VALIDATOR_ROLE)
PENDING, ACTIVE, CANCELED, DEFEATED, SUCCEEDED, QUEUED, EXPIRED, EXECUTED = range(8)
STATE_NAMES = ("pending", "active", "canceled", "defeated", "succeeded", "queued", "expired", "executed")


def _actor(label: str) -> str:
    return boa.env.generate_address(f"gov-fuzz-{label}")


@cache
def _actors() -> dict[str, Any]:
    return {
        "admin": _actor("admin"),
        "federator": _actor("federator"),
        "validator": _actor("validator"),
        "treasury": _actor("treasury"),
        "treasury2": _actor("treasury2"),
        "guardian": _actor("guardian"),
        "attacker": _actor("attacker"),
        "providers": [_actor(f"provider-{i}") for i in range(3)],
        "spares": [_actor(f"spare-{i}") for i in range(2)],
    }


@cache
def _governance_deployer(root: str) -> Any:
    from boa.interpret import set_search_paths

    previous = boa.interpret._search_path
    set_search_paths([root])
    try:
        return boa.load_partial(f"{root}/governance/Governance.vy")
    finally:
        set_search_paths(previous)


def _reason(err: BoaError) -> str:
    output = bytes(err.call_trace.computation.output or b"")
    if output[:4] == bytes.fromhex("08c379a0"):
        return decode(["string"], output[4:])[0]
    return f"<no reason: 0x{output.hex()}>"


def fail(tag: str, message: str) -> None:
    raise AssertionError(f"[{tag}] {message}")


def _call(target: str, signature: str, types: list[str], args: list) -> tuple[str, bytes]:
    return (target, selector(signature) + encode(types, args))


@dataclass
class GhostProposal:
    proposer: str
    start: int
    end: int
    quorum: int
    # @dev what it changes: ("min", wei), ("treasury", addr), ("grant" or "revoke", addr), ("params", tuple)
    change: tuple
    # @dev voter -> [support, counted weight, active stake at the vote]
    votes: dict[str, list[int]] = field(default_factory=dict)
    # @dev voter -> wei slashed from its active stake since it voted
    slashed_since: dict[str, int] = field(default_factory=dict)
    queued: bool = False
    eta: int = 0
    executed: bool = False
    canceled: bool = False

    def tally(self, support: int) -> int:
        return sum(w for s, w, _ in self.votes.values() if s == support)

    def state(self, now: int) -> int:
        """SPEC 12.4, in order."""
        if self.canceled:
            return CANCELED
        if self.executed:
            return EXECUTED
        if now < self.start:
            return PENDING
        if now < self.end:
            return ACTIVE
        for_, against, abstain = self.tally(1), self.tally(0), self.tally(2)
        if not (for_ + abstain >= self.quorum and for_ > against):
            return DEFEATED
        if not self.queued:
            return SUCCEEDED
        if now >= self.eta + GRACE:
            return EXPIRED
        return QUEUED


class GovernanceMachine(RuleBasedStateMachine):
    CI_EXAMPLES = 6
    CI_STEPS = 30

    # -- set-up: a system handed to governance (SPEC 12.1)

    @initialize(
        voting_delay=st.integers(0, 30),
        # Hypothesis favours the ends of a range; votes of a few seconds would close before anyone votes
        voting_period=st.sampled_from([60, 200, 600, UNBONDING - 1]),
        timelock=st.sampled_from([1, 30, 300]),
        quorum_bps=st.sampled_from([5_000, 1, 1_000, 2_000, 10_000]),  # half first: quorum binds
        threshold=st.integers(0, 5).map(lambda n: n * INJ),
        guardian_period=st.integers(0, 3_000),
        # stakes above the 1 INJ minimum, so voters have stake they could try to unbond
        stakes=st.lists(st.sampled_from([2, 5, 10, 30]).map(lambda n: n * INJ), min_size=3, max_size=3),
        # for the opening probes: a role outside the allow-list, and whom a slash hits during a vote
        odd_role=st.binary(min_size=32, max_size=32).filter(lambda r: r not in KNOWN_ROLES),
        slashed=st.integers(0, 2),
        slash_amount=st.integers(1, 3 * INJ),
    )
    def setup(
        self,
        voting_delay,
        voting_period,
        timelock,
        quorum_bps,
        threshold,
        guardian_period,
        stakes,
        odd_role,
        slashed,
        slash_amount,
    ) -> None:
        a = _actors()
        self.a = a
        for who in [a["admin"], a["federator"], a["validator"], a["attacker"], *a["providers"], *a["spares"]]:
            boa.env.set_balance(who, 10**6 * INJ)
        params = SystemParams(unbonding_period=UNBONDING, min_stake_per_compute_unit=INJ)
        self.s = deploy(a["admin"], a["federator"], a["validator"], params)
        hub, stake = self.s.hub, self.s.stake
        root = str(contracts_dir().resolve())
        with boa.env.prank(a["admin"]):
            hub.setTreasury(a["treasury"])
            self.gov = _governance_deployer(root).deploy(
                hub.address,
                stake.address,
                voting_delay,
                voting_period,
                timelock,
                quorum_bps,
                threshold,
                a["guardian"],
                guardian_period,
            )
            stake.setGovernance(self.gov.address)
            hub.grantRole(ADMIN_ROLE, self.gov.address)
            hub.grantRole(FEDERATOR_ROLE, self.gov.address)
            hub.revokeRole(FEDERATOR_ROLE, a["federator"])
            hub.renounceRole(ADMIN_ROLE, a["admin"])
        self.params = [voting_delay, voting_period, timelock, quorum_bps, threshold]
        self.guardian_until = self.now + guardian_period
        self.min_stake = INJ
        self.treasury = a["treasury"]
        self.validators = {a["validator"]}
        self.active: dict[str, int] = {}
        self.registered: set[str] = set()
        self.custody = 0
        self.lock: dict[str, int] = {}
        self.proposals: list[GhostProposal] = []
        for provider, amount in zip(a["providers"], stakes, strict=True):
            hub.registerProvider(sender=provider, value=amount)
            self._deposit(provider, amount)
        # Rules that a drawn order meets only by chance (a role outside the allow-list, a recount
        # after a slash, a tie, the guardian past its period...), tried in every example before
        # the drawn steps.
        self._probe_allow_list(odd_role)
        self._probe_life_cycle(slashed, slash_amount)

    def _probe_allow_list(self, odd_role: bytes) -> None:
        """Rule R20 (SPEC 12.2): a proposal that grants or revokes DEFAULT_ADMIN, or any role other
        than FEDERATOR_ROLE and VALIDATOR_ROLE, is refused at propose time, even from a proposer
        whose stake passes the threshold."""
        proposer = max(self.a["providers"], key=lambda v: self.active[v])
        if self.active[proposer] < self.params[4]:
            top_up = self.params[4] - self.active[proposer]
            self._run("increaseStake", None, lambda: self.s.hub.increaseStake(sender=proposer, value=top_up))
            self._deposit(proposer, top_up)
        hub, gov, attacker = self.s.hub.address, self.gov.address, self.a["attacker"]
        for role in (ADMIN_ROLE, odd_role):
            for kind, account in (("grant", attacker), ("revoke", gov), ("revoke", self.a["validator"])):
                refused = _call(hub, f"{kind}Role(bytes32,address)", ["bytes32", "address"], [role, account])
                self._propose_refused(proposer, ("min", self.min_stake), refused)

    def _probe_life_cycle(self, slashed: int, slash_amount: int) -> None:
        """Three proposals voted by every provider, each rule below tried once in every example.
        The first: the provider with the least stake for, the others abstain (SPEC 12.4: abstain
        counts towards quorum, so it passes; the largest stake is topped up first, so that the for
        vote alone misses quorum whatever quorumBps is drawn). The second: all for, then one voter is slashed and
        recounted (Rule R21: its tally drops to the voter's active stake). The third: all abstain
        (quorum met, but for does not exceed against, 0 = 0: defeated). Meanwhile a second vote
        and unbonds are refused (Rule R22); at voteEnd voting is closed; the first is queued,
        refused one second before its eta (Rule R23), and the guardian's cancel is refused at or
        after GUARDIAN_UNTIL (Rule R24)."""
        providers = self.a["providers"]
        largest = max(providers, key=lambda v: self.active[v])
        # the first proposal must reach quorum only through its abstentions, at every drawn quorum:
        # the largest provider's stake grows until ceil(bps x custody / 10,000) exceeds the smallest
        # stake, i.e. custody > 10,000 x smallest / bps (at bps = 1, about 300,000 INJ at most)
        needed = 10_000 * min(self.active[v] for v in providers) // self.params[3] + 1
        if needed > self.custody:
            top_up = needed - self.custody
            self._run("increaseStake", None, lambda: self.s.hub.increaseStake(sender=largest, value=top_up))
            self._deposit(largest, top_up)
        proposer = self._voters().index(largest)
        for _ in range(3):
            self.propose(who=proposer, change=("min", self.min_stake), bad=len(self._refused()))
        first, second, third = range(len(self.proposals) - 2, len(self.proposals) + 1)
        boa.env.time_travel(seconds=self.proposals[-1].start - self.now)
        smallest = min(providers, key=lambda v: self.active[v])
        for voter in providers:
            self._vote(first, voter, 1 if voter == smallest else 2)
            self._vote(second, voter, 1)
            self._vote(third, voter, 2)
        self._vote(second, providers[0], 0)
        for who in range(len(providers)):
            self.unbond(who, 50)
        voter = providers[slashed]
        self.slash(slashed, slash_amount)
        if self.active[voter] >= self.proposals[second - 1].votes[voter][1]:
            fail("call:slash", f"slashing {voter} by {slash_amount} left its active stake {self.active[voter]}")
        self._recount(second, voter)
        boa.env.time_travel(seconds=self.proposals[-1].end - self.now)
        self._vote(first, self.a["spares"][0], 1)
        for pid in (first, second, third):
            self._queue(pid)
        if not self.proposals[first - 1].queued:
            fail("rule:R23", f"proposal {first}, with for + abstain from all the stake and no against, was not queued")
        if self.proposals[first - 1].eta - 1 > self.now:
            boa.env.time_travel(seconds=self.proposals[first - 1].eta - 1 - self.now)
        self._execute(first)
        if self.proposals[second - 1].queued and self.now < self.guardian_until:
            self._cancel(second, self.a["guardian"])  # inside the period: allowed
        if self.guardian_until > self.now:
            boa.env.time_travel(seconds=self.guardian_until - self.now)
        self._cancel(first, self.a["guardian"])

    @property
    def now(self) -> int:
        return boa.env.evm.patch.timestamp

    def _deposit(self, account: str, amount: int) -> None:
        self.registered.add(account)
        self.active[account] = self.active.get(account, 0) + amount
        self.custody += amount

    def _run(self, name: str, expected: str | None, fn) -> Any:
        """Run `fn`; it must succeed when `expected` is None, else revert with exactly `expected`."""
        try:
            result = fn()
        except BoaError as err:
            reason = _reason(err)
            if expected is None:
                fail(f"call:{name}", f"reverted with {reason!r} at t={self.now}; the rules allow it")
            if reason != expected:
                fail(f"call:{name}", f"reverted with {reason!r}, the rules say {expected!r}")
            return None
        if expected is not None:
            fail(f"call:{name}", f"succeeded at t={self.now}; the rules say it reverts with {expected!r}")
        return result

    def _encode(self, change: tuple) -> tuple[str, bytes]:
        hub = self.s.hub.address
        kind, value = change
        if kind == "min":
            return _call(hub, "setStakeMinimum(uint256)", ["uint256"], [value])
        if kind == "treasury":
            return _call(hub, "setTreasury(address)", ["address"], [value])
        if kind in ("grant", "revoke"):
            return _call(hub, f"{kind}Role(bytes32,address)", ["bytes32", "address"], [VALIDATOR_ROLE, value])
        return _call(
            self.gov.address, "setParameters(uint256,uint256,uint256,uint256,uint256)", ["uint256"] * 5, list(value)
        )

    def _choose(self, pick: int, states: tuple[int, ...]) -> int | None:
        """A proposal id: three times in four one in `states` (if any), else any, so that both the
        allowed and the refused calls are tried."""
        if not self.proposals:
            return None
        now = self.now
        wanted = [i for i, p in enumerate(self.proposals, start=1) if p.state(now) in states]
        if wanted and pick % 4:
            return wanted[pick // 4 % len(wanted)]
        return pick % len(self.proposals) + 1

    def _refused(self) -> list[tuple[str, bytes]]:
        """Calls outside the allow-list of SPEC 12.2, each next to an allowed one."""
        hub, stake, gov = self.s.hub.address, self.s.stake.address, self.gov.address
        attacker = self.a["attacker"]
        return [
            _call(hub, "grantRole(bytes32,address)", ["bytes32", "address"], [ADMIN_ROLE, attacker]),
            _call(hub, "revokeRole(bytes32,address)", ["bytes32", "address"], [FEDERATOR_ROLE, gov]),
            _call(hub, "slash(address,uint256,string)", ["address", "uint256", "string"], [attacker, 1, "x"]),
            _call(stake, "withdraw()", [], []),
            _call(gov, "cancel(uint256)", ["uint256"], [1]),
            (attacker, b""),
        ]

    def _propose_refused(self, proposer: str, change: tuple, refused: tuple[str, bytes]) -> None:
        """Rule R20: a batch with a call outside the allow-list is refused, so that call is never made."""
        stake_now = self.active.get(proposer, 0)
        if stake_now > 0 and stake_now >= self.params[4]:
            expected = "Governance: call not on the allow-list"
        else:
            expected = "Governance: proposer stake below the threshold"
        batch = [self._encode(change), refused]
        self._run("propose", expected, lambda: self.gov.propose(batch, "", sender=proposer))
        if self.gov.proposalCount() != len(self.proposals):
            fail("rule:R20", "a batch with a refused call made a proposal")

    def _voters(self) -> list[str]:
        return self.a["providers"] + self.a["spares"]

    # -- proposals

    # `bad` below 6 (one time in three) adds a call from outside the allow-list (Rule R20)
    @rule(
        who=st.integers(0, 4),
        bad=st.integers(0, 17),
        change=st.one_of(
            st.tuples(st.just("min"), st.integers(0, 5 * INJ)),
            st.tuples(st.just("treasury"), st.sampled_from(["treasury", "treasury2"])),
            st.tuples(st.sampled_from(["grant", "revoke"]), st.sampled_from(["validator", "attacker"])),
            st.tuples(
                st.just("params"),
                st.tuples(
                    st.integers(0, 100),
                    st.integers(20, UNBONDING - 1),
                    st.integers(1, 300),
                    st.integers(1, 10_000),
                    st.integers(0, 5).map(lambda n: n * INJ),
                ),
            ),
        ),
    )
    def propose(self, who: int, change: tuple, bad: int) -> None:
        proposer = self._voters()[who]
        kind, value = change
        if kind in ("treasury", "grant", "revoke"):
            change = (kind, self.a[value])
        if bad < len(self._refused()):
            for refused in self._refused():
                self._propose_refused(proposer, change, refused)
            return
        stake = self.active.get(proposer, 0)
        expected = None if stake > 0 and stake >= self.params[4] else "Governance: proposer stake below the threshold"
        now = self.now
        pid = self._run("propose", expected, lambda: self.gov.propose([self._encode(change)], "", sender=proposer))
        if pid is None:
            return
        quorum = -(-self.params[3] * self.custody // 10_000)
        start = now + self.params[0]
        self.proposals.append(GhostProposal(proposer, start, start + self.params[1], quorum, change))
        if pid != len(self.proposals):
            fail("call:propose", f"returned id {pid}, expected {len(self.proposals)}")
        p = self.gov.getProposal(pid)
        if (p.voteStart, p.voteEnd, p.quorum) != (start, start + self.params[1], quorum):
            fail(
                "rule:R23",
                f"proposal {pid} window/quorum {(p.voteStart, p.voteEnd, p.quorum)}, "
                f"SPEC 12.4 says {(start, start + self.params[1], quorum)}",
            )

    # one choice per voter (None: does not vote); "for" twice as likely, so that some proposals pass
    @rule(pick=st.integers(0, 2**16), choices=st.lists(st.sampled_from([None, 0, 1, 1, 2]), min_size=5, max_size=5))
    def vote(self, pick: int, choices: list[int | None]) -> None:
        pid = self._choose(pick, (ACTIVE,))
        if pid is None:
            return
        for voter, support in zip(self._voters(), choices, strict=True):
            if support is not None:
                self._vote(pid, voter, support)

    def _vote(self, pid: int, voter: str, support: int) -> None:
        p = self.proposals[pid - 1]
        weight = self.active.get(voter, 0)
        if p.state(self.now) != ACTIVE:
            expected = "Governance: voting is not open"
        elif voter in p.votes:
            expected = "Governance: already voted"
        elif weight == 0:
            expected = "Governance: no active stake to vote with"
        else:
            expected = None
        result = self._run("castVote", expected, lambda: self.gov.castVote(pid, support, sender=voter))
        if expected is None:
            if result != weight:
                fail("rule:R21", f"{voter} voted with {result}, its active stake is {weight}")
            p.votes[voter] = [support, weight, weight]
            p.slashed_since[voter] = 0
            self.lock[voter] = max(self.lock.get(voter, 0), p.end)

    @rule(who=st.integers(0, 4), pick=st.integers(0, 2**16))
    def recount(self, who: int, pick: int) -> None:
        pid = self._choose(pick, (ACTIVE,))
        if pid is not None:
            self._recount(pid, self._voters()[who])

    def _recount(self, pid: int, voter: str) -> None:
        p = self.proposals[pid - 1]
        stake = self.active.get(voter, 0)
        if p.state(self.now) != ACTIVE:
            expected = "Governance: voting is not open"
        elif voter not in p.votes:
            expected = "Governance: no vote to recount"
        elif stake >= p.votes[voter][1]:
            expected = "Governance: the vote is still backed by active stake"
        else:
            expected = None
        result = self._run("recount", expected, lambda: self.gov.recount(pid, voter, sender=self.a["attacker"]))
        if expected is None:
            if result != stake:
                fail("rule:R21", f"recount of {voter} gave {result}, its active stake is {stake}")
            support = p.votes[voter][0]
            p.votes[voter][1] = stake
            chain = self.gov.getProposal(pid)
            tally = (chain.againstVotes, chain.forVotes, chain.abstainVotes)[support]
            if tally != p.tally(support):
                fail("rule:R21", f"after recounting {voter}, proposal {pid} tallies {tally}, not {p.tally(support)}")

    @rule(pick=st.integers(0, 2**16))
    def queue(self, pick: int) -> None:
        pid = self._choose(pick, (SUCCEEDED,))
        if pid is not None:
            self._queue(pid)

    def _queue(self, pid: int) -> None:
        p = self.proposals[pid - 1]
        expected = None if p.state(self.now) == SUCCEEDED else "Governance: proposal has not succeeded"
        now = self.now
        eta = self._run("queue", expected, lambda: self.gov.queue(pid, sender=self.a["attacker"]))
        if expected is None:
            if eta != now + self.params[2]:
                fail("rule:R23", f"eta {eta}, SPEC 12.4 says now + timelock = {now + self.params[2]}")
            p.queued, p.eta = True, eta

    @rule(pick=st.integers(0, 2**16))
    def execute(self, pick: int) -> None:
        pid = self._choose(pick, (QUEUED,))
        if pid is not None:
            self._execute(pid)

    def _execute(self, pid: int) -> None:
        p = self.proposals[pid - 1]
        state = p.state(self.now)
        if state != QUEUED:
            expected = "Governance: proposal is not queued"
        elif self.now < p.eta:
            expected = "Governance: timelock delay has not passed"
        elif p.change[0] == "grant" and p.change[1] in self.validators:
            expected = "AccessControl: role already granted"  # the hub's own check, bubbled up
        elif p.change[0] == "revoke" and p.change[1] not in self.validators:
            expected = "AccessControl: role not held"
        else:
            expected = None
        before = self._observed()
        self._run("execute", expected, lambda: self.gov.execute(pid, sender=self.a["attacker"]))
        after = self._observed()
        if expected is None:
            p.executed = True
            kind, value = p.change
            if kind == "min":
                self.min_stake = value
            elif kind == "treasury":
                self.treasury = value
            elif kind == "grant":
                self.validators.add(value)
            elif kind == "revoke":
                self.validators.discard(value)
            else:
                self.params = list(value)
        if after != self._observed_ghost():
            fail(
                "rule:R20",
                f"execute({pid}) changed {before} -> {after}; "
                f"the proposal said {p.change if expected is None else 'nothing'}",
            )

    def _observed(self) -> tuple:
        hub, gov = self.s.hub, self.gov
        return (
            hub.minStakePerComputeUnit(),
            hub.treasury(),
            frozenset(w for w in (self.a["validator"], self.a["attacker"]) if hub.hasRole(VALIDATOR_ROLE, w)),
            (gov.votingDelay(), gov.votingPeriod(), gov.timelockDelay(), gov.quorumBps(), gov.proposalThreshold()),
        )

    def _observed_ghost(self) -> tuple:
        return (self.min_stake, self.treasury, frozenset(self.validators), tuple(self.params))

    @rule(pick=st.integers(0, 2**16), who=st.sampled_from(["proposer", "guardian", "attacker"]))
    def cancel(self, pick: int, who: str) -> None:
        pid = self._choose(pick, (PENDING, QUEUED))
        if pid is None:
            return
        sender = self.proposals[pid - 1].proposer if who == "proposer" else self.a[who]
        self._cancel(pid, sender)

    def _cancel(self, pid: int, sender: str) -> None:
        p = self.proposals[pid - 1]
        state = p.state(self.now)
        if sender == p.proposer and state == PENDING:
            expected = None
        elif sender != self.a["guardian"]:
            expected = "Governance: only the proposer before voting or the guardian while queued may cancel"
        elif state != QUEUED:
            expected = "Governance: the guardian may cancel only queued proposals"
        elif self.now >= self.guardian_until:
            expected = "Governance: the guardian's cancel period is over"
        else:
            expected = None
        self._run("cancel", expected, lambda: self.gov.cancel(pid, sender=sender))
        if expected is None:
            p.canceled = True

    # -- adversary moves during votes

    @rule(who=st.integers(0, 4), part=st.integers(1, 100))
    def unbond(self, who: int, part: int) -> None:
        """Rule R22: a voter cannot unbond before the end of a vote it cast."""
        account = self._voters()[who]
        room = self.active.get(account, 0) - self.min_stake
        if account not in self.registered or room <= 0:
            return
        amount = max(room * part // 100, 1)
        locked = self.now < self.lock.get(account, 0)
        expected = "StakeManager: stake locked by a vote until it ends" if locked else None
        try:
            self.s.hub.reclaimStake(amount, sender=account)
        except BoaError as err:
            if expected is None or _reason(err) != expected:
                tag = "rule:R22" if self.lock.get(account) else "call:reclaimStake"
                fail(tag, f"reclaimStake({amount}) by {account} reverted with {_reason(err)!r}, expected {expected!r}")
            return
        if locked:
            fail(
                "rule:R22",
                f"{account} unbonded {amount} at t={self.now}, locked by its vote until {self.lock[account]}",
            )
        self.active[account] -= amount

    @rule(who=st.integers(0, 4))
    def withdraw(self, who: int) -> None:
        """Exits never depend on governance: matured unbonds are paid whatever the votes."""
        account = self._voters()[who]
        if self.s.stake.withdrawableOf(account) == 0:
            return
        paid = self._run("withdraw", None, lambda: self.s.stake.withdraw(sender=account))
        self.custody -= paid

    @rule(who=st.integers(0, 4), amount=st.integers(1, 3 * INJ))
    def slash(self, who: int, amount: int) -> None:
        """Slashes ignore vote locks; the slashed stake stops backing a vote (recount)."""
        account = self._voters()[who]
        if self.a["validator"] not in self.validators or self.treasury == self.a["validator"]:
            return
        held = self.s.stake.stakeOf(account) + self.s.stake.unbondingOf(account)
        if min(amount, self.min_stake, held) == 0:
            return
        slashed = self._run(
            "slash", None, lambda: self.s.hub.slash(account, amount, "fuzz", sender=self.a["validator"])
        )
        from_active = min(slashed, self.active.get(account, 0))
        if account in self.active:
            self.active[account] -= from_active
        self.custody -= slashed
        for p in self.proposals:
            if account in p.slashed_since:
                p.slashed_since[account] += from_active

    @rule(who=st.integers(0, 4), amount=st.integers(1, 30).map(lambda n: n * INJ), sweep=st.booleans())
    def stake_again(self, who: int, amount: int, sweep: bool) -> None:
        """Withdrawn or slashed INJ comes back as stake from another account (the sweep first)."""
        account = self._voters()[who]
        if sweep and self.s.stake.slashedPending() > 0:
            self.s.stake.sweepSlashed(sender=self.a["attacker"])
        if account in self.registered:
            self._run("increaseStake", None, lambda: self.s.hub.increaseStake(sender=account, value=amount))
        elif amount >= self.min_stake:
            self._run("registerProvider", None, lambda: self.s.hub.registerProvider(sender=account, value=amount))
        else:
            return
        self._deposit(account, amount)

    # short waits mostly (votes run 20-999 s); an unbonding period now and then, for withdrawals
    @rule(seconds=st.one_of(st.integers(1, 30), st.sampled_from([300, UNBONDING])))
    def wait(self, seconds: int) -> None:
        boa.env.time_travel(seconds=seconds)

    @rule(data=st.data())
    def campaign(self, data: st.DataObject) -> None:
        """One proposal from start to end in one step, with votes and adversary moves drawn in
        between: the whole life cycle in every example (the single-call rules alone reach
        execution rarely), still in an order Hypothesis chooses."""
        count = len(self.proposals)
        self.propose(
            who=data.draw(st.integers(0, 4)),
            change=data.draw(st.tuples(st.just("min"), st.integers(0, 5 * INJ))),
            bad=len(self._refused()),
        )
        if len(self.proposals) == count:
            return
        pid = len(self.proposals)
        p = self.proposals[-1]
        boa.env.time_travel(seconds=p.start - self.now)
        # openings in turn, so that every example with a few campaigns meets a tie and a for + abstain quorum
        opening = ("none", "tie", "abstain")[pid % 3]
        staked = [v for v in self._voters() if self.active.get(v, 0) > 0]
        if opening == "tie":
            # two voters of equal stake on opposite sides (SPEC 12.4: for must exceed against)
            equal = [(v, w) for v in staked for w in staked if v < w and self.active[v] == self.active[w]]
            if equal:
                self._vote(pid, equal[0][0], 1)
                self._vote(pid, equal[0][1], 0)
                # and a third abstains, so that quorum is met and only the majority rule decides
                for v in staked:
                    if v not in equal[0]:
                        self._vote(pid, v, 2)
                        break
        elif opening == "abstain" and len(staked) >= 2:
            # for and abstain together, no against: quorum counts both (SPEC 12.4)
            self._vote(pid, staked[0], 1)
            self._vote(pid, staked[1], 2)
        for _ in range(data.draw(st.integers(0, 10))):
            move = data.draw(st.sampled_from(["vote"] * 5 + ["slash", "unbond", "stake", "recount", "wait"]))
            who = data.draw(st.integers(0, 4))
            if move == "vote":
                # the next voter from `who` on that has not voted yet (repeats are tried by `vote`)
                voters = self._voters()[who:] + self._voters()[:who]
                voter = next((v for v in voters if v not in p.votes), voters[0])
                self._vote(pid, voter, data.draw(st.sampled_from([0, 1, 1, 1, 2])))
            elif move == "slash":
                self.slash(who, data.draw(st.integers(1, 3 * INJ)))
            elif move == "unbond":
                self.unbond(who, data.draw(st.integers(1, 100)))
            elif move == "stake":
                self.stake_again(who, data.draw(st.integers(1, 30)) * INJ, data.draw(st.booleans()))
            elif move == "recount":
                self._recount(pid, self._voters()[who])
            else:
                boa.env.time_travel(seconds=data.draw(st.integers(1, 30)))
        # every voter then tries to leave before the vote ends (Rule R22), to vote again, and is
        # recounted by a watcher (a slashed vote shrinks, an intact one is refused)
        for who, voter in enumerate(self._voters()):
            if voter in p.votes and self.now < p.end:
                self.unbond(who, data.draw(st.integers(1, 100)))
                self._vote(pid, voter, data.draw(st.integers(0, 2)))
                self._recount(pid, voter)
        offset = data.draw(st.integers(-1, 1))
        if p.end + offset > self.now:
            boa.env.time_travel(seconds=p.end + offset - self.now)
        self._queue(pid)
        if p.queued and data.draw(st.booleans()):
            # the guardian, inside or past its cancel period
            self._cancel(pid, self.a["guardian"])
        if p.queued:
            for second in sorted({p.eta - 1, p.eta}):
                if second > self.now:
                    boa.env.time_travel(seconds=second - self.now)
                self._execute(pid)

    @rule(pick=st.integers(0, 2**16), offset=st.integers(-1, 1))
    def advance(self, pick: int, offset: int) -> None:
        """Move a proposal on to its next stage: travel to a second around its vote start, vote end
        or eta (where the rules change), or queue or execute it when that is what is left."""
        pid = self._choose(pick, (PENDING, ACTIVE, SUCCEEDED, QUEUED))
        if pid is None:
            return
        p = self.proposals[pid - 1]
        state = p.state(self.now)
        if state == SUCCEEDED:
            self._queue(pid)
        elif state == QUEUED and self.now >= p.eta:
            self._execute(pid)
        else:
            ahead = [t + offset for t in (p.start, p.end, p.eta) if t + offset > self.now]
            if ahead:
                boa.env.time_travel(seconds=min(ahead) - self.now)

    # -- invariants

    @invariant()
    def inv_stake(self) -> None:
        if not hasattr(self, "gov"):
            return
        for account, amount in self.active.items():
            if self.s.stake.stakeOf(account) != amount:
                fail(
                    "call:stake",
                    f"{account}'s active stake is {self.s.stake.stakeOf(account)}, the ghost says {amount}",
                )

    @invariant()
    def inv_tallies(self) -> None:
        """Rule R21: counted weights <= stake at the vote; tallies are their sums; state as SPEC 12.4."""
        if not hasattr(self, "gov"):
            return
        now = self.now
        for pid, p in enumerate(self.proposals, start=1):
            chain = self.gov.getProposal(pid)
            tallies = (chain.againstVotes, chain.forVotes, chain.abstainVotes)
            if tallies != (p.tally(0), p.tally(1), p.tally(2)):
                fail(
                    "rule:R21",
                    f"proposal {pid} tallies {tallies}, the counted votes sum to "
                    f"{(p.tally(0), p.tally(1), p.tally(2))}",
                )
            for voter, (_, counted, at_vote) in p.votes.items():
                if counted > at_vote:
                    fail(
                        "rule:R21",
                        f"{voter} counts {counted} on proposal {pid}, more than its stake at the vote {at_vote}",
                    )
            state = self.gov.state(pid)
            if state != p.state(now):
                fail(
                    "rule:R23",
                    f"proposal {pid} is {STATE_NAMES[state]} on chain, {STATE_NAMES[p.state(now)]} by SPEC 12.4",
                )

    @invariant()
    def inv_votes_stay_in_custody(self) -> None:
        """Never counted twice: while a vote runs, what it counts is still the voter's active stake or was slashed."""
        if not hasattr(self, "gov"):
            return
        now = self.now
        for pid, p in enumerate(self.proposals, start=1):
            if p.state(now) != ACTIVE:
                continue
            for voter, (_, counted, _) in p.votes.items():
                if counted > self.s.stake.stakeOf(voter) + p.slashed_since[voter]:
                    fail("rule:R22", f"{voter}'s vote of {counted} on proposal {pid} is no longer in its stake")

    @invariant()
    def inv_powers(self) -> None:
        """Rule R24: only governance holds DEFAULT_ADMIN and FEDERATOR_ROLE."""
        if not hasattr(self, "gov"):
            return
        hub = self.s.hub
        for key in [self.a[k] for k in ("admin", "federator", "validator", "attacker", "guardian")]:
            if hub.hasRole(ADMIN_ROLE, key) or hub.hasRole(FEDERATOR_ROLE, key):
                fail("rule:R24", f"{key} holds the admin or federator role after the hand-over")
        if self._observed() != self._observed_ghost():
            fail(
                "rule:R20",
                f"parameters {self._observed()} differ from what executed proposals set {self._observed_ghost()}",
            )


TestGovernance = GovernanceMachine.TestCase
TestGovernance.settings = machine_settings(GovernanceMachine.CI_EXAMPLES, GovernanceMachine.CI_STEPS)
