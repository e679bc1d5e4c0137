"""Finding: a second hard invalidation of the same node un-voids work the first one voided.

Contract: RewardsDistributor.invalidateWork (hard=True) sets `voidFrom[poolId][node] =
block.timestamp` unconditionally. Work is void when `submittedAt + challengeWindow >= voidFrom`.
A later hard invalidation of another pending key of the same node moves voidFrom forward, so work
whose challenge window closed between the two invalidations is no longer void: its provider can
claim the reward of work that was voided for fraud (SPEC section 2, "Work and rewards":
"invalidated work is never paid"; NatSpec of voidFrom: "Work of the node still in its challenge
window at that time ... is void").

Found by the ghost model of fuzz/ (invariant `inv_invalidated_work_never_paid` / the ghost's
claim prediction), reduced to the steps below. Fixed in 7be4b71 (regression test 12 in
tests/contracts/); this reproduction stays as the finding's record, and mutant RD9 of
fuzz/mutants.py puts the bug back to check the state machines still catch it.

Suggested fix (RewardsDistributor.invalidateWork): keep the earliest time, e.g.

    if hard and self.voidFrom[poolId][node] == 0:
        self.voidFrom[poolId][node] = block.timestamp

(later hard invalidations of the node then void nothing new: everything still challengeable at
the first one is already void, and the node is barred from the pool, so it submits nothing after).
"""

import boa

from fuzz import sigs
from fuzz.system import deploy
from hub.contracts import INJ, SystemParams

WINDOW = 100


def test_second_hard_invalidation_keeps_earlier_work_void():
    admin, federator, validator = (boa.env.generate_address(x) for x in ("admin", "federator", "validator"))
    provider, creator = boa.env.generate_address("provider"), boa.env.generate_address("creator")
    node_key, manager_key = b"\x11" * 32, b"\x22" * 32
    node, manager = sigs.address_of(node_key), sigs.address_of(manager_key)
    for account in (provider, creator):
        boa.env.set_balance(account, 1000 * INJ)
    s = deploy(admin, federator, validator, SystemParams(unbonding_period=1000, min_stake_per_compute_unit=INJ))
    chain_id = boa.env.evm.patch.chain_id

    domain = s.hub.createDomain("llama", s.work_validation.address, "ipfs://d", sender=federator)
    s.hub.registerProvider(sender=provider, value=10 * INJ)
    digest = sigs.attestation_digest(chain_id, s.hub.address, provider, node, 1, "specs", 0, 2**256 - 1)
    s.hub.addComputeNode(node, "specs", 1, sigs.sign(node_key, digest), sender=provider)
    s.hub.validateNode(node, sender=validator)
    s.hub.whitelistProvider(provider, sender=validator)
    pool_id = s.pool.createComputePool(
        domain, manager, "ipfs://p", b"\x01" * 32, 0, 1, WINDOW, sender=creator, value=10**6
    )
    s.pool.startComputePool(pool_id, sender=creator)
    invite = sigs.invite_digest(chain_id, s.pool.address, pool_id, node, 0, 2**40)
    s.pool.joinComputePool(pool_id, node, 2**40, sigs.sign(manager_key, invite), sender=provider)

    early, late, fraud = b"\x0a" * 32, b"\x0b" * 32, b"\x0c" * 32
    boa.env.time_travel(seconds=10)
    s.pool.submitWork(pool_id, early, 10, sender=node)  # challengeable until t0 + 110
    boa.env.time_travel(seconds=50)
    s.pool.submitWork(pool_id, late, 10, sender=node)  # until t0 + 160
    boa.env.time_travel(seconds=10)
    s.pool.submitWork(pool_id, fraud, 10, sender=node)  # until t0 + 170
    boa.env.time_travel(seconds=20)  # t0 + 90: every key of the node is still challengeable

    s.pool.hardInvalidateWork(pool_id, node, fraud, 0, "inflated claim", sender=validator)
    assert s.rewards.getWork(pool_id, node, early)[6], "the first hard invalidation voids the node's open work"

    boa.env.time_travel(seconds=30)  # t0 + 120: `early` left its window while void
    s.pool.hardInvalidateWork(pool_id, node, late, 0, "inflated claim again", sender=validator)

    assert s.rewards.getWork(pool_id, node, early)[6], "work voided by the first hard invalidation must stay void"
    with boa.reverts("RewardsDistributor: work voided"):
        s.rewards.claimRewards(pool_id, node, [early], sender=provider)
