"""Prove the fuzz suite bites: run it against small, realistic mutations of the contracts.

    python fuzz/mutants.py                 # every mutant, two at a time, then the table
    python fuzz/mutants.py --only SM1 RD2  # some of them
    python fuzz/mutants.py --list          # what each mutant changes, and the fuzz files run first
    python fuzz/mutants.py --base DIR      # mutate DIR instead of contracts_vy/ (e.g. a patched copy)

Each mutant copies the contracts to a temporary folder, changes one spot in one file, checks that
the copy still compiles, and runs the fuzz suite against it (through HUB_CONTRACTS_DIR) with the CI
profile (`CI=true`, derandomized) minus shrinking (`--hypothesis-profile=mutants`): a mutant is
killed by the first failing example. fuzz/findings/ is left out: those tests fail on known bugs
of the unmutated contracts, not on the mutation. The unmutated copy runs first and must pass.

Two stages per mutant, each one `pytest -x`, so that a killed mutant costs only the files up to its
first failure and a survivor is still shown to survive all of fuzz/:
1. the fuzz files that exercise the mutated contract (`TARGETS`, below), cheapest first:
       StakeManager.vy                  test_arithmetic, test_governance, test_stake, test_market
       InjectiveAiHub.vy                test_arithmetic, test_stake, test_market
       modules/access_control.vy        test_governance, test_stake, test_market
       ComputeRegistry.vy               test_sigs, test_stake, test_market
       ComputePool.vy                   test_arithmetic, test_market, test_work
       RewardsDistributor.vy            test_arithmetic, test_market, test_work
       validators/WorkRateValidator.vy  test_arithmetic, test_market, test_work
       governance/Governance.vy         test_governance
   (test_arithmetic's properties and test_governance's opening probes fail within seconds; the
   state machines run last, cheapest first: under the CI profile TestStake and TestMarket run
   30-40 s each, TestWork about 4 min);
2. only when those pass: every other file of fuzz/. The derandomized profile makes a rerun of the
   first stage's files draw the same examples, so they are not run again.

The table names the killer: the invariant, rule or call tag (`[inv_solvency]`, `[rule:R15]`,
`[call:withdraw]`) of a state machine, or the failing test, with the fuzz file it is in. An
equivalent mutant (no behaviour any caller can observe changes) cannot be killed; the table says
why, and the score leaves it out.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL = 0.90


@dataclass(frozen=True)
class Mutant:
    id: str
    file: str
    what: str
    old: str
    new: str
    equivalent: str = ""  # why no caller can tell the difference, for an equivalent mutant
    every: bool = False  # replace every occurrence of `old` (one spot otherwise)


MUTANTS = [
    # StakeManager -------------------------------------------------------------------------------
    Mutant(
        "SM1",
        "StakeManager.vy",
        "withdraw: an unbond matures one second late (> becomes >=)",
        "        if self._maturity(entry) > block.timestamp:\n            break\n"
        "        total += self._amount(entry)\n        self._unbonds",
        "        if self._maturity(entry) >= block.timestamp:\n            break\n"
        "        total += self._amount(entry)\n        self._unbonds",
    ),
    Mutant(
        "SM2",
        "StakeManager.vy",
        "unbond: the queue cap is not enforced (assert dropped)",
        '        assert tail - head < MAX_PENDING_UNBONDS, "StakeManager: unbond queue full, withdraw first"\n',
        "",
    ),
    Mutant(
        "SM3",
        "StakeManager.vy",
        "rebond: more than is unbonding can be rebonded (assert dropped)",
        '    assert taken == amount, "StakeManager: amount exceeds unbonding"\n',
        "",
    ),
    Mutant(
        "SM4",
        "StakeManager.vy",
        "slash: wrong order, the unbond queue before the active stake",
        "    from_stake: uint256 = min(amount, active)\n    from_queue: uint256 = 0\n"
        "    tail: uint256 = self._tail(word)\n    if from_stake < amount:\n"
        "        from_queue, tail = self._take_from_queue(account, word, unsafe_sub(amount, from_stake))\n",
        "    from_queue: uint256 = 0\n    tail: uint256 = 0\n"
        "    from_queue, tail = self._take_from_queue(account, word, amount)\n"
        "    from_stake: uint256 = min(amount - from_queue, active)\n",
    ),
    Mutant(
        "SM5",
        "StakeManager.vy",
        "sweepSlashed pays the caller instead of the treasury",
        "    common._send(treasury, amount,",
        "    common._send(msg.sender, amount,",
    ),
    Mutant(
        "SM6",
        "StakeManager.vy",
        "unbond: same-second unbonds are not merged (each takes a queue slot)",
        "    if tail > head and self._maturity(self._unbonds[account][tail - 1]) == maturity:",
        "    if False:",
    ),
    Mutant(
        "SM7",
        "StakeManager.vy",
        "withdraw: an emptied queue is not restarted at index 0",
        "        head = 0\n        tail = 0\n",
        "        pass\n",
        equivalent="indices keep growing by one per unbond, far below 2**64; every view and exit reads "
        "[head, tail) the same way: only storage slots and gas differ",
    ),
    # InjectiveAiHub / access control -------------------------------------------------------------
    Mutant(
        "HUB1",
        "InjectiveAiHub.vy",
        "reclaimStake: the stake may not end exactly at the minimum (>= becomes >)",
        "    assert unsafe_sub(stake, amount) >= common._minimum_stake(total_compute,",
        "    assert unsafe_sub(stake, amount) > common._minimum_stake(total_compute,",
    ),
    Mutant(
        "HUB2",
        "InjectiveAiHub.vy",
        "addComputeNode: the new node's units are left out of the minimum",
        "    required: uint256 = common._minimum_stake(total_compute + computeUnits,",
        "    required: uint256 = common._minimum_stake(total_compute,",
    ),
    Mutant(
        "HUB3",
        "InjectiveAiHub.vy",
        "removeComputeNode: the node is not released from its pool",
        "    extcall self.computePool.releaseNode(nodekey)\n    extcall self.computeRegistry.removeNode(nodekey)",
        "    extcall self.computeRegistry.removeNode(nodekey)",
    ),
    Mutant(
        "HUB4",
        "InjectiveAiHub.vy",
        "slash: a validator who is the treasury may slash (assert dropped)",
        '    assert self.treasury != msg.sender, "InjectiveAiHub: a slash cannot pay its validator"\n',
        "",
    ),
    Mutant(
        "AC1",
        "modules/access_control.vy",
        "revokeRole / renounceRole leave the role in place",
        "    self.hasRole[role][account] = False",
        "    self.hasRole[role][account] = True",
    ),
    # ComputeRegistry ------------------------------------------------------------------------------
    Mutant(
        "REG1",
        "ComputeRegistry.vy",
        "addNode: the attestation nonce is not incremented (replayable)",
        "((nonce + 1) << 192)",
        "(nonce << 192)",
    ),
    Mutant(
        "REG2",
        "ComputeRegistry.vy",
        "removeNode: the validated flag survives removal",
        "    self._nodeWord[node] = node_word & ~(2**192 - 1)",
        "    self._nodeWord[node] = node_word & ~(2**160 - 1)",
    ),
    Mutant(
        "REG3",
        "ComputeRegistry.vy",
        "blacklistProvider: the whitelist flag is not withdrawn",
        "(word | _BLACKLISTED) & ~_WHITELISTED",
        "word | _BLACKLISTED",
    ),
    # ComputePool ----------------------------------------------------------------------------------
    Mutant(
        "POOL1",
        "ComputePool.vy",
        "joinComputePool: an invite is valid one second short (<= becomes <)",
        '    assert block.timestamp <= deadline, "ComputePool: invite expired"',
        '    assert block.timestamp < deadline, "ComputePool: invite expired"',
    ),
    Mutant(
        "POOL2",
        "ComputePool.vy",
        "joinComputePool: the invite nonce is not incremented (replayable)",
        "self._pack(poolId, block.timestamp, nonce + 1)",
        "self._pack(poolId, block.timestamp, nonce)",
    ),
    Mutant(
        "POOL3",
        "ComputePool.vy",
        "a node is not released when its pool ends (stays locked)",
        "    assert current == 0 or self._pools[current].status == IComputePool.PoolStatus.COMPLETED, (",
        "    assert current == 0, (",
    ),
    Mutant(
        "POOL4",
        "ComputePool.vy",
        "leaving / ejecting does not take the node's units off the pool",
        "    self._pools[poolId].totalCompute = unsafe_sub(self._pools[poolId].totalCompute, record.computeUnits)\n",
        "",
    ),
    Mutant(
        "POOL5",
        "ComputePool.vy",
        "joinComputePool: a pool cannot be filled exactly to its limit",
        "    assert limit == 0 or total <= limit,",
        "    assert limit == 0 or total < limit,",
    ),
    Mutant(
        "POOL6",
        "ComputePool.vy",
        "submitWork: the node's work clock is not advanced (over-claiming)",
        "    self._membership[msg.sender] = self._pack(poolId, block.timestamp, self._nonce(word))\n",
        "",
    ),
    Mutant(
        "POOL7",
        "ComputePool.vy",
        "hardInvalidateWork: the fraudulent node is not ejected",
        "    if self._is_member(poolId, node):\n        self._release(poolId, node, staticcall "
        'self.computeRegistry.getNode(node), "fraud")\n',
        "",
    ),
    Mutant(
        "POOL8",
        "ComputePool.vy",
        "blacklistProvider: a partial node list is accepted (assert dropped)",
        "    assert self.providerNodesInPool[poolId][provider] == 0, (\n"
        '        "ComputePool: provider still has nodes in the pool, list them all"\n    )\n',
        "",
    ),
    Mutant(
        "VAL1",
        "validators/WorkRateValidator.vy",
        "validateWork: the exact cap is refused (<= becomes <)",
        "    return needed <= elapsed",
        "    return needed < elapsed",
    ),
    # RewardsDistributor ---------------------------------------------------------------------------
    Mutant(
        "RD1",
        "RewardsDistributor.vy",
        "claimRewards: work unlocks on the last challengeable second",
        "    assert block.timestamp > submitted_at + window,",
        "    assert block.timestamp >= submitted_at + window,",
    ),
    Mutant(
        "RD2",
        "RewardsDistributor.vy",
        "invalidateWork: the last second of the window is closed",
        "    assert block.timestamp <= submitted_at + self._window(terms), (",
        "    assert block.timestamp < submitted_at + self._window(terms), (",
    ),
    Mutant(
        "RD3",
        "RewardsDistributor.vy",
        "claimRewards: anyone can claim a provider's rewards (check dropped)",
        '        assert common._address_of(words[1]) == msg.sender, "RewardsDistributor: not the node\'s provider"\n',
        "",
    ),
    Mutant(
        "RD4",
        "RewardsDistributor.vy",
        "recordWork: work beyond the budget is accepted (assert dropped)",
        '    assert reward <= available, "RewardsDistributor: pool budget exhausted"\n',
        "",
    ),
    Mutant(
        "RD5",
        "RewardsDistributor.vy",
        "refund: the refunded budget is not zeroed (double refund)",
        "    self._budgets[poolId].available = 0\n    self._budgets[poolId].refunded += amount",
        "    self._budgets[poolId].refunded += amount",
    ),
    Mutant(
        "RD6",
        "RewardsDistributor.vy",
        "_is_void: work whose window ends exactly at the invalidation is paid",
        "submitted_at + window >= void_from",
        "submitted_at + window > void_from",
    ),
    Mutant(
        "RD7",
        "RewardsDistributor.vy",
        "releaseVoidedWork: any pending work can be released (check dropped)",
        '        assert self._is_void(void_from, submitted_at, window), "RewardsDistributor: work not voided"\n',
        "",
    ),
    Mutant(
        "RD8",
        "RewardsDistributor.vy",
        "topUp: a completed pool can be topped up (assert dropped)",
        '    assert status != IComputePool.PoolStatus.COMPLETED, "RewardsDistributor: pool has ended"\n',
        "",
    ),
    Mutant(
        "RD9",
        "RewardsDistributor.vy",
        "invalidateWork: a second hard invalidation moves voidFrom forward (the bug this suite found)",
        "    if hard and self.voidFrom[poolId][node] == 0:",
        "    if hard:",
    ),
    # Governance (docs/SPEC.md 12; killed by fuzz/test_governance.py) -----------------------------
    Mutant(
        "GOV1",
        "governance/Governance.vy",
        "castVote: the voter's stake is not locked until the vote ends",
        "    extcall IStakeManager(STAKE_MANAGER).lockForVote(msg.sender, self._proposals[proposalId].voteEnd)\n",
        "",
    ),
    Mutant(
        "GOV2",
        "StakeManager.vy",
        "unbond: a vote lock is not checked (assert dropped)",
        "    assert self.voteLockedUntil[account] <= block.timestamp, "
        '"StakeManager: stake locked by a vote until it ends"\n',
        "",
    ),
    Mutant(
        "GOV3",
        "governance/Governance.vy",
        "state: abstain votes do not count towards quorum",
        "    if p.forVotes + p.abstainVotes < p.quorum or p.forVotes <= p.againstVotes:",
        "    if p.forVotes < p.quorum or p.forVotes <= p.againstVotes:",
    ),
    Mutant(
        "GOV4",
        "governance/Governance.vy",
        "state: a tie passes (for >= against instead of for > against)",
        "    if p.forVotes + p.abstainVotes < p.quorum or p.forVotes <= p.againstVotes:",
        "    if p.forVotes + p.abstainVotes < p.quorum or p.forVotes < p.againstVotes:",
    ),
    Mutant(
        "GOV5",
        "governance/Governance.vy",
        "execute: runs one second before its eta",
        "    assert block.timestamp >= self._proposals[proposalId].eta,",
        "    assert block.timestamp + 1 >= self._proposals[proposalId].eta,",
    ),
    Mutant(
        "GOV6",
        "governance/Governance.vy",
        "allow-list: any role may be granted or revoked, DEFAULT_ADMIN included (check dropped)",
        "    if role != _FEDERATOR_ROLE and role != _VALIDATOR_ROLE:\n        return False\n",
        "",
    ),
    Mutant(
        "GOV7",
        "governance/Governance.vy",
        "recount: the slashed weight stays in the tally",
        "    self._sub(proposalId, support, unsafe_sub(weight, stake))\n",
        "",
    ),
    Mutant(
        "GOV8",
        "governance/Governance.vy",
        "castVote: a voter may vote twice (assert dropped)",
        '    assert self._receipts[proposalId][msg.sender] == 0, "Governance: already voted"\n',
        "",
    ),
    Mutant(
        "GOV9",
        "governance/Governance.vy",
        "cancel: the guardian may cancel after its deadline (assert dropped)",
        '        assert block.timestamp < GUARDIAN_UNTIL, "Governance: the guardian\'s cancel period is over"\n',
        "",
    ),
    Mutant(
        "GOV10",
        "governance/Governance.vy",
        "state: voting stays open in the second of voteEnd (< becomes <=)",
        "    if block.timestamp < p.voteEnd:\n        return ACTIVE\n",
        "    if block.timestamp <= p.voteEnd:\n        return ACTIVE\n",
    ),
]


# The holes of issue 10, put back into the fixed contracts one at a time: the suite must kill each
# (bench/RESULTS.md, "Fuzz", records which rule did).
HOLES = [
    Mutant(
        "H1",
        "ComputePool.vy",
        "hole 1: the rate cap counts seconds before the pool started (join time banks capacity)",
        "max(self._last_work(word), active_since))",
        "self._last_work(word))",
    ),
    Mutant(
        "H2",
        "StakeManager.vy",
        "hole 2: a slash that finds nothing reverts, so a hard invalidation can be escaped",
        "    if slashed == 0:\n",
        '    assert slashed > 0, "StakeManager: nothing to slash"\n    if slashed == 0:\n',
    ),
    Mutant(
        "H3",
        "ComputePool.vy",
        "hole 3: a challenge window may outlast the unbonding period",
        "    assert challengeWindow < staticcall self.stakeManager.UNBONDING_PERIOD(), (\n"
        '        "ComputePool: challenge window must be shorter than the unbonding period"\n    )\n',
        "",
    ),
    Mutant(
        "H4a",
        "InjectiveAiHub.vy",
        "hole 4: a validator's slash takes any amount (no per-incident cap)",
        "    return min(amount, common._minimum_stake(total_compute, self.minStakePerComputeUnit))",
        "    return amount",
    ),
    Mutant(
        "H4b",
        "ComputePool.vy",
        "hole 2/4: a hard invalidation's slash is capped by the stake minimum the provider lowered",
        "    return extcall self.stakeManager.slash(provider, slashAmount, msg.sender, reason)",
        "    cap: uint256 = staticcall IInjectiveAiHub(HUB).calculateMinimumStake(provider, 0)\n"
        "    return extcall self.stakeManager.slash(provider, min(slashAmount, cap), msg.sender, reason)",
    ),
    Mutant(
        "H4c",
        "InjectiveAiHub.vy",
        "hole 4: the federator raises the stake minimum without a ceiling",
        '    assert amount <= MAX_MIN_STAKE_PER_COMPUTE_UNIT, "InjectiveAiHub: stake minimum above the ceiling"\n',
        "",
    ),
    Mutant(
        "H5a",
        "ComputePool.vy",
        "hole 5: a PENDING pool cannot be cancelled (its budget is stuck)",
        "status == IComputePool.PoolStatus.ACTIVE or status == IComputePool.PoolStatus.PENDING",
        "status == IComputePool.PoolStatus.ACTIVE",
    ),
    Mutant(
        "H5b",
        "ComputePool.vy",
        "hole 5: soft invalidation by an outsider names only the pool manager",
        '"ComputePool: caller is not a validator or the pool manager"',
        '"ComputePool: caller is not the pool manager"',
    ),
    Mutant(
        "H6",
        "RewardsDistributor.vy",
        "hole 6: work keys are unique per pool, not per node (squattable)",
        "self._work[poolId][node]",
        "self._work[poolId][empty(address)]",
        every=True,
    ),
    Mutant(
        "H7",
        "InjectiveAiHub.vy",
        "hole 7: a network blacklist leaves the provider's nodes seated in their pools",
        "        extcall self.computePool.releaseNode(node)\n",
        "        pass\n",
    ),
    Mutant(
        "H8a",
        "ComputePool.vy",
        "hole 8: a provider below its minimum stake still submits work",
        "    required: uint256 = common._minimum_stake(total_compute, self.minStakePerComputeUnit)\n"
        "    assert (staticcall self.stakeManager.stakeOf(provider)) >= required, (\n"
        '        "ComputePool: provider stake below minimum"\n    )\n',
        "",
    ),
    Mutant(
        "H8b",
        "ComputePool.vy",
        "hole 8: a pool with a zero budget is accepted",
        '    assert msg.value > 0, "ComputePool: zero budget"\n',
        "",
    ),
    Mutant(
        "H8c",
        "ComputeRegistry.vy",
        "hole 8: a re-registered provider keeps its old whitelist",
        "    self._providerWord[provider] = word & _BLACKLISTED\n",
        "    self._providerWord[provider] = word & (_BLACKLISTED | _WHITELISTED)\n",
    ),
]
MUTANTS += HOLES


def apply(mutant: Mutant, base: Path, into: Path) -> None:
    shutil.copytree(base, into)
    path = into / mutant.file
    source = path.read_text()
    count = source.count(mutant.old)
    if count == 0 or (count > 1 and not mutant.every):
        raise ValueError(f"{mutant.id}: the text to mutate occurs {count} times in {mutant.file}")
    path.write_text(source.replace(mutant.old, mutant.new))


def _env(contracts: Path) -> dict:
    env = dict(os.environ, CI="true", HUB_CONTRACTS_DIR=str(contracts), PYTHONDONTWRITEBYTECODE="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def compiles(contracts: Path) -> str:
    """'' if every contract compiles, else the compiler's last line."""
    run = subprocess.run(
        [sys.executable, "-c", "from fuzz.system import deployers; deployers()"],
        cwd=ROOT,
        env=_env(contracts),
        capture_output=True,
        text=True,
    )
    return "" if run.returncode == 0 else (run.stderr.strip().splitlines() or ["?"])[-1]


# The fuzz files that exercise each contract, in the order a mutant of it runs them (docstring).
FUZZ = ROOT / "fuzz"
TARGETS = {
    "StakeManager.vy": ("test_arithmetic.py", "test_governance.py", "test_stake.py", "test_market.py"),
    "InjectiveAiHub.vy": ("test_arithmetic.py", "test_stake.py", "test_market.py"),
    "modules/access_control.vy": ("test_governance.py", "test_stake.py", "test_market.py"),
    "ComputeRegistry.vy": ("test_sigs.py", "test_stake.py", "test_market.py"),
    "ComputePool.vy": ("test_arithmetic.py", "test_market.py", "test_work.py"),
    "RewardsDistributor.vy": ("test_arithmetic.py", "test_market.py", "test_work.py"),
    "validators/WorkRateValidator.vy": ("test_arithmetic.py", "test_market.py", "test_work.py"),
    "governance/Governance.vy": ("test_governance.py",),
}


def fuzz_files() -> list[str]:
    """Every test file of fuzz/ (fuzz/findings/ left out, see the docstring)."""
    return sorted(p.name for p in FUZZ.glob("test_*.py"))


def stages(contract: str) -> list[list[str]]:
    """The files a mutant of `contract` runs: its targets, then the rest of fuzz/ if they pass."""
    every = fuzz_files()
    first = [f for f in TARGETS.get(contract, ()) if f in every]
    return [s for s in (first, [f for f in every if f not in first]) if s]


def run_suite(contracts: Path, workdir: Path, files: list[str] | None = None) -> tuple[bool, str]:
    """Run `pytest -x` on `files` of fuzz/ (all of them by default) against `contracts`:
    (passed, what failed first)."""
    report = workdir / "junit.xml"
    report.unlink(missing_ok=True)
    targets = [f"fuzz/{f}" for f in files] if files is not None else ["fuzz", "--ignore=fuzz/findings"]
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        *targets,
        "-x",
        "-q",
        "-p",
        "no:cacheprovider",
        "--hypothesis-profile=mutants",
        f"--junitxml={report}",
    ]
    run = subprocess.run(cmd, cwd=ROOT, env=_env(contracts), capture_output=True, text=True)
    if run.returncode == 0:
        return True, ""
    return False, killer(report, run.stdout + run.stderr)


def killer(report: Path, output: str) -> str:
    """The invariant / call tag of the first failure, or the failing test and its first message line."""
    try:
        for case in ElementTree.parse(report).getroot().iter("testcase"):
            for failure in list(case.iter("failure")) + list(case.iter("error")):
                # the traceback text starts with the first exception, the message is the last one
                text = (failure.text or "") + "\n" + (failure.get("message") or "")
                tag = re.search(r"\[((?:inv_|call:|rule:)[\w:()]+)\]", text)
                # classname is "fuzz.test_market.TestMarket" for a machine, "fuzz.test_arithmetic" for a test
                test = f"{case.get('classname', '').removeprefix('fuzz.')}.{case.get('name', '?')}".strip(".")
                if tag:
                    return f"{tag.group(1)} ({test})"
                return (
                    f"{test}: {(failure.get('message') or '').splitlines()[0][:90] if failure.get('message') else ''}"
                )
    except (ElementTree.ParseError, FileNotFoundError):
        pass
    return "suite failed: " + (output.strip().splitlines() or ["?"])[-1][:100]


def run_mutant(mutant: Mutant, base: Path) -> dict:
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"mutant-{mutant.id}-") as tmp:
        contracts = Path(tmp) / "contracts_vy"
        apply(mutant, base, contracts)
        error = compiles(contracts)
        if error:
            result, by = "stillborn", f"does not compile: {error[:80]}"
        else:
            for files in stages(mutant.file):
                passed, by = run_suite(contracts, Path(tmp), files)
                if not passed:
                    break
            result = ("equivalent" if mutant.equivalent else "SURVIVED") if passed else "killed"
            if passed:
                by = mutant.equivalent or "survived all of fuzz/"
    return dict(mutant=mutant, result=result, by=by, seconds=time.monotonic() - start)


def table(rows: list[dict]) -> str:
    lines = ["| mutant | file | mutation | result | killed by / why equivalent | s |", "|---|---|---|---|---|---|"]
    for r in rows:
        m = r["mutant"]
        lines.append(f"| {m.id} | {m.file} | {m.what} | {r['result']} | {r['by']} | {r['seconds']:.0f} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="mutant ids to run")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--jobs", type=int, default=2, help="mutants run in parallel (default 2)")
    parser.add_argument("--base", type=Path, default=ROOT / "contracts_vy", help="contracts folder to mutate")
    parser.add_argument("--skip-baseline", action="store_true", help="do not run the unmutated suite first")
    args = parser.parse_args()

    chosen = [m for m in MUTANTS if not args.only or m.id in args.only]
    if args.list:
        for m in chosen:
            first = ", ".join(f.removeprefix("test_").removesuffix(".py") for f in stages(m.file)[0])
            print(f"{m.id:6} {m.file:34} {m.what}  [first: {first}]")
        return 0
    base = args.base.resolve()
    if not args.skip_baseline:
        start = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="mutant-baseline-") as tmp:
            contracts = Path(tmp) / "contracts_vy"
            shutil.copytree(base, contracts)
            passed, by = run_suite(contracts, Path(tmp))
        if not passed:
            print(f"the unmutated contracts already fail the suite ({by}): fix that first", file=sys.stderr)
            return 2
        print(f"baseline: the unmutated contracts pass ({time.monotonic() - start:.0f} s)", flush=True)

    rows = []
    with ThreadPoolExecutor(max_workers=max(args.jobs, 1)) as pool:
        for row in pool.map(lambda m: run_mutant(m, base), chosen):
            rows.append(row)
            print(f"{row['mutant'].id:6} {row['result']:10} {row['by']}", flush=True)

    print()
    print(table(rows))
    scored = [r for r in rows if r["result"] in ("killed", "SURVIVED")]
    killed = sum(r["result"] == "killed" for r in rows)
    score = killed / len(scored) if scored else 1.0
    print(
        f"\nkilled {killed} of {len(scored)} non-equivalent mutants ({score:.0%}); "
        f"{sum(r['result'] == 'equivalent' for r in rows)} equivalent, "
        f"{sum(r['result'] == 'stillborn' for r in rows)} stillborn; goal {GOAL:.0%}"
    )
    return 0 if score >= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
