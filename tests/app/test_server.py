"""The app server's contract with the page, without a browser: a transaction it builds is the one
the CLI's client would send (same binding, same calldata, priced the same way); refusals are the
CLI's sentences; an invite signature must come from the connected account; only JSON is accepted."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data

from tests.hub.helpers import INJ


def _call(url: str, path: str, body: dict | None = None, content_type: str = "application/json") -> tuple[int, dict]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url + path.lstrip("/"), data=data, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=60) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_a_built_transaction_is_the_one_the_cli_client_sends(world, served):
    provider = world.actor("srv-provider")
    client = world.client(provider)
    status, built = _call(
        served, "/api/build", {"action": "register", "from": provider.address, "params": {"stake": "3"}}
    )
    assert status == 200, built
    tx = built["tx"]
    assert built["kind"] == "tx" and built["action"] == "register provider"
    assert tx["to"] == client.hub.address
    assert tx["data"] == client.hub.contract.encode_abi("registerProvider", args=[])
    assert int(tx["value"], 16) == 3 * INJ
    assert int(tx["chainId"], 16) == client.chain_id and tx["from"] == provider.address
    estimate = client.w3.eth.estimate_gas(
        {"from": provider.address, "to": tx["to"], "data": tx["data"], "value": 3 * INJ}
    )
    assert int(tx["gas"], 16) >= estimate  # padded as the CLI pads it: Injective charges the whole limit
    # nothing was sent: building is not doing
    assert not client.registry.provider(provider.address).registered

    # the wallet's signature of exactly that request registers the provider
    signed = provider.account.sign_transaction(
        {
            "type": 2,
            "chainId": client.chain_id,
            "nonce": client.w3.eth.get_transaction_count(provider.address),
            "to": tx["to"],
            "data": tx["data"],
            "value": 3 * INJ,
            "gas": int(tx["gas"], 16),
            "maxFeePerGas": int(tx["maxFeePerGas"], 16),
            "maxPriorityFeePerGas": 0,
        }
    )
    tx_hash = "0x" + bytes(client.w3.eth.send_raw_transaction(signed.raw_transaction)).hex()
    client.w3.eth.wait_for_transaction_receipt(tx_hash, 60)
    status, state = _call(served, f"/api/tx?hash={tx_hash}")
    assert (status, state["state"]) == (200, "confirmed")
    assert client.registry.provider(provider.address).registered


@pytest.mark.parametrize(
    ("body", "sentence"),
    [
        ({"action": "register", "params": {"stake": "lots"}}, "invalid stake 'lots' (hint: write INJ as 100"),
        ({"action": "stake_add", "params": {"amount": "1"}}, "is not a registered provider (hint: register first"),
        ({"action": "node_add", "params": {"attestation": "{}"}}, "the node attestation is invalid at chain_id"),
        ({"action": "fly", "params": {}}, "unknown action 'fly' (hint: one of: register, "),
        ({"action": "claim", "params": {"pool_id": "1"}}, "no work keys to claim (hint: reload the page"),
        (
            {
                "action": "pool_create",
                "params": {
                    "run_id": "x",
                    "domain": "99",
                    "budget": "1",
                    "reward_per_unit": "1",
                    "challenge_window": "20s",
                },
            },
            "no domain 99 (hint: `hub status` lists the domains)",
        ),
        (
            {
                "action": "pool_create",
                "params": {"run_id": "bad id!", "budget": "1", "reward_per_unit": "1", "challenge_window": "20s"},
            },
            "the pool metadata is invalid at run_id",
        ),
    ],
)
def test_refusals_are_the_cli_sentences(world, served, body, sentence):
    account = world.actor("srv-refused", fund_wei=INJ)
    status, answer = _call(served, "/api/build", {**body, "from": account.address})
    assert status == 400
    assert sentence in answer["error"]


def test_an_invite_is_the_cli_typed_data_signed_by_the_connected_account(world, served, tmp_path):
    from hub import signatures
    from hub.client import PoolInvite
    from hub.metadata import publish_metadata

    operator, node = world.actor("srv-operator"), world.actor("srv-node", fund_wei=0)
    client = world.client(operator)
    meta = tmp_path / "pool.json"
    meta.write_text('{"run_id": "srv"}')
    pool_id = client.pool.create(1, publish_metadata(meta), budget=INJ, reward_per_unit=1, challenge_window=20).pool_id
    params = {"pool_id": str(pool_id), "node": node.address, "hours": "1"}
    status, built = _call(served, "/api/build", {"action": "pool_invite", "from": operator.address, "params": params})
    assert status == 200, built
    typed = built["typed_data"]
    message = typed["message"]
    assert built["kind"] == "sign" and typed["primaryType"] == "PoolInvite"
    # the same EIP-712 data `hub pool invite` signs (hub/signatures.py), carried as JSON
    expected = signatures.pool_invite(
        client.chain_id, client.pool.address, pool_id, node.address, int(message["nonce"]), int(message["deadline"])
    )
    assert typed["domain"] == expected["domain"] and typed["types"] == expected["types"]
    assert {k: str(v) for k, v in expected["message"].items()} == message
    assert int(message["deadline"]) - client.now() in range(3600 - 60, 3601)

    def signed_by(account) -> str:
        full = {
            **typed,
            "message": {
                **message,
                "poolId": pool_id,
                "nonce": int(message["nonce"]),
                "deadline": int(message["deadline"]),
            },
        }
        return "0x" + bytes(account.sign_message(encode_typed_data(full_message=full)).signature).hex()

    stranger = Account.create()
    status, answer = _call(
        served, "/api/invite", {"from": operator.address, "typed_data": typed, "signature": signed_by(stranger)}
    )
    assert status == 400
    assert (
        f"the invite was signed by {stranger.address}, not the connected account {operator.address}" in answer["error"]
    )

    status, answer = _call(
        served, "/api/invite", {"from": operator.address, "typed_data": typed, "signature": signed_by(operator.account)}
    )
    assert status == 200, answer
    invite = PoolInvite.model_validate(answer)
    # the file `hub node join --invite FILE` reads (the browser test joins a node with one)
    assert (invite.chain_id, invite.pool_contract, invite.pool_id, invite.node, invite.nonce) == (
        client.chain_id,
        client.pool.address,
        pool_id,
        node.address,
        int(message["nonce"]),
    )


def test_only_json_posts_are_accepted(served):
    status, answer = _call(served, "/api/build", {"action": "register"}, content_type="text/plain")
    assert status == 415
    assert "application/json" in answer["error"]


def test_a_deployment_without_governance_hides_it_and_says_how_to_get_it(world, served):
    status, config = _call(served, "/api/config")
    assert status == 200 and config["governance"] is False
    status, answer = _call(served, "/api/governance")
    assert status == 400 and "hub deploy --governance" in answer["error"]
    provider = world.actor("srv-gov")
    build = {"action": "gov_vote", "from": provider.address, "params": {"proposal_id": "1", "support": "for"}}
    status, answer = _call(served, "/api/build", build)
    assert status == 400 and "has no governance" in answer["error"]
