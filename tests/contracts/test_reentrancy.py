"""Every function that sends INJ, attacked by a receiver that re-enters on payment.

Two attack modes: the receiver swallows the failed re-entry (the payment goes through once and the
re-entry must have failed), or bubbles it up (the whole payment reverts, nothing changes)."""

import boa
import pytest
from eth_account import Account

from hub import signatures as sig
from hub.contracts import INJ
from tests.utils.scenario import CHALLENGE_WINDOW, METADATA_HASH, METADATA_URI, REWARD_PER_UNIT, UNBONDING

RECEIVER = boa.load_partial("tests/contracts/attackers/MaliciousReceiver.vy")
REENTER, REENTER_OR_REVERT = 1, 3
NODE = Account.from_key(b"\x77" * 32)
UNITS = 50_000
KEY = b"\xaa" * 32


@pytest.fixture
def receiver(attacker):
    contract = RECEIVER.deploy(sender=attacker)
    boa.env.set_balance(boa.env.eoa, 10**6 * INJ)  # execute forwards the caller's value
    return contract


def _as(receiver, contract_fn, *args, value=0):
    """Make `receiver` call `contract_fn(*args)`."""
    receiver.execute(contract_fn.contract.address, contract_fn.prepare_calldata(*args), value=value)


@pytest.fixture
def provider_receiver(receiver, hub, steps, validator):
    """The receiver is a registered, whitelisted provider with a validated node."""
    _as(receiver, hub.registerProvider, value=100 * INJ)
    data = sig.node_attestation(steps.chain_id, hub.address, receiver.address, NODE.address, 10, "s", 0)
    _as(receiver, hub.addComputeNode, NODE.address, "s", 10, sig.sign(NODE, data))
    hub.validateNode(NODE.address, sender=validator)
    hub.whitelistProvider(receiver.address, sender=validator)
    return receiver


@pytest.mark.parametrize("bubble", [False, True], ids=["swallow", "bubble"])
@pytest.mark.parametrize("reenter", ["withdraw", "reclaimStake"])
def test_withdraw(provider_receiver, hub, stake_manager, bubble, reenter):
    r = provider_receiver
    _as(r, hub.reclaimStake, 30 * INJ)
    boa.env.time_travel(seconds=UNBONDING)
    payload = (
        stake_manager.withdraw.prepare_calldata() if reenter == "withdraw" else hub.reclaimStake.prepare_calldata(INJ)
    )
    target = stake_manager.address if reenter == "withdraw" else hub.address
    r.configure(REENTER_OR_REVERT if bubble else REENTER, target, payload)
    held = boa.env.get_balance(stake_manager.address)
    if bubble:
        with boa.reverts("StakeManager: INJ transfer failed"):
            _as(r, stake_manager.withdraw)
        assert stake_manager.withdrawableOf(r.address) == 30 * INJ
        assert boa.env.get_balance(stake_manager.address) == held
    else:
        _as(r, stake_manager.withdraw)
        assert r.reentryAttempts() == 1 and r.reentrySuccesses() == 0
        assert r.received() == 30 * INJ
        assert stake_manager.pendingUnbonds(r.address) == []
        assert boa.env.get_balance(stake_manager.address) == held - 30 * INJ


@pytest.fixture
def claimable(provider_receiver, pool, steps, domain_id, pool_creator, pool_manager):
    pool_id = steps.create_pool(pool_creator, domain_id, pool_manager.address)
    pool.startComputePool(pool_id, sender=pool_creator)
    steps.join(pool_id, NODE, pool_manager, sender=NODE.address)
    boa.env.set_balance(NODE.address, INJ)
    boa.env.time_travel(seconds=60)
    pool.submitWork(pool_id, KEY, UNITS, sender=NODE.address)
    boa.env.time_travel(seconds=CHALLENGE_WINDOW + 1)
    return pool_id


@pytest.mark.parametrize("bubble", [False, True], ids=["swallow", "bubble"])
def test_claim_rewards(provider_receiver, claimable, rewards, bubble):
    r = provider_receiver
    r.configure(
        REENTER_OR_REVERT if bubble else REENTER,
        rewards.address,
        rewards.claimRewards.prepare_calldata(claimable, NODE.address, [KEY]),
    )
    held = boa.env.get_balance(rewards.address)
    if bubble:
        with boa.reverts("RewardsDistributor: INJ transfer failed"):
            _as(r, rewards.claimRewards, claimable, NODE.address, [KEY])
        assert rewards.getWork(claimable, NODE.address, KEY)[4] == 1
        assert boa.env.get_balance(rewards.address) == held
    else:
        _as(r, rewards.claimRewards, claimable, NODE.address, [KEY])
        assert r.reentryAttempts() == 1 and r.reentrySuccesses() == 0
        assert r.received() == UNITS * REWARD_PER_UNIT
        assert boa.env.get_balance(rewards.address) == held - UNITS * REWARD_PER_UNIT


@pytest.mark.parametrize("bubble", [False, True], ids=["swallow", "bubble"])
def test_refund(receiver, pool, rewards, domain_id, pool_manager, bubble):
    pool_id = pool.nextPoolId()
    _as(
        receiver,
        pool.createComputePool,
        domain_id,
        pool_manager.address,
        METADATA_URI,
        METADATA_HASH,
        0,
        REWARD_PER_UNIT,
        CHALLENGE_WINDOW,
        value=10 * INJ,
    )
    _as(receiver, pool.startComputePool, pool_id)
    _as(receiver, pool.endComputePool, pool_id)
    receiver.configure(
        REENTER_OR_REVERT if bubble else REENTER, rewards.address, rewards.refund.prepare_calldata(pool_id)
    )
    if bubble:
        with boa.reverts("RewardsDistributor: INJ transfer failed"):
            _as(receiver, rewards.refund, pool_id)
        assert rewards.getPoolBudget(pool_id).available == 10 * INJ
    else:
        _as(receiver, rewards.refund, pool_id)
        assert receiver.reentryAttempts() == 1 and receiver.reentrySuccesses() == 0
        assert receiver.received() == 10 * INJ
        assert rewards.getPoolBudget(pool_id).available == 0


@pytest.mark.parametrize("bubble", [False, True], ids=["swallow", "bubble"])
def test_slash_payout_to_treasury(
    receiver, hub, stake_manager, registered, validator, admin, attacker, federator, bubble
):
    hub.setTreasury(receiver.address, sender=admin)
    hub.setStakeMinimum(5 * INJ, sender=federator)  # the per-incident cap of a provider with no nodes
    hub.slash(registered, 5 * INJ, "fraud", sender=validator)
    receiver.configure(
        REENTER_OR_REVERT if bubble else REENTER, stake_manager.address, stake_manager.sweepSlashed.prepare_calldata()
    )
    if bubble:
        with boa.reverts("StakeManager: INJ transfer failed"):
            stake_manager.sweepSlashed(sender=attacker)
        assert stake_manager.slashedPending() == 5 * INJ
    else:
        stake_manager.sweepSlashed(sender=attacker)
        assert receiver.reentryAttempts() == 1 and receiver.reentrySuccesses() == 0
        assert receiver.received() == 5 * INJ
        assert stake_manager.slashedPending() == 0
