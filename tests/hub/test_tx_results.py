"""Every transaction's typed result (hub/client/results.py) says what the chain did: each field is
checked against the chain's own state or receipt after the transaction, on the real local chain."""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_account import Account

from hub.client import HubClient, PoolStatus, WorkState, make_work_key
from hub.client.results import (
    DomainCreation,
    ManagerChange,
    NodeBlacklisting,
    NodeJoin,
    NodeLeave,
    NodeRegistration,
    NodeRemoval,
    NodeValidation,
    PoolCreation,
    PoolStatusChange,
    ProposalCreation,
    ProposalQueued,
    ProviderBarring,
    ProviderBlacklisting,
    Refund,
    Slashing,
    StakeChange,
    StakeMinimumChange,
    SubmittedWork,
    Sweep,
    TopUp,
    TreasuryChange,
    Unbonding,
    VoidedRelease,
    VoteCast,
    VoteRecount,
    Withdrawal,
    WorkInvalidation,
)
from hub.metadata import publish_metadata
from tests.hub.helpers import (
    INJ,
    LOCKED_WINDOW_S,
    SHORT_UNBONDING_S,
    UNBONDING_S,
    deploy_governance,
    node_and_pool,
    wait_for_chain_time,
    wait_for_next_block_second,
)


def _mined(client, result) -> int:
    """The result's transaction facts are the receipt's; returns the block's timestamp."""
    receipt = client.w3.eth.get_transaction_receipt(result.tx_hash)
    assert receipt["status"] == 1
    assert (receipt["blockNumber"], receipt["gasUsed"]) == (result.block_number, result.gas_used)
    return client.w3.eth.get_block(result.block_number)["timestamp"]


def test_provider_stake_and_node_results(short_unbonding_world) -> None:
    world = short_unbonding_world  # the withdraw at the end waits for the unbond to mature
    provider = world.actor("res-provider")
    node = world.actor("res-node", fund_wei=INJ)
    as_provider, as_node, as_validator = (world.client(a) for a in (provider, node, world.validator))
    stake, registry = as_provider.stake, as_provider.registry

    registered = as_provider.hub.register_provider(5 * INJ)
    assert isinstance(registered, StakeChange)
    _mined(as_provider, registered)
    assert (registered.account, registered.amount, registered.stake) == (
        provider.address,
        5 * INJ,
        stake.stake_of(provider.address),
    )
    added_stake = as_provider.hub.increase_stake(2 * INJ)
    assert (added_stake.amount, added_stake.stake) == (2 * INJ, stake.stake_of(provider.address))

    unbond = as_provider.hub.reclaim_stake(INJ)
    assert isinstance(unbond, Unbonding)
    block_time = _mined(as_provider, unbond)
    assert (unbond.amount, unbond.stake) == (INJ, stake.stake_of(provider.address))
    assert unbond.unlocks_at == stake.pending_unbonds(provider.address)[-1].maturity == block_time + SHORT_UNBONDING_S
    rebonded = as_provider.hub.rebond_stake(INJ // 2)
    assert (rebonded.amount, rebonded.stake) == (INJ // 2, stake.stake_of(provider.address))
    assert stake.unbonding_of(provider.address) == INJ // 2

    attestation = as_node.hub.attest_node(provider.address, 2, "ipfs://specs")
    added = as_provider.hub.add_compute_node(attestation)
    assert isinstance(added, NodeRegistration)
    record = registry.node(node.address)
    assert (added.provider, added.node, added.compute_units, added.specs_uri) == (
        record.provider,
        node.address,
        record.compute_units,
        "ipfs://specs",
    )
    assert added.nonce == attestation.nonce == registry.node_nonce(node.address) - 1

    validated = as_validator.hub.validate_node(node.address)
    assert isinstance(validated, NodeValidation)
    assert (validated.provider, validated.node, validated.validated) == (
        provider.address,
        node.address,
        registry.node(node.address).validated,
    )
    assert validated.validated
    invalidated = as_validator.hub.invalidate_node(node.address)
    assert invalidated.validated is registry.node(node.address).validated is False

    removed = as_provider.hub.remove_compute_node(node.address)
    assert isinstance(removed, NodeRemoval)
    assert (removed.provider, removed.node, removed.compute_units) == (provider.address, node.address, 2)
    assert registry.node(node.address).provider is None and registry.provider(provider.address).total_compute == 0

    active, pending = stake.stake_of(provider.address), stake.slashed_pending()
    slashed = as_validator.hub.slash(provider.address, INJ, "results test")
    assert isinstance(slashed, Slashing)
    assert (slashed.provider, slashed.requested, slashed.reason) == (provider.address, INJ, "results test")
    assert slashed.slashed == slashed.from_stake == active - stake.stake_of(provider.address) > 0
    assert slashed.from_unbonding == 0 and stake.slashed_pending() == pending + slashed.slashed

    treasury = as_provider.hub.treasury()
    before = as_provider.balance(treasury)
    waiting = stake.slashed_pending()
    swept = as_provider.stake.sweep_slashed()  # anyone may: the provider pays the gas, not the treasury
    assert isinstance(swept, Sweep)
    assert (swept.treasury, swept.amount) == (treasury, waiting)
    assert as_provider.balance(treasury) == before + swept.amount and stake.slashed_pending() == 0

    left = stake.stake_of(provider.address)
    gone = as_provider.hub.deregister_provider()
    assert isinstance(gone, Unbonding)
    assert (gone.account, gone.amount, gone.stake) == (provider.address, left, stake.stake_of(provider.address))
    assert gone.stake == 0 and gone.unlocks_at == stake.pending_unbonds(provider.address)[-1].maturity

    wait_for_chain_time(as_provider, gone.unlocks_at)
    before = as_provider.balance()
    paid = as_provider.stake.withdraw()
    assert isinstance(paid, Withdrawal)
    assert (paid.account, paid.amount) == (provider.address, INJ // 2 + left)
    assert as_provider.balance() == before + paid.amount - paid.fee
    assert stake.unbonding_of(provider.address) == 0


def test_pool_and_work_results(world, tmp_path: Path) -> None:
    provider = world.actor("res-provider")
    node = world.actor("res-node", fund_wei=INJ)
    creator = world.actor("res-creator")
    manager = world.actor("res-manager", fund_wei=INJ)
    as_provider, as_node, as_creator, as_manager, as_validator = (
        world.client(a) for a in (provider, node, creator, manager, world.validator)
    )
    as_provider.hub.register_provider(5 * INJ)
    as_provider.hub.add_compute_node(as_node.hub.attest_node(provider.address, 2, "ipfs://specs"))
    as_validator.hub.validate_node(node.address)
    as_validator.hub.whitelist_provider(provider.address)
    meta = tmp_path / "pool.json"
    meta.write_text('{"run_id": "results", "bootstrap_peers": []}')

    # work stays locked through the test (LOCKED_WINDOW_S), so the hard invalidation voids it
    created = as_creator.pool.create(
        1, publish_metadata(meta), budget=INJ, reward_per_unit=10**6, challenge_window=LOCKED_WINDOW_S, compute_limit=10
    )
    assert isinstance(created, PoolCreation)
    _mined(as_creator, created)
    pool_id = created.pool_id
    pool, budget = as_creator.pool.get(pool_id), as_creator.rewards.budget(pool_id)
    assert pool_id == as_creator.pool.count()
    assert (created.domain_id, created.creator, created.manager, created.compute_limit) == (
        pool.domain_id,
        pool.creator,
        pool.manager,
        pool.compute_limit,
    )
    assert (created.budget, created.reward_per_unit, created.challenge_window) == (
        budget.funded,
        budget.reward_per_unit,
        budget.challenge_window,
    )

    handed = as_creator.pool.set_manager(pool_id, manager.address)
    assert isinstance(handed, ManagerChange)
    assert (handed.pool_id, handed.manager) == (pool_id, as_creator.pool.get(pool_id).manager)

    joined = as_node.pool.join(as_manager.pool.invite(pool_id, node.address))
    assert isinstance(joined, NodeJoin)
    assert (joined.pool_id, joined.node, joined.provider) == (pool_id, node.address, provider.address)
    assert joined.compute_units == as_node.pool.get(pool_id).total_compute == 2
    assert as_node.pool.active_pool_of(node.address) == pool_id

    started = as_creator.pool.start(pool_id)
    assert isinstance(started, PoolStatusChange)
    assert (started.pool_id, started.status) == (pool_id, as_creator.pool.get(pool_id).status)
    assert started.status == PoolStatus.ACTIVE

    topped = as_creator.rewards.top_up(pool_id, INJ // 2)
    assert isinstance(topped, TopUp)
    assert (topped.pool_id, topped.amount) == (pool_id, INJ // 2)
    assert topped.available == as_creator.rewards.budget(pool_id).available == INJ + INJ // 2

    keys = [make_work_key(pool_id, "results-peer", epoch) for epoch in (1, 2, 3)]
    wait_for_next_block_second(as_node)
    first = as_node.pool.submit_work(pool_id, keys[0], 100)
    assert isinstance(first, SubmittedWork)
    work = as_node.rewards.work(pool_id, node.address, keys[0])
    assert (first.pool_id, first.node, first.work_key, first.provider) == (pool_id, work.node, keys[0], work.provider)
    assert (first.units, first.reward, first.unlocks_at) == (work.units, work.reward, work.unlocks_at)
    # claimable once the whole window has passed
    assert first.unlocks_at == _mined(as_node, first) + LOCKED_WINDOW_S + 1

    soft = as_validator.pool.invalidate_work(pool_id, node.address, keys[0])
    assert isinstance(soft, WorkInvalidation)
    assert (soft.pool_id, soft.node, soft.work_key, soft.units, soft.reward) == (
        pool_id,
        node.address,
        keys[0],
        100,
        first.reward,
    )
    assert soft.hard is False and soft.slashed == 0
    assert as_node.rewards.work(pool_id, node.address, keys[0]).state == WorkState.INVALIDATED

    wait_for_next_block_second(as_node)
    locked = as_node.pool.submit_work(pool_id, keys[1], 50)

    left = as_node.pool.leave(pool_id)
    assert isinstance(left, NodeLeave)
    assert (left.pool_id, left.node, left.provider, left.compute_units, left.reason) == (
        pool_id,
        node.address,
        provider.address,
        2,
        "left",
    )
    assert as_node.pool.active_pool_of(node.address) == 0 and as_node.pool.get(pool_id).total_compute == 0
    as_node.pool.join(as_manager.pool.invite(pool_id, node.address))
    ejected = as_manager.pool.eject(pool_id, node.address)
    assert (ejected.node, ejected.reason) == (node.address, "ejected")
    assert as_node.pool.active_pool_of(node.address) == 0

    outsider = Account.create().address
    barred = as_manager.pool.blacklist_node(pool_id, outsider)
    assert isinstance(barred, NodeBlacklisting)
    assert (barred.pool_id, barred.node, barred.left) == (pool_id, outsider, False)

    as_node.pool.join(as_manager.pool.invite(pool_id, node.address))
    wait_for_next_block_second(as_node)
    fraud = as_node.pool.submit_work(pool_id, keys[2], 70)
    stake_before = as_provider.stake.stake_of(provider.address)
    hard = as_validator.pool.hard_invalidate_work(pool_id, node.address, keys[2], slash_amount=INJ, reason="inflated")
    assert (hard.work_key, hard.units, hard.reward, hard.hard) == (keys[2], 70, fraud.reward, True)
    assert hard.slashed == stake_before - as_provider.stake.stake_of(provider.address) == INJ
    assert as_node.pool.active_pool_of(node.address) == 0
    assert as_node.rewards.work(pool_id, node.address, keys[1]).state == WorkState.VOIDED

    available = as_creator.rewards.budget(pool_id).available
    released = as_manager.rewards.release_voided(pool_id)
    assert isinstance(released, VoidedRelease)
    assert (released.pool_id, released.count, released.amount) == (pool_id, 1, locked.reward)
    assert as_creator.rewards.budget(pool_id).available == available + released.amount

    barring = as_manager.pool.blacklist_provider(pool_id, provider.address)
    assert isinstance(barring, ProviderBarring)
    assert (barring.pool_id, barring.provider) == (pool_id, provider.address)
    assert barring.nodes_removed == len(as_manager.pool.members(pool_id)) == 0  # its node was already out

    ended = as_creator.pool.end(pool_id)
    assert ended.status == as_creator.pool.get(pool_id).status == PoolStatus.COMPLETED
    unused = as_creator.rewards.budget(pool_id).available
    before = as_creator.balance()
    refunded = as_creator.rewards.refund(pool_id)
    assert isinstance(refunded, Refund)
    assert (refunded.pool_id, refunded.creator, refunded.amount) == (pool_id, creator.address, unused)
    assert as_creator.balance() == before + refunded.amount - refunded.fee
    assert as_creator.rewards.budget(pool_id).refunded == refunded.amount


def test_network_blacklisting_names_the_nodes_it_released(world, tmp_path: Path) -> None:
    setup = node_and_pool(world, "res-bl", {"run_id": "results-bl", "bootstrap_peers": []}, tmp_path)
    setup.approve()
    setup.join_and_start()
    result = world.client(world.validator).hub.blacklist_provider(setup.provider.address)
    assert isinstance(result, ProviderBlacklisting)
    assert (result.provider, result.released) == (setup.provider.address, (setup.node.address,))
    assert setup.as_node.pool.active_pool_of(setup.node.address) == 0
    assert setup.as_provider.registry.provider(setup.provider.address).blacklisted


def test_settings_results(world) -> None:
    admin = world.client(world.admin)
    domain = admin.hub.create_domain("results-domain", uri="ipfs://domain")
    assert isinstance(domain, DomainCreation)
    stored = admin.domains.get(domain.domain_id)
    assert domain.domain_id == admin.domains.count()
    assert (domain.name, domain.validation_logic, domain.uri) == (stored.name, stored.validation_logic, stored.uri)

    minimum = admin.hub.min_stake_per_compute_unit()
    raised = admin.hub.set_stake_minimum(minimum + 1)
    try:
        assert isinstance(raised, StakeMinimumChange)
        assert (raised.previous, raised.current) == (minimum, admin.hub.min_stake_per_compute_unit())
    finally:
        admin.hub.set_stake_minimum(minimum)  # the session deployment is shared

    treasury = admin.hub.treasury()
    elsewhere = Account.create().address
    moved = admin.hub.set_treasury(elsewhere)
    try:
        assert isinstance(moved, TreasuryChange)
        assert (moved.previous, moved.current) == (treasury, admin.hub.treasury())
        assert moved.current == elsewhere
    finally:
        admin.hub.set_treasury(treasury)


@pytest.fixture
def gov_client(world, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A client factory for a fresh system with governance (0 s voting delay, 10 s vote, 1 s
    timelock), deployed into its own folder so the session deployment keeps its powers."""
    from hub.devkeys import LOCAL_CHAIN_ID
    from hub.manifest import load_deployment

    folder = tmp_path / "gov-deployments"
    monkeypatch.setenv("HUB_DEPLOYMENTS_DIR", str(folder))
    deploy_governance(world.validator.address, unbonding_s=UNBONDING_S, voting_period_s=10, timelock_s=1)
    deployment = load_deployment(LOCAL_CHAIN_ID, folder)
    w3 = world.client().w3
    return lambda actor: HubClient(w3, deployment, actor.account, chain_id=LOCAL_CHAIN_ID)


def test_governance_results(world, gov_client) -> None:
    voter = world.actor("res-voter")
    as_voter, as_validator = gov_client(voter), gov_client(world.validator)
    as_voter.hub.register_provider(4 * INJ)
    gov = as_voter.governance

    proposed = gov.propose([gov.stake_minimum_call(2 * INJ)], "results")
    assert isinstance(proposed, ProposalCreation)
    proposal = gov.proposal(proposed.proposal_id)
    assert proposed.proposal_id == gov.proposal_count() and proposed.proposer == voter.address == proposal.proposer
    assert (proposed.vote_start, proposed.vote_end, proposed.quorum) == (
        proposal.vote_start,
        proposal.vote_end,
        proposal.quorum,
    )

    vote = gov.vote(proposed.proposal_id, 1)
    assert isinstance(vote, VoteCast)
    assert (vote.proposal_id, vote.voter, vote.support, vote.weight) == (
        proposed.proposal_id,
        voter.address,
        *gov.vote_of(proposed.proposal_id, voter.address),
    )
    assert vote.weight == 4 * INJ

    # a slash during the vote: anyone lowers the vote to the stake left
    slashed = as_validator.hub.slash(voter.address, INJ, "results test").slashed
    recount = as_validator.governance.recount(proposed.proposal_id, voter.address)
    assert isinstance(recount, VoteRecount)
    assert (recount.previous_weight, recount.weight) == (4 * INJ, 4 * INJ - slashed)
    assert (
        recount.weight
        == gov.vote_of(proposed.proposal_id, voter.address)[1]
        == gov.proposal(proposed.proposal_id).for_votes
    )

    wait_for_chain_time(as_voter, proposed.vote_end + 1)
    queued = gov.queue(proposed.proposal_id)
    assert isinstance(queued, ProposalQueued)
    assert (queued.proposal_id, queued.eta) == (proposed.proposal_id, gov.proposal(proposed.proposal_id).eta)
