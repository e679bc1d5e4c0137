"""No private key ever appears in what `hub` prints, logs or writes, on success or failure."""

from __future__ import annotations

import json
import logging
import traceback
from pathlib import Path

import pytest

from hub.devkeys import dev_account
from tests.hub.helpers import INJ, run_hub


def _forbidden(accounts) -> list[str]:
    found = []
    for account in accounts:
        digits = bytes(account.key).hex()
        found += [digits, digits.upper(), digits[:16], digits[-16:]]
    return found


def test_no_key_material_in_output_logs_or_files(world, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # web3, urllib3 and everything else at their most talkative
    provider = world.actor("s-provider")
    node = world.actor("s-node", fund_wei=INJ)
    creator = world.actor("s-creator")
    outputs: list[str] = []

    def hub(*args, ok: bool = True, **kwargs):
        result = run_hub(*args, ok=ok, **kwargs)
        outputs.append(result.output)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            outputs.append("".join(traceback.format_exception(result.exception)))
        return result

    meta = tmp_path / "meta.json"
    meta.write_text('{"run_id": "secrets"}')
    attestation, invite = tmp_path / "attestation.json", tmp_path / "invite.json"
    p = provider.address
    hub("provider", "register", "--stake", "10", "-a", provider.name)
    hub("node", "attest", "--provider", p, "--units", "1", "-a", node.name)  # to stdout
    hub("node", "attest", "--provider", p, "--units", "1", "-a", node.name, "--out", attestation)
    hub("provider", "node", "add", "--attestation", attestation, "-a", provider.name, "--json")
    hub("validator", "validate-node", node.address, "-a", world.validator.name)
    hub("validator", "whitelist", p, "-a", world.validator.name)
    created = hub(
        "pool",
        "create",
        "--metadata",
        meta,
        "--inline",
        "--budget",
        "1",
        "--reward-per-unit",
        "1wei",
        "--challenge-window",
        "5s",
        "-a",
        creator.name,
        "--json",
    )
    pool_id = json.loads(created.stdout)["pool_id"]
    hub("pool", "invite", pool_id, node.address, "-a", creator.name)
    hub("pool", "invite", pool_id, node.address, "-a", creator.name, "--out", invite)
    hub("node", "join", "--invite", invite, "-a", node.name)
    hub("pool", "start", pool_id, "-a", creator.name)
    hub("node", "status", pool_id, "-a", node.name)
    hub("status", "-a", provider.name, "--json")
    hub("provider", "show", "-a", provider.name)
    hub("rewards", "-a", provider.name)
    # failures, with and without --debug tracebacks
    hub("provider", "stake", "add", "1", "-a", provider.name, ok=False, env={"HUB_PASSWORD": "wrong"})
    hub("--debug", "provider", "stake", "reclaim", "1000", "-a", provider.name, ok=False)
    hub("--debug", "validator", "validate-node", node.address, "-a", provider.name, ok=False)
    hub("account", "import", "typed", ok=False, stdin=bytes(node.account.key).hex() + "\n")

    keys = [provider.account, node.account, creator.account, dev_account(0), dev_account(3)]
    forbidden = _forbidden(keys)
    files = [attestation, invite, *world.deployments_dir.glob("*.json"), *world.keystore_dir.glob("*.json")]
    haystacks = {
        "output": "\n".join(outputs),
        "logs": caplog.text,
        **{str(f): f.read_text() for f in files},
    }
    assert caplog.text, "expected some log records to check"
    for where, text in haystacks.items():
        for secret in forbidden:
            assert secret not in text, f"key material in {where}"
