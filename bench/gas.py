"""Transaction gas of each marketplace operation, on a fresh system and at scale.

Prints JSON {operation: {"gas": N, "gas_at_scale": M, "reference": R, "goal": G}}:
- gas: one call on a freshly deployed and wired system;
- gas_at_scale: the same call, made the same way, after 1,000 providers, nodes, pools and work
  submissions exist (goal: within 5% of gas: nothing loops over data others can grow);
- reference: the reference Solidity implementation's figure (SPEC section 2);
- goal: half the reference (withdraw: 80%, since a native transfer alone costs 30,000).
Then {"governance": {operation: gas}}: propose (one setStakeMinimum call), castVote, queue and
execute of that proposal on a system handed to Governance (docs/SPEC.md 12); the reference has no
governance, so there is no goal.

Transaction gas = 21,000 + calldata (4 / 16 gas per zero / non-zero byte) + execution, minus the
refund (capped at a fifth, EIP-3529), with every account and slot cold, as in a real transaction.
Run: python bench/gas.py [--scale N]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import boa  # noqa: E402
from eth_account import Account  # noqa: E402

from hub import signatures as sig  # noqa: E402
from hub.client import scenario  # noqa: E402
from hub.client.scenario import NodePlan, PoolPlan, ProviderPlan, Scenario  # noqa: E402
from hub.contracts import CONTRACTS_DIR, INJ, SystemParams  # noqa: E402
from hub.metadata import PublishedMetadata  # noqa: E402
from tests.utils.deployers import deploy_system  # noqa: E402

REFERENCE = {
    "registerProvider": 178_127,
    "addComputeNode": 256_134,
    "validateNode": 110_526,
    "createComputePool": 2_330_833,
    "joinComputePool": 205_126,
    "submitWork": 237_471,  # the lower end of the reference range 237,471 - 305,883
    "claimRewards": 138_379,
    "invalidateWork (hard)": 390_327,
    "reclaimStake": 169_491,
    "withdraw": 54_875,
}
CHALLENGE_WINDOW = 3600
UNBONDING = 86400
DEADLINE = 2**40
# @dev A CIDv1 URI and a non-zero hash: the calldata a real pool creation carries (size is not sent).
POOL_METADATA = PublishedMetadata("ipfs://bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi", b"\x01" * 32, 0)


def tx_gas(fn, *args, sender: str, value: int = 0) -> int:
    """Gas a real transaction calling `fn(*args)` from `sender` would use."""
    boa.env._reset_access_counters()  # a new transaction starts with everything cold
    calldata = fn.prepare_calldata(*args)
    fn(*args, sender=sender, value=value)
    computation = fn.contract._computation
    used = 21_000 + sum(16 if b else 4 for b in calldata) + computation.get_gas_used()
    return used - min(computation.get_gas_refund(), used // 5)


class Bench:
    def __init__(self) -> None:
        self.admin, self.federator, self.validator = (boa.env.generate_address(x) for x in ("a", "f", "v"))
        self.system = deploy_system(
            self.admin,
            self.federator,
            self.validator,
            SystemParams(unbonding_period=UNBONDING, min_stake_per_compute_unit=INJ),
        )
        self.chain_id = boa.env.evm.patch.chain_id
        self.manager = Account.create()
        with boa.env.prank(self.federator):
            self.domain = self.system.hub.createDomain("llama", self.system.work_validation.address, "ipfs://d")
        self.count = 0

    def _new_account(self) -> tuple[str, Account]:
        self.count += 1
        provider = boa.env.generate_address(f"provider{self.count}")
        node = Account.from_key(self.count.to_bytes(32, "big"))
        boa.env.set_balance(provider, 10**6 * INJ)
        boa.env.set_balance(node.address, 10 * INJ)
        return provider, node

    def cycle(self, measure: bool) -> dict[str, int]:
        """One provider's whole life: register, node, pool, join, work, claim, fraud, exit."""
        s, out = self.system, {}

        def run(name, fn, *args, sender, value=0):
            if measure:
                out[name] = tx_gas(fn, *args, sender=sender, value=value)
            else:
                fn(*args, sender=sender, value=value)

        provider, node = self._new_account()
        steps = GasSteps(self, provider, node, run)
        # the provider creates (and manages with its manager key) the pool its node joins
        pool = PoolPlan(
            self.domain, POOL_METADATA, budget=10 * INJ, reward_per_unit=10**9, challenge_window=CHALLENGE_WINDOW
        )
        (pool_id,) = scenario.run(Scenario((ProviderPlan(100 * INJ, (NodePlan(10, "ipfs://n"),)),), (pool,)), steps)
        boa.env.time_travel(seconds=60)
        run("submitWork", s.pool.submitWork, pool_id, b"\x01" * 32, 100_000, sender=node.address)
        boa.env.time_travel(seconds=CHALLENGE_WINDOW + 1)
        run("claimRewards", s.rewards.claimRewards, pool_id, node.address, [b"\x01" * 32], sender=provider)
        s.pool.submitWork(pool_id, b"\x02" * 32, 100_000, sender=node.address)
        run(
            "invalidateWork (hard)",
            s.pool.hardInvalidateWork,
            pool_id,
            node.address,
            b"\x02" * 32,
            INJ,
            "inflated claim",
            sender=self.validator,
        )
        run("reclaimStake", s.hub.reclaimStake, 50 * INJ, sender=provider)
        boa.env.time_travel(seconds=UNBONDING)
        run("withdraw", s.stake.withdraw, sender=provider)
        # hand the slash to the treasury so every cycle starts from the same local state
        s.stake.sweepSlashed(sender=provider)
        return out


class GasSteps:
    """The shared set-up's steps (hub/client/scenario.py) as Titanoboa calls for one provider and its
    node, each measured through `run(name, fn, *args, sender=, value=)` (whitelist and start are not
    among the reference's operations, so they run unmeasured)."""

    def __init__(self, bench: Bench, provider: str, node: Account, run) -> None:
        self.bench, self.s, self.provider, self.node, self.run = bench, bench.system, provider, node, run

    def register_provider(self, provider: int, plan: ProviderPlan) -> None:
        self.run("registerProvider", self.s.hub.registerProvider, sender=self.provider, value=plan.stake)

    def add_node(self, provider: int, node: int, plan: NodePlan) -> None:
        units, uri = plan.compute_units, plan.specs_uri
        attestation = sig.node_attestation(
            self.bench.chain_id, self.s.hub.address, self.provider, self.node.address, units, uri, 0
        )
        signature = sig.sign(self.node, attestation)
        self.run(
            "addComputeNode", self.s.hub.addComputeNode, self.node.address, uri, units, signature, sender=self.provider
        )

    def validate_node(self, provider: int, node: int) -> None:
        self.run("validateNode", self.s.hub.validateNode, self.node.address, sender=self.bench.validator)

    def whitelist_provider(self, provider: int) -> None:
        self.s.hub.whitelistProvider(self.provider, sender=self.bench.validator)

    def create_pool(self, pool: int, plan: PoolPlan, compute_limit: int) -> int:
        pool_id = self.s.pool.nextPoolId()
        self.run(
            "createComputePool",
            self.s.pool.createComputePool,
            plan.domain_id,
            self.bench.manager.address,
            plan.metadata.uri,
            plan.metadata.hash,
            compute_limit,
            plan.reward_per_unit,
            plan.challenge_window,
            sender=self.provider,
            value=plan.budget,
        )
        return pool_id

    def join_pool(self, pool_id: int, provider: int, node: int) -> bool:
        invite = sig.pool_invite(self.bench.chain_id, self.s.pool.address, pool_id, self.node.address, 0, DEADLINE)
        signature = sig.sign(self.bench.manager, invite)
        self.run(
            "joinComputePool",
            self.s.pool.joinComputePool,
            pool_id,
            self.node.address,
            DEADLINE,
            signature,
            sender=self.provider,
        )
        return True

    def start_pool(self, pool_id: int) -> None:
        self.s.pool.startComputePool(pool_id, sender=self.provider)


def governance_gas() -> dict[str, int]:
    """Gas of one proposal's life on a system handed to Governance, its voter a registered provider."""
    from boa.interpret import set_search_paths
    from eth_abi import encode
    from eth_utils import function_signature_to_4byte_selector, keccak

    admin, federator, validator, voter = (boa.env.generate_address(x) for x in ("ga", "gf", "gv", "gp"))
    boa.env.set_balance(voter, 10**6 * INJ)
    s = deploy_system(
        admin, federator, validator, SystemParams(unbonding_period=UNBONDING, min_stake_per_compute_unit=INJ)
    )
    previous = boa.interpret._search_path
    set_search_paths([str(CONTRACTS_DIR)])
    try:
        deployer = boa.load_partial(str(CONTRACTS_DIR / "governance" / "Governance.vy"))
    finally:
        set_search_paths(previous)
    voting_delay, voting_period, timelock = 60, UNBONDING // 2, 3600  # the vote must end within the unbonding period
    with boa.env.prank(admin):
        gov = deployer.deploy(
            s.hub.address, s.stake.address, voting_delay, voting_period, timelock, 2_000, INJ, admin, 86400
        )
        s.stake.setGovernance(gov.address)
        for role in (b"\x00" * 32, keccak(text="FEDERATOR_ROLE")):
            s.hub.grantRole(role, gov.address)
    s.hub.registerProvider(sender=voter, value=100 * INJ)
    call = (
        s.hub.address,
        function_signature_to_4byte_selector("setStakeMinimum(uint256)") + encode(["uint256"], [2 * INJ]),
    )
    out = {"propose": tx_gas(gov.propose, [call], "raise the stake minimum to 2 INJ", sender=voter)}
    boa.env.time_travel(seconds=voting_delay)
    out["castVote"] = tx_gas(gov.castVote, 1, 1, sender=voter)
    boa.env.time_travel(seconds=voting_period)
    out["queue"] = tx_gas(gov.queue, 1, sender=voter)
    boa.env.time_travel(seconds=timelock)
    out["execute"] = tx_gas(gov.execute, 1, sender=voter)
    assert s.hub.minStakePerComputeUnit() == 2 * INJ
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=1000, help="entities of each kind before the second run")
    args = parser.parse_args()

    bench = Bench()
    fresh = bench.cycle(measure=True)
    for _ in range(args.scale):
        bench.cycle(measure=False)
    at_scale = bench.cycle(measure=True)

    report = {}
    for name, reference in REFERENCE.items():
        goal = int(reference * (0.8 if name == "withdraw" else 0.5))
        report[name] = {"gas": fresh[name], "gas_at_scale": at_scale[name], "reference": reference, "goal": goal}
    report["governance"] = governance_gas()
    print(json.dumps(report, indent=2))
    missed = [
        n
        for n, r in report.items()
        if n in REFERENCE and (r["gas"] > r["goal"] or abs(r["gas_at_scale"] - r["gas"]) > 0.05 * r["gas"])
    ]
    print(f"# goals missed: {', '.join(missed) if missed else 'none'}", file=sys.stderr)


if __name__ == "__main__":
    main()
