"""The deployment manifest: `deployments/<chain-id>.json`, one per chain.

It says where each contract lives (address, creating tx, block), what it was built from (compiler,
source hashes, integrity, ABI), with which parameters, and every deployment step with the hash and
nonce of its transaction. `hub deploy` writes a step as `planned` (signed, hash and nonce known)
BEFORE sending it, so a deployment killed at any point can be finished without deploying anything
twice. The client reads the manifest to find the contracts and their ABIs.

Directory: `--deployments-dir`, else env HUB_DEPLOYMENTS_DIR, else ./deployments.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hub.contracts import SystemParams
from hub.errors import HubError

DEPLOYMENT_FORMAT = "injective-ai-hub/deployment/1"
DEPLOYMENTS_ENV = "HUB_DEPLOYMENTS_DIR"


def deployments_dir(directory: Path | None = None) -> Path:
    """`directory`, else $HUB_DEPLOYMENTS_DIR, else ./deployments."""
    if directory is not None:
        return Path(directory).expanduser()
    env = os.environ.get(DEPLOYMENTS_ENV)
    return Path(env).expanduser() if env else Path("deployments")


def manifest_path(chain_id: int, directory: Path | None = None) -> Path:
    return deployments_dir(directory) / f"{chain_id}.json"


class DeployParams(SystemParams):
    """Everything a deployment is built with, besides the code."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    federator: str = Field(description="first holder of FEDERATOR_ROLE")
    validator: str = Field(description="first holder of VALIDATOR_ROLE")
    default_domain_name: str = "default"
    default_domain_uri: str = ""


class GovernanceSettings(BaseModel):
    """What `hub deploy --governance` deploys the Governance contract with (docs/SPEC.md 12.4)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    voting_delay: int = Field(default=86400, ge=0, le=30 * 86400, description="seconds from propose to voting")
    voting_period: int = Field(default=5 * 86400, gt=0, description="seconds of voting, < the unbonding period")
    timelock_delay: int = Field(default=2 * 86400, gt=0, le=30 * 86400, description="seconds from queue to execute")
    quorum_bps: int = Field(default=2_000, gt=0, le=10_000, description="quorum, basis points of stake in custody")
    proposal_threshold: int = Field(default=10 * 10**18, ge=0, description="active stake a proposer needs (wei)")
    guardian: str | None = Field(default=None, description="may cancel queued proposals until the period ends")
    guardian_period: int = Field(default=30 * 86400, ge=0, description="seconds the guardian may cancel")


class ContractRecord(BaseModel):
    """One deployed contract; `address` is None until its deployment step is done."""

    address: str | None = None
    tx_hash: str | None = None
    block: int | None = None
    source_path: str
    sources: dict[str, str]
    integrity: str
    abi: list[dict[str, Any]]


class StepRecord(BaseModel):
    """One step: `planned` (signed, maybe sent), `done`, or `skipped` (not this account's to do)."""

    name: str
    status: Literal["planned", "done", "skipped"]
    note: str | None = None
    sender: str | None = None
    nonce: int | None = None
    tx_hash: str | None = None
    gas_limit: int | None = None
    # @dev The signed transaction, so a restart can re-send exactly it (same hash); not secret.
    raw_tx: str | None = None
    block: int | None = None
    gas_used: int | None = None
    contract_address: str | None = None


class Deployment(BaseModel):
    """`deployments/<chain-id>.json`."""

    format: str = DEPLOYMENT_FORMAT
    chain_id: int
    network: str
    deployer: str
    status: Literal["in progress", "complete"]
    compiler: str
    compiler_version: str
    params: DeployParams
    # @dev First block of the deployment: where log queries start.
    start_block: int
    # @dev Block of the last step.
    block: int | None = None
    default_domain_id: int | None = None
    # @dev Set by `hub deploy --governance`: the powers were (or are being) handed to Governance.
    governance: GovernanceSettings | None = None
    steps: list[StepRecord] = []
    contracts: dict[str, ContractRecord]

    @property
    def complete(self) -> bool:
        return self.status == "complete"

    def step(self, name: str) -> StepRecord | None:
        return next((s for s in self.steps if s.name == name), None)

    def address(self, name: str) -> str:
        record = self.contracts.get(name)
        if record is None or record.address is None:
            raise HubError(
                f"the deployment on chain {self.chain_id} has no {name}",
                hint="run `hub deploy` to finish the deployment",
            )
        return record.address

    def abi(self, name: str) -> list[dict[str, Any]]:
        return self.contracts[name].abi


def read_deployment(path: Path) -> Deployment | None:
    """The manifest at `path`, None if there is none; a HubError if it is unreadable."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise HubError(f"cannot read deployment manifest {path}: {exc.strerror}") from None
    try:
        return Deployment.model_validate_json(text)
    except ValidationError as exc:
        detail = str(exc).splitlines()
        raise HubError(
            f"deployment manifest {path} is not valid: {' '.join(detail[:2])}",
            hint="restore it from version control, or move it away and deploy again",
        ) from None


def write_deployment(path: Path, deployment: Deployment) -> None:
    """Write atomically and durably: a crash leaves the old or the new manifest, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    data = (deployment.model_dump_json(indent=2) + "\n").encode()
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    partial.replace(path)
    with contextlib.suppress(OSError):  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


@contextlib.contextmanager
def manifest_lock(path: Path) -> Iterator[None]:
    """One `hub deploy` per manifest at a time."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.with_name(f".{path.name}.lock").open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise HubError(
                f"another `hub deploy` is writing {path}", hint="wait for it to finish, then run this again"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def load_deployment(chain_id: int, directory: Path | None = None) -> Deployment:
    """The complete deployment for `chain_id`; a one-line HubError if missing or unfinished."""
    path = manifest_path(chain_id, directory)
    deployment = read_deployment(path)
    if deployment is None:
        raise HubError(
            f"no deployment for chain {chain_id}: {path} does not exist",
            hint="run `hub deploy` first, or point --deployments-dir / HUB_DEPLOYMENTS_DIR at the right folder",
        )
    if deployment.chain_id != chain_id:
        raise HubError(f"{path} is for chain {deployment.chain_id}, not {chain_id}", hint="restore the right file")
    if not deployment.complete:
        raise HubError(
            f"the deployment in {path} is unfinished", hint="run `hub deploy` again with the same account to finish it"
        )
    return deployment
