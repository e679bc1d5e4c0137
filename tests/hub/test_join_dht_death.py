"""`trainer join` whose hivemind DHT process dies mid-run (a known hivemind race) stops as one Ctrl+C
stops it, with its receipts settled and saved, then exits 1 with one error line instead of hanging."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.hub.helpers import TEST_PASSWORD, node_and_pool, wait_for_next_block_second
from tests.trainer.test_dht_watch import DEATH, HINT, after_the_error_line, dht_child, stopped_by_its_normal_path
from tests.utils.waiting import wait_until


def test_trainer_join_stops_with_one_line_and_its_receipts_saved_when_its_dht_dies(world, tmp_path: Path):
    corpus = Path(__file__).resolve().parents[2] / "trainer" / "training" / "assets" / "corpus.txt"
    # 4 shards as the walkthrough's pools: a peer reads the shard its peer id hashes to, and of the
    # default 64 some are empty for this small corpus (the join then exits at once, never training)
    train = {"model": "tiny", "data": str(corpus), "seq_len": 64, "batch_size": 4, "target_batch_size": 64}
    train["data_shards"] = 4
    setup = node_and_pool(
        world, "dht", {"run_id": "dht-death-join", "train": train | {"lr": 0.003, "warmup_steps": 2}}, tmp_path
    )
    setup.approve()
    setup.join_and_start()
    wait_for_next_block_second(setup.as_node)  # the work-rate rule allows nothing in the second the node joined

    password = tmp_path / "password"
    password.write_text(TEST_PASSWORD)
    workdir = tmp_path / "work"
    env = {
        **os.environ,
        "HUB_KEYSTORE_DIR": str(world.keystore_dir),
        "HF_HUB_OFFLINE": "1",
        "OMP_NUM_THREADS": "1",
        "INJECTIVE_AI_HUB_CACHE": str(tmp_path / "cache"),
    }
    args = [str(Path(sys.executable).with_name("trainer")), "join", "--pool-id", str(setup.pool_id)]
    args += ["--node-key", setup.node.name, "--network", world.devnet.rpc_url]
    args += ["--deployments-dir", str(world.deployments_dir), "--password-file", str(password)]
    args += ["--workdir", str(workdir), "--device", "cpu", "--host-maddrs", "/ip4/127.0.0.1/tcp/0"]
    args += ["--no-progress-bar", "--checkpoint-every", "1"]
    receipts = workdir / f"work-{setup.as_node.chain_id}-{setup.pool_id}-{setup.as_node.address}.json"
    log = tmp_path / "join.log"
    with log.open("wb") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        try:

            def confirmed() -> bool:
                saved = json.loads(receipts.read_text())["receipts"] if receipts.exists() else []
                return any(r["status"] == "confirmed" for r in saved)

            wait_until(lambda: confirmed() or process.poll() is not None, 300, "a confirmed claim")
            assert process.poll() is None, log.read_text()
            dht_pid = dht_child(process.pid)
            assert dht_pid is not None, log.read_text()
            os.kill(dht_pid, signal.SIGKILL)
            code = process.wait(timeout=180)  # a hang guard only: the watch stops it within seconds
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
    output = log.read_text()
    assert code == 1, output
    assert [line for line in output.splitlines() if line.startswith("error:")] == [f"{DEATH} {HINT}"], output
    assert stopped_by_its_normal_path(output), output
    assert after_the_error_line(output).strip() == "", output
    # the last claim pass ran, as on Ctrl+C: nothing is left to send or merge later
    saved = json.loads(receipts.read_text())["receipts"]
    assert saved and {r["status"] for r in saved} <= {"confirmed", "pending", "dropped"}
    on_chain = setup.as_node.rewards.work_submitted(setup.pool_id, node=setup.as_node.address)
    assert sum(w.units for w in on_chain) == sum(r["units"] for r in saved if r["status"] == "confirmed")
    assert (workdir / "checkpoints" / "latest.json").is_file()
