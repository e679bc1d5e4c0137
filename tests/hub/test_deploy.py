"""`hub deploy` on a real local chain: the manifest, idempotence, resuming after a crash and a
killed node without deploying anything twice, and a `--governance` hand-over killed part-way."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from web3.utils.address import get_create_address

from hub.accounts import import_dev_account
from hub.build import load_artifact
from hub.contracts import DEPLOYABLE, MODULES
from hub.deployer import (
    GOV_DEPLOY,
    GOV_FEDERATOR,
    GOV_RENOUNCE,
    GOVERNANCE,
    GOVERNANCE_STEPS,
    STEP_NAMES,
    _role_holders,
    deploy,
)
from hub.devkeys import LOCAL_CHAIN_ID, dev_account
from hub.devnet import Devnet
from hub.errors import HubError
from hub.inputs import role_id
from hub.manifest import GovernanceSettings, load_deployment, manifest_path, read_deployment
from hub.networks import Network, connect
from tests.hub.helpers import FAST_KDF, MAX_RATE, MIN_STAKE, TEST_PASSWORD, UNBONDING_S, run_hub


def test_manifest_matches_the_chain(world) -> None:
    d = load_deployment(LOCAL_CHAIN_ID, world.deployments_dir)
    w3 = world.client().w3
    assert d.complete and d.chain_id == LOCAL_CHAIN_ID and d.network == "local"
    assert d.deployer == world.admin.address
    assert d.compiler_version == load_artifact("InjectiveAiHub").compiler_version
    assert d.params.unbonding_period == UNBONDING_S and d.params.min_stake_per_compute_unit == MIN_STAKE
    assert d.params.max_units_per_compute_unit_per_second == MAX_RATE
    assert (d.params.federator, d.params.validator) == (world.admin.address, world.validator.address)
    assert [s.name for s in d.steps] == list(STEP_NAMES) and all(s.status == "done" for s in d.steps)
    # one transaction per step, consecutive nonces, each contract at the address its nonce gives
    first = d.steps[0].nonce
    assert [s.nonce for s in d.steps] == list(range(first, first + len(STEP_NAMES)))
    for name, step in zip(DEPLOYABLE, d.steps, strict=False):
        record = d.contracts[name]
        artifact = load_artifact(name)
        assert record.address == step.contract_address == get_create_address(d.deployer, step.nonce)
        # runtime code followed by the immutables
        assert w3.eth.get_code(record.address).hex().startswith(artifact.bytecode_runtime.removeprefix("0x"))
        assert record.sources == artifact.sources and record.abi == artifact.abi
        receipt = w3.eth.get_transaction_receipt(record.tx_hash)
        assert receipt["status"] == 1 and receipt["blockNumber"] == record.block == step.block
    client = world.client()
    hub = client.hub.contract.functions
    assert [
        hub.computeRegistry().call(),
        hub.domainRegistry().call(),
        hub.stakeManager().call(),
        hub.computePool().call(),
        hub.rewardsDistributor().call(),
    ] == [d.address(m) for m in MODULES]
    assert client.hub.min_stake_per_compute_unit() == MIN_STAKE
    assert client.stake.unbonding_period() == UNBONDING_S
    assert client.hub.roles_of(world.admin.address) == ["admin", "federator"]
    assert client.hub.roles_of(world.validator.address) == ["validator"]
    domain = client.domains.get(d.default_domain_id)
    assert (domain.name, domain.validation_logic) == ("default", d.address("WorkRateValidator"))


def test_a_finished_deployment_is_not_redone(world) -> None:
    w3 = world.client().w3
    nonce = w3.eth.get_transaction_count(world.admin.address)
    before = manifest_path(LOCAL_CHAIN_ID, world.deployments_dir).read_text()
    out = run_hub("deploy", "--account", "admin").output
    assert "already deployed on chain 777" in out and "nothing sent" in out
    assert w3.eth.get_transaction_count(world.admin.address) == nonce
    assert manifest_path(LOCAL_CHAIN_ID, world.deployments_dir).read_text() == before


def test_changed_parameters_on_a_finished_deployment_are_named_not_ignored(world) -> None:
    w3 = world.client().w3
    nonce = w3.eth.get_transaction_count(world.admin.address)
    before = manifest_path(LOCAL_CHAIN_ID, world.deployments_dir).read_text()
    result = run_hub("deploy", "--account", "admin", "--min-stake", "2", "--unbonding-period", "9s", ok=False)
    assert result.exit_code == 1 and result.output.count("\n") == 1, result.output
    assert f"min_stake_per_compute_unit: deployed {MIN_STAKE}, asked {2 * MIN_STAKE}" in result.output
    assert f"unbonding_period: deployed {UNBONDING_S}, asked 9" in result.output
    assert "--fresh" in result.output and "hub federator set-stake-minimum" in result.output
    # the same parameters as deployed are not a change
    run_hub("deploy", "--account", "admin", "--unbonding-period", f"{UNBONDING_S}s")
    assert w3.eth.get_transaction_count(world.admin.address) == nonce
    assert manifest_path(LOCAL_CHAIN_ID, world.deployments_dir).read_text() == before


def test_mainnet_needs_confirmation() -> None:
    mainnet = SimpleNamespace(eth=SimpleNamespace(chain_id=1776))
    with pytest.raises(HubError, match="MAINNET .* needs explicit confirmation"):
        deploy(mainnet, dev_account(0), network="injective-mainnet")


# -- crash, kill the node, resume ---------------------------------------------------------------

_CRASHING_DEPLOY = """
import os, sys
from pathlib import Path
from hub.contracts import SystemParams
from hub.deployer import deploy
from hub.devkeys import dev_account
from hub.networks import Network, connect

from hub.manifest import GovernanceSettings

rpc, directory, event, step = sys.argv[1:5]
# with --governance: the settings as JSON
governance = GovernanceSettings.model_validate_json(sys.argv[5]) if len(sys.argv) > 5 else None

def crash(seen, record):
    if seen == event and record.name == step:
        os._exit(17)  # as abrupt as a kill: no cleanup, no manifest write after this point

w3 = connect(Network(name="local", rpc_url=rpc, chain_id=777))
deploy(w3, dev_account(0), network="local", params=SystemParams(unbonding_period=3),
       directory=Path(directory), on_event=crash, governance=governance)
"""


def _crashing_deploy(rpc: str, directory: Path, event: str, step: str, governance: str | None = None) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            _CRASHING_DEPLOY,
            rpc,
            str(directory),
            event,
            step,
            *([governance] if governance else []),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 17, proc.stdout + proc.stderr


def test_resume_after_crashes_and_a_killed_node(make_devnet, tmp_path: Path) -> None:
    chain = make_devnet("resume")
    chain.start()
    w3 = connect(Network(name="local", rpc_url=chain.rpc_url, chain_id=LOCAL_CHAIN_ID))
    deployer = dev_account(0).address
    directory = tmp_path / "deployments"
    path = manifest_path(LOCAL_CHAIN_ID, directory)

    # 1. dies after signing and recording step 3, before sending it
    _crashing_deploy(chain.rpc_url, directory, "planned", "deploy DomainRegistry")
    manifest = json.loads(path.read_text())
    assert manifest["status"] == "in progress"
    assert [s["status"] for s in manifest["steps"]] == ["done", "done", "planned"]
    assert w3.eth.get_transaction_count(deployer) == 2  # step 3 never left

    # a resume must use the same deployer and parameters
    with pytest.raises(HubError, match="is by 0xf39F.*not 0x7099"):
        deploy(w3, dev_account(1), network="local", directory=directory)
    with pytest.raises(HubError, match="started with other parameters"):
        deploy(w3, dev_account(0), network="local", directory=directory, federator=dev_account(2).address)

    # 2. resumes (re-sends step 3's signed bytes), then dies right after sending step 6
    _crashing_deploy(chain.rpc_url, directory, "sent", "deploy RewardsDistributor")
    manifest = json.loads(path.read_text())
    assert [s["status"] for s in manifest["steps"]] == ["done"] * 5 + ["planned"]
    planned = manifest["steps"][-1]

    # 3. the node dies too (its mempool with it, if step 6 was not in a block yet), then restarts
    pid = chain.pid()
    os.kill(pid, signal.SIGKILL)
    assert Devnet._wait_exit(pid, 10)
    chain.start()

    # 4. a rerun picks up there; it dies again after signing the wiring step...
    _crashing_deploy(chain.rpc_url, directory, "planned", "wire modules")
    manifest = json.loads(path.read_text())
    assert manifest["steps"][5]["tx_hash"] == planned["tx_hash"]  # the recorded transaction, never a new one
    assert [s["status"] for s in manifest["steps"]] == ["done"] * 7 + ["planned"]
    lost = manifest["steps"][-1]
    # ...and the deployer account spends that nonce on something else meanwhile
    signer = dev_account(0)
    stray = {
        "type": 2,
        "chainId": LOCAL_CHAIN_ID,
        "nonce": lost["nonce"],
        "to": deployer,
        "value": 0,
        "gas": 21_000,
        "maxFeePerGas": w3.eth.get_block("latest")["baseFeePerGas"],
        "maxPriorityFeePerGas": 0,
    }
    w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(signer.sign_transaction(stray).raw_transaction))

    # 5. the last rerun finishes: the lost step is signed anew, nothing is deployed twice
    events: list[tuple[str, str]] = []
    result = deploy(
        w3, dev_account(0), network="local", directory=directory, on_event=lambda e, s: events.append((e, s.name))
    )
    d = result.deployment
    assert result.resumed and d.complete
    assert [e for e in events if e[0] == "planned"] == [("planned", n) for n in STEP_NAMES[7:]]
    assert d.steps[7].nonce == lost["nonce"] + 1 and d.steps[7].tx_hash != lost["tx_hash"]
    assert w3.eth.get_transaction_count(deployer) == len(STEP_NAMES) + 1  # + the stray transfer
    for nonce, name in enumerate(DEPLOYABLE):
        assert d.address(name) == get_create_address(deployer, nonce)
        assert len(w3.eth.get_code(d.address(name))) > 0
    hub = w3.eth.contract(address=d.address("InjectiveAiHub"), abi=d.abi("InjectiveAiHub"))
    assert hub.functions.computePool().call() == d.address("ComputePool")
    assert hub.functions.minStakePerComputeUnit().call() == d.params.min_stake_per_compute_unit
    assert d.default_domain_id == 1

    # 6. and a finished deployment is left alone
    again = deploy(w3, dev_account(0), network="local", directory=directory)
    assert again.already_complete and again.transactions_sent == 0
    assert w3.eth.get_transaction_count(deployer) == len(STEP_NAMES) + 1


def test_a_reset_chain_is_detected_and_fresh_starts_over(make_devnet, tmp_path: Path) -> None:
    chain = make_devnet("reset")
    chain.start()
    w3 = connect(Network(name="local", rpc_url=chain.rpc_url, chain_id=LOCAL_CHAIN_ID))
    directory = tmp_path / "deployments"
    first = deploy(w3, dev_account(0), network="local", directory=directory)
    chain.reset()
    chain.start()
    with pytest.raises(HubError, match="without code .*was the chain reset"):
        deploy(w3, dev_account(0), network="local", directory=directory)
    again = deploy(w3, dev_account(0), network="local", directory=directory, fresh=True)
    assert again.deployment.complete and not again.resumed
    assert again.deployment.address("InjectiveAiHub") == first.deployment.address("InjectiveAiHub")
    assert len(list(directory.glob("777.json.*.bak"))) == 1


# -- `hub deploy --governance` killed part-way through the hand-over ---------------------------

_GUARDIAN = dev_account(4).address
_GOV_ARGS = (
    *("--unbonding-period", "3s", "--governance", "--voting-delay", "0s", "--voting-period", "2s"),
    *("--timelock-delay", "1s", "--quorum", "20", "--proposal-threshold", "1"),
    *("--guardian", _GUARDIAN, "--guardian-period", "60s"),
)
# the same settings as the library takes them, for the runs that are killed
_GOV_SETTINGS = GovernanceSettings(
    voting_delay=0,
    voting_period=2,
    timelock_delay=1,
    quorum_bps=2_000,
    proposal_threshold=10**18,
    guardian=_GUARDIAN,
    guardian_period=60,
)


def _handed_over_state(w3, d) -> dict:
    """What the hand-over leaves on chain and in the manifest, with each address named by what it
    is in this deployment, so that two deployments by different accounts compare equal."""
    names = {d.deployer: "deployer", d.address(GOVERNANCE): "governance", _GUARDIAN: "guardian"}
    hub = w3.eth.contract(address=d.address("InjectiveAiHub"), abi=d.abi("InjectiveAiHub")).functions
    gov = w3.eth.contract(address=d.address(GOVERNANCE), abi=d.abi(GOVERNANCE)).functions
    stake = w3.eth.contract(address=d.address("StakeManager"), abi=d.abi("StakeManager")).functions
    gov_deployed = w3.eth.get_block(d.step(GOV_DEPLOY).block)["timestamp"]
    first = d.steps[0].nonce
    return {
        "status": d.status,
        "steps": [(s.name, s.status) for s in d.steps],
        # one transaction per step, in order, none sent twice, and nothing else sent
        "nonces": [s.nonce - first for s in d.steps],
        "transactions": w3.eth.get_transaction_count(d.deployer) - first,
        "contracts at their nonce": [
            d.address(step.name.removeprefix("deploy ")) == get_create_address(d.deployer, step.nonce)
            for step in d.steps
            if step.name.startswith("deploy ")
        ],
        "roles": {
            role: sorted(names.get(a, a) for a in _role_holders(w3, d, role_id(role)))
            for role in ("admin", "federator", "validator")
        },
        "stake manager's governance": names.get(stake.governance().call()),
        "treasury": names.get(hub.treasury().call()),
        "min stake": hub.minStakePerComputeUnit().call(),
        "wired": [hub.computePool().call(), hub.stakeManager().call()]
        == [d.address("ComputePool"), d.address("StakeManager")],
        "governance": (
            gov.HUB().call() == d.address("InjectiveAiHub"),
            gov.STAKE_MANAGER().call() == d.address("StakeManager"),
            gov.votingDelay().call(),
            gov.votingPeriod().call(),
            gov.timelockDelay().call(),
            gov.quorumBps().call(),
            gov.proposalThreshold().call(),
            names.get(gov.GUARDIAN().call()),
            gov.GUARDIAN_UNTIL().call() - gov_deployed,
        ),
    }


def test_deploy_governance_killed_mid_handover_resumes_to_the_uninterrupted_state(
    make_devnet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chain = make_devnet("gov-resume")
    chain.start()
    w3 = connect(Network(name="local", rpc_url=chain.rpc_url, chain_id=LOCAL_CHAIN_ID))
    keystores = tmp_path / "keystores"
    import_dev_account(0, TEST_PASSWORD, name="admin", directory=keystores, kdf_iterations=FAST_KDF)
    import_dev_account(1, TEST_PASSWORD, name="other", directory=keystores, kdf_iterations=FAST_KDF)
    for name, value in (
        ("HUB_RPC_URL", chain.rpc_url),
        ("HUB_KEYSTORE_DIR", keystores),
        ("HUB_PASSWORD", TEST_PASSWORD),
    ):
        monkeypatch.setenv(name, str(value))
    deployer = dev_account(0).address
    killed, uninterrupted = tmp_path / "killed", tmp_path / "uninterrupted"
    path = manifest_path(LOCAL_CHAIN_ID, killed)
    settings = _GOV_SETTINGS.model_dump_json()

    # 1. dies right after sending the fourth hand-over step: governance is an admin beside the deployer
    _crashing_deploy(chain.rpc_url, killed, "sent", GOV_FEDERATOR, settings)
    d = read_deployment(path)
    assert d.status == "in progress"
    assert [s.name for s in d.steps] == [*STEP_NAMES, *GOVERNANCE_STEPS[:4]]
    assert [s.status for s in d.steps] == ["done"] * (len(STEP_NAMES) + 3) + ["planned"]
    hub = w3.eth.contract(address=d.address("InjectiveAiHub"), abi=d.abi("InjectiveAiHub")).functions
    assert hub.hasRole(role_id("admin"), d.address(GOVERNANCE)).call()
    assert hub.hasRole(role_id("admin"), deployer).call() and hub.hasRole(role_id("federator"), deployer).call()

    # 2. resumed by the library, dies again after signing and recording the last step, before sending it
    _crashing_deploy(chain.rpc_url, killed, "planned", GOV_RENOUNCE, settings)
    manifest = json.loads(path.read_text())
    assert [s["status"] for s in manifest["steps"]] == ["done"] * (len(STEP_NAMES) + 5) + ["planned"]
    renounce = manifest["steps"][-1]
    assert w3.eth.get_transaction_count(deployer) == renounce["nonce"]  # it never left
    assert hub.hasRole(role_id("admin"), deployer).call() and not hub.hasRole(role_id("federator"), deployer).call()

    # 3. the command as typed finishes it: the recorded transaction is sent, nothing is redone
    out = run_hub("deploy", "--account", "admin", *_GOV_ARGS, env={"HUB_DEPLOYMENTS_DIR": str(killed)}).output
    assert "resumed and finished" in out and "with 1 transactions" in out, out
    assert "governance holds the admin and federator roles" in out
    resumed = load_deployment(LOCAL_CHAIN_ID, killed)
    assert resumed.step(GOV_RENOUNCE).tx_hash == renounce["tx_hash"]

    # 4. the same command, never interrupted, by another account: the same final state
    out = run_hub("deploy", "--account", "other", *_GOV_ARGS, env={"HUB_DEPLOYMENTS_DIR": str(uninterrupted)}).output
    assert "deployed on chain" in out and "resumed" not in out, out
    reference = load_deployment(LOCAL_CHAIN_ID, uninterrupted)
    expected = _handed_over_state(w3, reference)
    assert expected["roles"] == {"admin": ["governance"], "federator": ["governance"], "validator": ["deployer"]}
    assert expected["nonces"] == list(range(len(STEP_NAMES) + len(GOVERNANCE_STEPS)))
    assert _handed_over_state(w3, resumed) == expected

    # 5. and a finished hand-over is left alone
    nonce = w3.eth.get_transaction_count(deployer)
    out = run_hub("deploy", "--account", "admin", *_GOV_ARGS, env={"HUB_DEPLOYMENTS_DIR": str(killed)}).output
    assert "already deployed" in out and w3.eth.get_transaction_count(deployer) == nonce
