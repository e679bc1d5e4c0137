"""`hub deploy`: deploy and wire the system, resumably, and write the deployment manifest.

Steps, in order (the same order as the boa deployers in tests/utils/deployers.py):

1-7. deploy InjectiveAiHub(federator, validator), ComputeRegistry(hub), DomainRegistry(hub),
     StakeManager(hub, unbonding period), ComputePool(hub), RewardsDistributor(hub),
     WorkRateValidator(rate);
8.   hub.setModuleAddresses(...) by the deployer (the admin);
9.   hub.setStakeMinimum(min) and
10.  hub.createDomain(default) by the federator: done here when the deployer is the federator,
     else recorded as skipped (the federator runs `hub federator ...`);
with `--governance` (docs/SPEC.md 12.1), by the deployer as admin, on a new or a finished deployment:
11.  deploy Governance(hub, stake manager, parameters, guardian);
12.  stakeManager.setGovernance(governance);
13-14. grant DEFAULT_ADMIN and FEDERATOR_ROLE to governance;
15.  revoke FEDERATOR_ROLE from the federator key;
16.  renounce the deployer's DEFAULT_ADMIN: from here no key can change a parameter.

Each step is signed, then recorded in the manifest as `planned` with its hash, nonce and raw bytes,
then sent, then recorded `done` with its receipt. A rerun resolves every `planned` step before doing
anything new: a receipt by hash means it happened; an unused nonce means it never left (or the
node lost it) and the same signed bytes are sent again; a nonce used by something else means it
can never be mined, so the chain is checked for its effect (code at the address the deployer's
nonce gives, or the wired state) before a replacement is signed. So no contract is ever deployed
twice, and a finished deployment is never redone.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from hub.build import Artifact, load_artifact
from hub.contracts import DEPLOYABLE, MODULES, SystemParams
from hub.errors import HubError
from hub.manifest import (
    ContractRecord,
    Deployment,
    DeployParams,
    GovernanceSettings,
    StepRecord,
    manifest_lock,
    manifest_path,
    read_deployment,
    write_deployment,
)
from hub.networks import MAINNET_CHAIN_ID
from hub.tx import PreparedTx, Transactor, TxConfig

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount
    from web3 import Web3

# @dev Events reported to `on_event`: a step was signed and recorded, sent, or finished.
StepEvent = Literal["planned", "sent", "done", "skipped"]
WIRE, STAKE_MINIMUM, DEFAULT_DOMAIN = "wire modules", "set stake minimum", "create default domain"
STEP_NAMES = (*(f"deploy {name}" for name in DEPLOYABLE), WIRE, STAKE_MINIMUM, DEFAULT_DOMAIN)
GOVERNANCE = "Governance"
GOV_DEPLOY, GOV_SET = f"deploy {GOVERNANCE}", "set governance in the StakeManager"
GOV_ADMIN, GOV_FEDERATOR = "grant admin to governance", "grant federator to governance"
GOV_REVOKE, GOV_RENOUNCE = "revoke federator from its key", "renounce the deployer's admin"
# @dev In this order: the deployer gives up its admin role last, when nothing is left to do with it.
GOVERNANCE_STEPS = (GOV_DEPLOY, GOV_SET, GOV_ADMIN, GOV_FEDERATOR, GOV_REVOKE, GOV_RENOUNCE)
_ALL_STEPS = (*STEP_NAMES, *GOVERNANCE_STEPS)
_ADMIN_ROLE = b"\x00" * 32


@dataclass(frozen=True)
class DeployResult:
    deployment: Deployment
    path: Path
    # @dev The manifest was already complete: nothing was sent.
    already_complete: bool
    # @dev This run continued a deployment an earlier run had started.
    resumed: bool
    transactions_sent: int
    seconds: float


def _encode_constructor(artifact: Artifact, args: list[Any]) -> str:
    from eth_abi import encode

    inputs = next((e["inputs"] for e in artifact.abi if e.get("type") == "constructor"), [])
    return artifact.bytecode + encode([i["type"] for i in inputs], args).hex()


class _Deployer:
    def __init__(
        self,
        w3: Web3,
        tx: Transactor,
        deployment: Deployment,
        path: Path,
        on_event: Callable[[StepEvent, StepRecord], None] | None,
    ) -> None:
        self.w3 = w3
        self.tx = tx
        self.d = deployment
        self.path = path
        self.on_event = on_event or (lambda event, step: None)
        self.sent = 0

    # -- what each step sends

    def _contract(self, name: str):
        return self.w3.eth.contract(address=self.d.address(name), abi=self.d.abi(name))  # type: ignore[call-overload]

    def _call(self, step: str) -> tuple[str | None, str]:
        """(to, data) of step `step`."""
        p = self.d.params
        if step.startswith("deploy "):
            name = step.removeprefix("deploy ")
            artifact = load_artifact(name)
            if name == "InjectiveAiHub":
                args: list[Any] = [p.federator, p.validator]
            elif name == "StakeManager":
                args = [self.d.address("InjectiveAiHub"), p.unbonding_period]
            elif name == "WorkRateValidator":
                args = [p.max_units_per_compute_unit_per_second]
            elif name == GOVERNANCE:
                g = self.d.governance
                assert g is not None
                args = [
                    self.d.address("InjectiveAiHub"),
                    self.d.address("StakeManager"),
                    g.voting_delay,
                    g.voting_period,
                    g.timelock_delay,
                    g.quorum_bps,
                    g.proposal_threshold,
                    g.guardian or "0x" + "00" * 20,
                    g.guardian_period if g.guardian else 0,
                ]
            else:
                args = [self.d.address("InjectiveAiHub")]
            return None, _encode_constructor(artifact, args)
        hub = self._contract("InjectiveAiHub")
        if step in GOVERNANCE_STEPS:
            return self._governance_call(step, hub)
        if step == WIRE:
            return hub.address, hub.encode_abi("setModuleAddresses", args=[self.d.address(m) for m in MODULES])
        if step == STAKE_MINIMUM:
            return hub.address, hub.encode_abi("setStakeMinimum", args=[p.min_stake_per_compute_unit])
        validation = self.d.address("WorkRateValidator")
        return hub.address, hub.encode_abi(
            "createDomain", args=[p.default_domain_name, validation, p.default_domain_uri]
        )

    def _governance_call(self, step: str, hub: Any) -> tuple[str, str]:
        from hub.inputs import role_id

        governance = self.d.address(GOVERNANCE)
        if step == GOV_SET:
            stake = self._contract("StakeManager")
            return stake.address, stake.encode_abi("setGovernance", args=[governance])
        function, role, account = {
            GOV_ADMIN: ("grantRole", _ADMIN_ROLE, governance),
            GOV_FEDERATOR: ("grantRole", role_id("federator"), governance),
            GOV_REVOKE: ("revokeRole", role_id("federator"), self.d.params.federator),
            GOV_RENOUNCE: ("renounceRole", _ADMIN_ROLE, self.d.deployer),
        }[step]
        return hub.address, hub.encode_abi(function, args=[role, account])

    def _governance_effect(self, step: str) -> bool:
        from hub.inputs import role_id

        hub = self._contract("InjectiveAiHub").functions
        governance = self.d.address(GOVERNANCE)
        if step == GOV_SET:
            return self._contract("StakeManager").functions.governance().call() == governance
        if step == GOV_ADMIN:
            return hub.hasRole(_ADMIN_ROLE, governance).call()
        if step == GOV_FEDERATOR:
            return hub.hasRole(role_id("federator"), governance).call()
        if step == GOV_REVOKE:
            return not hub.hasRole(role_id("federator"), self.d.params.federator).call()
        return not hub.hasRole(_ADMIN_ROLE, self.d.deployer).call()

    def _effect_on_chain(self, step: str, record: StepRecord) -> bool:
        """Whether the chain already shows what `step` does (used only when its own tx is lost)."""
        if step.startswith("deploy "):
            from web3.utils.address import get_create_address

            assert record.sender is not None and record.nonce is not None
            return _code_at(self.w3, get_create_address(record.sender, record.nonce))
        if step in GOVERNANCE_STEPS:
            return self._governance_effect(step)
        hub = self._contract("InjectiveAiHub")
        if step == WIRE:
            return hub.functions.computeRegistry().call() == self.d.address("ComputeRegistry")
        if step == STAKE_MINIMUM:
            return hub.functions.minStakePerComputeUnit().call() == self.d.params.min_stake_per_compute_unit
        return self._find_default_domain() is not None

    def _find_default_domain(self) -> int | None:
        domains = self._contract("DomainRegistry")
        validation = self.d.address("WorkRateValidator")
        for domain_id in range(1, domains.functions.domainCount().call() + 1):
            name, logic, uri = domains.functions.getDomain(domain_id).call()
            if (name, logic, uri) == (self.d.params.default_domain_name, validation, self.d.params.default_domain_uri):
                return domain_id
        return None

    # -- running steps

    def _save(self) -> None:
        write_deployment(self.path, self.d)

    def _set(self, record: StepRecord) -> None:
        self.d.steps = [s for s in self.d.steps if s.name != record.name] + [record]
        self.d.steps.sort(key=lambda s: _ALL_STEPS.index(s.name))
        self._save()

    def run(self, step: str) -> None:
        record = self.d.step(step)
        if record is not None and record.status in ("done", "skipped"):
            return
        if step in (STAKE_MINIMUM, DEFAULT_DOMAIN) and self.d.params.federator != self.d.deployer:
            note = f"left to the federator {self.d.params.federator}"
            skipped = StepRecord(name=step, status="skipped", note=note)
            self._set(skipped)
            self.on_event("skipped", skipped)
            return
        if record is not None and self._resolve(step, record):
            return
        self._send_new(step)

    def _resolve(self, step: str, record: StepRecord) -> bool:
        """Finish a `planned` step from an earlier run; False if it must be signed anew."""
        assert record.tx_hash is not None and record.nonce is not None and record.raw_tx is not None
        receipt = self.tx.receipt(record.tx_hash)
        if receipt is not None:
            self._finish(step, record, receipt)
            return True
        mined_nonce = self.tx.retry(lambda: self.w3.eth.get_transaction_count(record.sender, "latest"))
        if mined_nonce > record.nonce:
            # that nonce went to another transaction: ours can never be mined
            if self._effect_on_chain(step, record):
                found = record.model_copy(update={"status": "done", "note": "found on chain by nonce/state"})
                if step.startswith("deploy "):
                    from web3.utils.address import get_create_address

                    found.contract_address = get_create_address(record.sender, record.nonce)
                    self._record_contract(step, found)
                elif step == DEFAULT_DOMAIN:
                    self.d.default_domain_id = self._find_default_domain()
                self._set(found)
                self.on_event("done", found)
                return True
            return False
        # not mined and its nonce is still free: send exactly the same signed bytes again
        resend = PreparedTx(
            action=step,
            sender=record.sender or self.tx.address,
            to=None,
            nonce=record.nonce,
            gas=record.gas_limit or 0,
            max_fee_per_gas=0,
            value=0,
            data="",
            tx_hash=record.tx_hash,
            raw=record.raw_tx,
        )
        self._send(step, record, resend)
        return True

    def _send_new(self, step: str) -> None:
        to, data = self._call(step)
        prepared = self.tx.prepare(to, data, action=step)
        record = StepRecord(
            name=step,
            status="planned",
            sender=prepared.sender,
            nonce=prepared.nonce,
            tx_hash=prepared.tx_hash,
            gas_limit=prepared.gas,
            raw_tx=prepared.raw,
        )
        self._set(record)  # on disk before it leaves this machine
        self.on_event("planned", record)
        self._send(step, record, prepared)

    def _send(self, step: str, record: StepRecord, prepared: PreparedTx) -> None:
        self.tx.broadcast(prepared)
        self.sent += 1
        self.on_event("sent", record)
        self._finish(step, record, self.tx.wait_receipt(prepared.tx_hash, f"deploy step {step!r}"))

    def _finish(self, step: str, record: StepRecord, receipt: Any) -> None:
        if receipt["status"] != 1:
            raise HubError(
                f"deployment step {step!r} failed on chain (tx {record.tx_hash})",
                hint="see the transaction in the node; fix the cause and run `hub deploy` again",
            )
        done = record.model_copy(
            update={
                "status": "done",
                "block": int(receipt["blockNumber"]),
                "gas_used": int(receipt["gasUsed"]),
                "contract_address": receipt.get("contractAddress"),
            }
        )
        if step.startswith("deploy "):
            self._record_contract(step, done)
        elif step == DEFAULT_DOMAIN:
            domains = self._contract("DomainRegistry")
            from web3.logs import DISCARD

            events = domains.events.DomainCreated().process_receipt(receipt, errors=DISCARD)
            self.d.default_domain_id = int(events[0]["args"]["domainId"]) if events else self._find_default_domain()
        self.d.block = done.block or self.d.block
        self._set(done)
        self.on_event("done", done)

    def _record_contract(self, step: str, record: StepRecord) -> None:
        name = step.removeprefix("deploy ")
        self.d.contracts[name] = self.d.contracts[name].model_copy(
            update={"address": record.contract_address, "tx_hash": record.tx_hash, "block": record.block}
        )


def _contract_records(governance: bool = False) -> tuple[dict[str, ContractRecord], Artifact]:
    records = {}
    artifact = None
    for name in (*DEPLOYABLE, GOVERNANCE) if governance else DEPLOYABLE:
        artifact = load_artifact(name)
        if artifact.over_eip170_limit:
            raise HubError(f"{name} is over the EIP-170 size limit and cannot be deployed", hint="`hub build`")
        records[name] = ContractRecord(
            source_path=artifact.source_path, sources=artifact.sources, integrity=artifact.integrity, abi=artifact.abi
        )
    assert artifact is not None
    return records, artifact


def _check_resumable(existing: Deployment, records: dict[str, ContractRecord], account: str, path: Path) -> None:
    if existing.deployer != account:
        raise HubError(
            f"the unfinished deployment in {path} is by {existing.deployer}, not {account}",
            hint="resume it with --account of that deployer",
        )
    changed = [
        name
        for name, record in existing.contracts.items()
        if record.address is None and records[name].integrity != record.integrity
    ]
    if changed:
        raise HubError(
            f"contracts changed since the unfinished deployment in {path} began: {', '.join(changed)}",
            hint="restore the sources it started with, or move the manifest away and deploy from scratch",
        )


# @dev How each deployment parameter can change once deployed: the command that sets it, or None
#      when it is fixed at deployment (a constructor argument) and only --fresh changes it.
_PARAM_SETTERS: dict[str, str | None] = {
    "min_stake_per_compute_unit": "`hub federator set-stake-minimum AMOUNT`",
    "validator": "`hub admin grant validator ADDR`",
    "federator": "`hub admin grant federator ADDR`",
    "unbonding_period": None,
    "max_units_per_compute_unit_per_second": None,
}


def _asked_params(params: SystemParams | None, federator: str | None, validator: str | None) -> dict[str, Any]:
    """Only the parameters the caller gave: defaults of `SystemParams` are not a request to change."""
    asked: dict[str, Any] = params.model_dump(include=params.model_fields_set) if params is not None else {}
    asked.update({k: v for k, v in (("federator", federator), ("validator", validator)) if v is not None})
    return asked


def _check_same_params(
    existing: Deployment, params: SystemParams | None, federator: str | None, validator: str | None, path: Path
) -> None:
    """A deployment keeps its parameters; asking for other ones is an error naming each difference
    (deployed vs asked) and the way to change it, not a silent mix or a silent "nothing sent"."""
    had = existing.params.model_dump()
    differ = {k: v for k, v in _asked_params(params, federator, validator).items() if had.get(k) != v}
    if not differ:
        return
    listed = "; ".join(f"{k}: deployed {had.get(k)!r}, asked {v!r}" for k, v in differ.items())
    if not existing.complete:
        raise HubError(
            f"the unfinished deployment in {path} was started with other parameters ({listed})",
            hint="rerun `hub deploy` without parameters to finish it, or pass --fresh to start over",
        )
    setters = [f"{k} with {_PARAM_SETTERS[k]}" for k in differ if _PARAM_SETTERS.get(k)]
    hint = "pass --fresh to deploy a new system with them (the manifest is kept as a .bak)"
    if setters:
        hint += ", or change " + ", ".join(setters) + " on the deployed one"
    raise HubError(f"chain {existing.chain_id} already has a deployment with other parameters ({listed})", hint=hint)


def _check_governance_settings(d: Deployment, settings: GovernanceSettings) -> None:
    """The checks Governance's constructor makes, as one-line errors before anything is sent."""
    if settings.voting_period >= d.params.unbonding_period:
        raise HubError(
            f"the voting period ({settings.voting_period} s) must be shorter than the unbonding period "
            f"({d.params.unbonding_period} s): a vote locks stake from unbonding until it ends (docs/SPEC.md 12.3)",
            hint="pass a shorter --voting-period",
        )


def _role_holders(w3: Web3, d: Deployment, role: bytes) -> set[str]:
    """Accounts that hold `role` on the hub now, found by the client's log reader: it splits the
    deployment's blocks into the windows the node takes (a node refuses a long eth_getLogs range)."""
    from hub.client import HubClient

    return HubClient(w3, d).hub.role_holders(role)


def _check_handover(w3: Web3, d: Deployment) -> None:
    """Before Governance is deployed (and on each resume until the hand-over is done): the deployer
    is the admin, and no key besides the deployer (admin), the federator key (whose role the
    hand-over revokes) and a Governance already deployed holds a power that must move."""
    from hub.inputs import role_id

    done = {s.name for s in d.steps if s.status == "done"}
    if GOV_RENOUNCE in done:
        return
    hub = w3.eth.contract(address=d.address("InjectiveAiHub"), abi=d.abi("InjectiveAiHub"))  # type: ignore[call-overload]
    if not hub.functions.hasRole(_ADMIN_ROLE, d.deployer).call():
        raise HubError(
            f"the deployer {d.deployer} is no longer the hub's admin: only the admin can hand its powers to governance",
            hint="run `hub deploy --governance` with the account that holds the admin role",
        )
    governance = d.contracts[GOVERNANCE].address
    expected = {d.deployer, d.params.federator, governance}
    for name, role in (("admin", _ADMIN_ROLE), ("federator", role_id("federator"))):
        others = sorted(_role_holders(w3, d, role) - expected)
        if others:
            raise HubError(
                f"{', '.join(others)} also hold{'s' if len(others) == 1 else ''} the {name} role: "
                "after the hand-over it would still change parameters without a vote",
                hint=f"revoke it first with `hub admin revoke {name} ADDRESS`",
            )


def verify_on_chain(w3: Web3, deployment: Deployment) -> None:
    """Every deployed address holds code; else the chain was reset or the manifest is for another chain."""
    missing = [
        name for name, r in deployment.contracts.items() if r.address is not None and not _code_at(w3, r.address)
    ]
    if missing:
        raise HubError(
            f"the deployment manifest for chain {deployment.chain_id} points at addresses without code "
            f"({', '.join(missing)}): was the chain reset?",
            hint="deploy again with `hub deploy --fresh` (the old manifest is kept as a .bak file)",
        )


def _code_at(w3: Web3, address: str) -> bool:
    return len(w3.eth.get_code(address)) > 0  # type: ignore[arg-type]


def deploy(
    w3: Web3,
    account: LocalAccount,
    *,
    network: str,
    params: SystemParams | None = None,
    federator: str | None = None,
    validator: str | None = None,
    directory: Path | None = None,
    fresh: bool = False,
    mainnet_confirmed: bool = False,
    on_event: Callable[[StepEvent, StepRecord], None] | None = None,
    tx_config: TxConfig | None = None,
    governance: GovernanceSettings | None = None,
) -> DeployResult:
    """Deploy (or finish deploying) the system on the chain `w3` serves, as `account`.

    `params` defaults to `SystemParams()`; federator and validator default to the deployer. A
    complete manifest is verified and returned without sending anything. `fresh` keeps an existing
    manifest as `<chain-id>.json.<time>.bak` and starts over. `on_event(event, step)` reports
    progress: "planned" (signed and recorded), "sent", "done" or "skipped". `governance` adds
    the Governance contract and hands it the admin and federator powers (docs/SPEC.md 12.1), on a
    new deployment or on a finished one.
    """
    started = time.monotonic()
    chain_id = w3.eth.chain_id
    if chain_id == MAINNET_CHAIN_ID and not mainnet_confirmed:
        raise HubError(
            "deploying to Injective MAINNET (chain 1776) needs explicit confirmation",
            hint="pass --confirm-mainnet, or answer the prompt in a terminal",
        )
    tx = Transactor(w3, account, chain_id=chain_id, config=tx_config)
    path = manifest_path(chain_id, directory)
    with manifest_lock(path):
        existing = read_deployment(path)
        if existing is not None and fresh:
            path.rename(path.with_name(f"{path.name}.{int(time.time())}.bak"))
            existing = None
        if existing is not None and existing.complete:
            _check_same_params(existing, params, federator, validator, path)
            verify_on_chain(w3, existing)
            if governance is None or existing.governance == governance:
                return DeployResult(existing, path, True, False, 0, time.monotonic() - started)
        with_governance = governance is not None or (existing is not None and existing.governance is not None)
        records, artifact = _contract_records(with_governance)
        if existing is not None and existing.complete:
            deployment = existing
        elif existing is not None:
            _check_resumable(existing, records, account.address, path)
            _check_same_params(existing, params, federator, validator, path)
            verify_on_chain(w3, existing)
            deployment = existing
        else:
            deployment = Deployment(
                chain_id=chain_id,
                network=network if "://" not in network else "url",
                deployer=account.address,
                status="in progress",
                compiler=artifact.compiler,
                compiler_version=artifact.compiler_version,
                params=DeployParams(
                    **(params or SystemParams()).model_dump(),
                    federator=federator or account.address,
                    validator=validator or account.address,
                ),
                start_block=w3.eth.block_number,
                contracts=records,
            )
        if governance is not None and deployment.governance is None:
            if deployment.deployer != account.address:
                raise HubError(
                    f"the deployment on chain {chain_id} was made by {deployment.deployer}, not {account.address}: "
                    "only its admin can hand the powers to governance",
                    hint="run `hub deploy --governance` with --account of that deployer",
                )
            _check_governance_settings(deployment, governance)
            deployment.governance = governance
            deployment.contracts[GOVERNANCE] = records[GOVERNANCE]
            deployment.status = "in progress"
        elif governance is not None and deployment.governance != governance:
            raise HubError(
                f"chain {chain_id}'s deployment handed its powers to a governance with other settings",
                hint="governance changes its own parameters by a proposal (`hub gov propose --voting-period ...`)",
            )
        deployer = _Deployer(w3, tx, deployment, path, on_event)
        for step in STEP_NAMES:
            deployer.run(step)
        if deployment.governance is not None:
            # checked before Governance is deployed: a refusal sends and records nothing, so a
            # finished deployment stays finished and the fix the refusal names (`hub admin revoke`,
            # which needs a finished manifest) can be run
            _check_handover(w3, deployment)
            for step in GOVERNANCE_STEPS:
                deployer.run(step)
        deployment.status = "complete"
        write_deployment(path, deployment)
        return DeployResult(deployment, path, False, existing is not None, deployer.sent, time.monotonic() - started)
