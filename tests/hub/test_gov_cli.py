"""`hub deploy --governance` and `hub gov` on the real local chain (docs/SPEC.md 12).

A second system is deployed on the session chain into its own deployments folder, so handing its
powers to governance leaves the session deployment alone. Durations are real chain seconds: the
tests wait for chain time (block timestamps), never for a fixed sleep.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.devkeys import LOCAL_CHAIN_ID
from hub.inputs import role_id
from tests.hub.helpers import INJ, UNBONDING_S, deploy_governance, hub_json, run_hub, wait_for_chain_time

VOTING_PERIOD_S = 20  # seconds for the two votes and the refusals before its end, on a loaded machine
TIMELOCK_S = 4  # seconds: an execute right after the queue is usually inside it (either outcome is asserted)


def _one_error_line(result) -> str:
    assert result.exit_code != 0
    assert result.output.startswith("error: ") and result.output.count("\n") == 1, result.output
    return result.output


@pytest.fixture
def gov_world(world, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A fresh system deployed by `hub deploy --governance` (the admin dev account deploys)."""
    monkeypatch.setenv("HUB_DEPLOYMENTS_DIR", str(tmp_path / "gov-deployments"))
    out = deploy_governance(
        world.validator.address, unbonding_s=UNBONDING_S, voting_period_s=VOTING_PERIOD_S, timelock_s=TIMELOCK_S
    ).output
    assert "governance holds the admin and federator roles" in out
    return world


def _client(world, actor=None):
    from hub.client import HubClient
    from hub.manifest import load_deployment
    from hub.networks import Network, connect

    w3 = connect(Network(name="local", rpc_url=world.devnet.rpc_url, chain_id=LOCAL_CHAIN_ID))
    return HubClient(w3, load_deployment(LOCAL_CHAIN_ID), actor.account if actor else None, chain_id=LOCAL_CHAIN_ID)


def test_after_deploy_governance_no_key_changes_a_parameter(gov_world) -> None:
    client = _client(gov_world)
    gov = client.governance.address
    admin = gov_world.admin.address
    assert client.hub.has_role("admin", gov) and client.hub.has_role("federator", gov)
    assert client.hub.roles_of(admin) == []
    assert client.stake.contract.functions.governance().call() == gov
    before = client.hub.min_stake_per_compute_unit()
    as_admin = ["--account", "admin"]
    _one_error_line(run_hub("federator", "set-stake-minimum", "2", *as_admin, ok=False))
    _one_error_line(run_hub("admin", "grant", "federator", admin, *as_admin, ok=False))
    _one_error_line(run_hub("admin", "set-treasury", admin, *as_admin, ok=False))
    assert client.hub.min_stake_per_compute_unit() == before
    assert not client.hub.has_role(role_id("federator"), admin)
    # running it again changes nothing and sends nothing
    nonce = client.w3.eth.get_transaction_count(admin)
    assert (
        "already deployed"
        in run_hub(
            "deploy",
            "--account",
            "admin",
            "--governance",
            "--voting-delay",
            "0s",
            "--voting-period",
            f"{VOTING_PERIOD_S}s",
            "--timelock-delay",
            f"{TIMELOCK_S}s",
            "--quorum",
            "20",
            "--proposal-threshold",
            "1",
        ).output
    )
    assert client.w3.eth.get_transaction_count(admin) == nonce


def test_two_providers_vote_a_stake_minimum_change(gov_world) -> None:
    client = _client(gov_world)
    first = gov_world.actor("voter")
    second = gov_world.actor("voter")
    for voter, stake in ((first, "10"), (second, "5")):
        run_hub("provider", "register", "--stake", stake, "--account", voter.name)

    proposed = hub_json(
        "gov", "propose", "--set-stake-minimum", "2", "--description", "raise the minimum", "--account", first.name
    )
    pid = proposed["proposal_id"]
    assert proposed["calls"] == ["set the stake minimum to 2 INJ per unit"]

    # not yet: voting is open, nothing is queued
    assert "still being voted on" in _one_error_line(
        run_hub("gov", "queue", str(pid), "--account", second.name, ok=False)
    )
    for voter, weight in ((first, 10 * INJ), (second, 5 * INJ)):
        vote = hub_json("gov", "vote", str(pid), "for", "--account", voter.name)
        assert vote["weight"] == str(weight)
    # a voter's stake is locked until the vote ends
    locked = run_hub("provider", "stake", "reclaim", "1", "--account", first.name, ok=False)
    assert "locked by a vote" in _one_error_line(locked)
    assert "already voted" in _one_error_line(
        run_hub("gov", "vote", str(pid), "against", "--account", first.name, ok=False)
    )

    shown = hub_json("gov", "show", str(pid))["proposals"][0]
    assert (shown["state"], shown["for_votes"], shown["against_votes"]) == ("active", str(15 * INJ), "0")
    assert shown["quorum"] == str(3 * INJ)  # 20% of the 15 INJ this StakeManager holds

    wait_for_chain_time(client, shown["vote_end"], 60.0)
    queued = hub_json("gov", "queue", str(pid), "--account", second.name)
    # in the timelock `hub gov execute` refuses in one line, past it the execute goes through; the
    # command checks at a chain time between `before` and `after`, and each outcome is asserted where
    # chain time decides it (a loaded machine may take the whole timelock to start the command)
    before = client.now()
    early = run_hub("gov", "execute", str(pid), "--account", second.name, ok=False)
    after = client.now()
    if after < queued["eta"]:
        assert early.exit_code != 0, early.output
    if before >= queued["eta"]:
        assert early.exit_code == 0, early.output
    if early.exit_code != 0:
        assert "timelock" in _one_error_line(early)
        assert client.hub.min_stake_per_compute_unit() == INJ
        wait_for_chain_time(client, queued["eta"], 60.0)
        run_hub("gov", "execute", str(pid), "--account", second.name)
    assert client.hub.min_stake_per_compute_unit() == 2 * INJ
    assert hub_json("gov", "show")["proposals"][0]["state"] == "executed"
    # the vote has ended: the stake may unbond again
    run_hub("provider", "stake", "reclaim", "1", "--account", first.name)


def test_gov_commands_refuse_bad_input_in_one_line(gov_world) -> None:
    voter = gov_world.actor("voter")
    run_hub("provider", "register", "--stake", "2", "--account", voter.name)
    usage = run_hub("gov", "propose", "--description", "nothing", "--account", voter.name, ok=False)
    assert usage.exit_code == 2 and "changes nothing" in usage.output
    assert "invalid vote" in _one_error_line(run_hub("gov", "vote", "1", "maybe", "--account", voter.name, ok=False))
    assert "no proposal 7" in _one_error_line(run_hub("gov", "show", "7", ok=False))
    nobody = gov_world.actor("nobody")
    below = run_hub("gov", "propose", "--set-stake-minimum", "2", "-d", "x", "--account", nobody.name, ok=False)
    assert "active stake" in _one_error_line(below)
    # a live proposal: nobody but its proposer (before voting) or the guardian (queued) cancels it,
    # and a vote still backed by stake is not recounted
    pid = hub_json("gov", "propose", "--set-treasury", voter.address, "-d", "x", "--account", voter.name)["proposal_id"]
    refused = run_hub("gov", "cancel", str(pid), "--account", nobody.name, ok=False)
    assert "only the proposer before voting or the guardian" in _one_error_line(refused)
    run_hub("gov", "vote", str(pid), "against", "--account", voter.name)
    refused = run_hub("gov", "recount", str(pid), voter.address, "--account", nobody.name, ok=False)
    assert "still backed by active stake" in _one_error_line(refused)


def test_gov_needs_a_governance_deployment(world) -> None:
    assert "hub deploy --governance" in _one_error_line(run_hub("gov", "show", ok=False))
