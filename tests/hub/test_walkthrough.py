"""hub/README.md's walkthrough, run as written (bash blocks in order) on a private chain."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from hub.devnet import Devnet, DevnetConfig, DevnetPorts

README = Path(__file__).resolve().parents[2] / "hub" / "README.md"


def walkthrough_script() -> str:
    text = README.read_text()
    section = text.split("## Walkthrough", 1)[1].split("\n## ", 1)[0]
    return "\n".join(re.findall(r"```bash\n(.*?)```", section, flags=re.S))


def test_readme_walkthrough_runs(tmp_path: Path, port_offset: int) -> None:
    script = walkthrough_script()
    assert "hub deploy" in script and "hub rewards claim" in script and "hub devnet stop" in script
    # the only change: the chain runs on free ports beside any devnet of the developer's
    script = script.replace("hub devnet start", f"hub devnet start --port-offset {port_offset}")
    ports = DevnetPorts.shifted(port_offset)
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "HUB_RPC_URL": f"http://127.0.0.1:{ports.json_rpc}",
        "HUB_DEPLOYMENTS_DIR": str(tmp_path / "deployments"),
    }
    try:
        try:
            # a hang guard only, under pytest's own 900 s: about 45 `hub` processes and 71 s of the
            # README's sleeps took 308-333 s in clean-clone runs under load, and over 480 s (the
            # guard this was) with a second clean-clone run's swarm tests beside it
            proc = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", script],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                timeout=840,
            )
        except subprocess.TimeoutExpired as stuck:  # say at which step, not only that it took long
            # (what was captured comes as bytes here, whatever `text` says)
            so_far = b"\n".join(part or b"" for part in (stuck.stdout, stuck.stderr)).decode(errors="replace")
            raise AssertionError(f"the walkthrough did not finish in 840 s; its output so far:\n{so_far}") from None
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    finally:
        Devnet(DevnetConfig(home=Path(os.environ["HUB_DEVNET_HOME"]))).stop()
    out = proc.stdout
    assert "deployed on chain 777" in out and "already deployed on chain 777" in out
    assert "node 0x" in out and "joined pool 1" in out
    assert re.search(r"claimed 0\.1 INJ for 1 work key\(s\) in pool 1", out)
    assert "hard-invalidated work" in out and "swept 5 INJ to the treasury" in out
    assert "refunded" in out and "withdrew 45 INJ" in out
