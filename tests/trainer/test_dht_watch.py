"""A peer whose hivemind DHT process dies stops with one error line instead of hanging forever
(`trainer.training.dht_watch`). Real DHT processes, killed with SIGKILL as the race kills them."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from unittest import mock

import pytest

from tests.trainer.helpers import TrainerProcess, patience, peer_args, wait_until
from trainer.errors import SwarmError

DEATH = "error: the hivemind DHT process died (killed by SIGKILL; a known hivemind race)"
HINT = "(hint: run the same command again: it resumes from its last checkpoint)"
AUX_HINT = "(hint: run the same command again: the aux peer rejoins the swarm)"
# what the backstop (`exit_when_stuck`) logs before it exits: a command whose log lacks it stopped
# by its normal path (the watch's interrupt, then `leave_swarm`)
BACKSTOP = "the stop path did not end"


@pytest.fixture(autouse=True)
def _fresh_future_locks_after_a_kill():
    """Give later tests of this process fresh hivemind future locks. Every process pytest forks
    shares `MPFuture`'s global update lock, held while a future's result is written into a pipe
    (blocking when the pipe is full); a DHT process SIGKILLed here while it held it left it held for
    good, and the next test's DHT process then waited on it forever in its first `set_result` (a
    tests/trainer run hung at test_diloco_drift's first DHT). Each test's DHTs are shut down by
    then, so no future is in flight."""
    yield
    from hivemind.utils.mpfuture import MPFuture

    MPFuture.reset_backend()


def start_dht():
    import hivemind

    return hivemind.DHT(start=True, host_maddrs=["/ip4/127.0.0.1/tcp/0"])


def test_a_call_waiting_on_a_dead_dht_is_interrupted_and_raises_one_error() -> None:
    from trainer.training.dht_watch import INTERRUPT, DHTWatch

    dht = start_dht()
    stop = threading.Event()
    before = signal.getsignal(INTERRUPT)
    try:
        with pytest.raises(SwarmError) as raised, DHTWatch(dht, stop, poll_every=0.2):
            os.kill(dht.pid, signal.SIGKILL)
            # the DHT's child never answers now: without the watch this waits forever
            dht.get("anything")
    finally:
        dht.shutdown()
    assert raised.value.one_line() == f"{DEATH.removeprefix('error: ')} {HINT}"
    assert stop.is_set()
    assert signal.getsignal(INTERRUPT) is before
    assert not any(thread.name == "dht-watch" for thread in threading.enumerate())


def test_after_a_death_calls_that_do_not_wait_for_an_answer_go_through_once_the_block_is_left() -> None:
    """The stop path runs after the ``with`` block, where no interrupt comes: there `trainer train`
    blocked for good in the progress tracker's goodbye store, on the dead DHT's full command pipe
    (the averager processes forked from the trainer hold its read end, so closing ours did not help)."""
    import hivemind
    from hivemind.utils import get_dht_time

    from trainer.training.dht_watch import DHTWatch

    dht = start_dht()
    # a process forked after the DHT, as hivemind's averagers are: it holds the pipe's read end too
    holder = hivemind.DHT(start=True, host_maddrs=["/ip4/127.0.0.1/tcp/0"])
    stop = threading.Event()
    sent: list[int] = []
    try:
        with pytest.raises(SwarmError), DHTWatch(dht, stop, poll_every=0.2):
            os.kill(dht.pid, signal.SIGKILL)
            stop.wait()
        value = "x" * 10_000  # 100 such calls are 15 times the pipe's 64 KiB buffer

        def goodbyes() -> None:
            for index in range(100):
                dht.store(f"goodbye-{index}", value, get_dht_time() + 60, return_future=True)
                sent.append(index)

        sender = threading.Thread(target=goodbyes, daemon=True)
        sender.start()
        sender.join(patience(120))  # a hang guard only: without the drain it never ends
        assert len(sent) == 100
    finally:
        holder.shutdown()
        dht.shutdown()


def test_a_live_dht_leaves_the_block_untouched() -> None:
    from trainer.training.dht_watch import INTERRUPT, DHTWatch

    dht = start_dht()
    stop = threading.Event()
    before = signal.getsignal(INTERRUPT)
    try:
        with DHTWatch(dht, stop, poll_every=0.001) as watch:
            # the watch polls while these calls wait for the DHT's answers
            for _ in range(20):
                assert dht.get("anything") is None
    finally:
        dht.shutdown()
    assert not watch.died and not stop.is_set()
    assert signal.getsignal(INTERRUPT) is before


def test_a_session_whose_dht_dies_while_it_starts_raises_instead_of_hanging(
    tmp_path: Path, corpus: Path, tokenizer_dir: Path
) -> None:
    """The CI hang: the DHT died while the optimizer was being built (`dht.add_validators` waited
    forever). Here it dies right after it started; the session's first DHT calls then never return."""
    from trainer.training import swarm
    from trainer.training.config import TrainConfig
    from trainer.training.session import TrainingSession

    def build_dht_that_dies(*args: object, **kwargs: object) -> object:
        dht = real_build_dht(*args, **kwargs)
        os.kill(dht.pid, signal.SIGKILL)
        return dht

    real_build_dht = swarm.build_dht
    config = TrainConfig(
        run_id="dht-death-start",
        model="tiny",
        tokenizer=str(tokenizer_dir),
        data=str(corpus),
        seq_len=64,
        batch_size=4,
        target_batch_size=8,
        host_maddrs=["/ip4/127.0.0.1/tcp/0"],
        checkpoint_dir=tmp_path / "ckpt",
        num_threads=1,
        progress_bar=False,
    )
    session = TrainingSession(config)
    with mock.patch.object(swarm, "build_dht", build_dht_that_dies), pytest.raises(SwarmError) as raised:
        try:
            session.start()
        finally:
            session.close()
    assert raised.value.one_line() == f"{DEATH.removeprefix('error: ')} {HINT}"


STUCK = """
import os, signal, threading
import hivemind
from trainer.training.dht_watch import DHTWatch, exit_when_stuck

exit_when_stuck(2.0)  # as the `trainer` command arms it (with 60 s)
dht = hivemind.DHT(start=True, host_maddrs=["/ip4/127.0.0.1/tcp/0"])
with DHTWatch(dht, threading.Event(), poll_every=0.2):
    os.kill(dht.pid, signal.SIGKILL)
    print("killed", flush=True)
    while True:  # a stop path stuck for good: it swallows every interrupt the watch sends
        try:
            threading.Event().wait()
        except BaseException:
            pass
"""


def test_a_command_whose_stop_path_is_stuck_after_a_death_still_exits_with_the_error(tmp_path: Path) -> None:
    """The backstop (`exit_when_stuck`): one clean-clone run's `trainer train` never exited after its
    DHT was killed. Whatever blocks the stop path, the command prints its one error line and exits 1."""
    import subprocess
    import sys

    from tests.trainer.helpers import subprocess_env

    done = subprocess.run(
        [sys.executable, "-c", STUCK],
        cwd=Path(__file__).resolve().parents[2],
        env=subprocess_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,  # a hang guard only: the backstop ends it about 2 s after the kill
    )
    assert done.returncode == 1, done.stderr[-3000:]
    assert "killed" in done.stdout
    assert BACKSTOP in done.stderr, done.stderr[-3000:]
    assert [line for line in done.stderr.splitlines() if line.startswith("error:")] == [
        "error: the hivemind DHT process died (killed by SIGKILL; a known hivemind race) "
        "(hint: run the same command again: it resumes from its last checkpoint)"
    ], done.stderr[-3000:]


def dht_child(pid: int) -> int | None:
    """The pid of the DHT process of the trainer ``pid``: its child that runs the p2p daemon
    (averagers fork too, but they share the DHT's daemon)."""
    import psutil

    for child in psutil.Process(pid).children():
        try:
            if any(grandchild.name() == "p2pd" for grandchild in child.children()):
                return child.pid
        except psutil.NoSuchProcess:
            continue
    return None


def kill_its_dht(process: TrainerProcess) -> None:
    """SIGKILL the DHT child process of a running trainer."""
    assert process.running(), process.tail()
    dht_pid = dht_child(process.proc.pid)
    assert dht_pid is not None, process.tail()
    os.kill(dht_pid, signal.SIGKILL)


def error_lines(process: TrainerProcess) -> list[str]:
    return [line for line in process.log_path.read_text().splitlines() if line.startswith("error:")]


def stopped_by_its_normal_path(log: str) -> bool:
    """Whether a command whose DHT died stopped without the backstop's help."""
    return BACKSTOP not in log


def after_the_error_line(log: str) -> str:
    """What the command printed after its one error line: nothing, once its stop path is done (the dead
    DHT's unanswered futures printed up to 8 "Exception ignored ... Event loop is closed" tracebacks
    from their finalizers at exit before `end_process_after_a_death`)."""
    return log.split("\nerror: ", 1)[1].split("\n", 1)[1] if "\nerror: " in log else log


def test_trainer_train_stops_with_one_line_when_its_dht_dies_and_resumes_after(
    tmp_path: Path, corpus: Path, tokenizer_dir: Path, processes: list[TrainerProcess]
) -> None:
    from trainer.training.checkpoint import find_checkpoint

    def args(max_epochs: int) -> list[str]:
        return peer_args(
            run_id="dht-death",
            corpus=corpus,
            tokenizer=tokenizer_dir,
            checkpoint_dir=tmp_path / "ckpt",
            averaging="gradient",
            max_epochs=max_epochs,
            target_batch_size=8,
            initial_peers=[],
        )

    peer = TrainerProcess(tmp_path, "peer", args(max_epochs=10_000)).start()
    processes.append(peer)
    wait_until(lambda: peer.events("checkpoint") or peer.exited(), 240, "the peer's first checkpoint")
    kill_its_dht(peer)

    assert peer.wait(120) == 1, peer.tail()
    assert error_lines(peer) == [f"{DEATH} {HINT}"], peer.tail()
    # until the watch drained the dead DHT's command pipe, the progress tracker's goodbye store
    # blocked on it once full and the backstop ended the command (py-spy; 3 of 3 runs, then 2 of 4
    # with our read end closed); draining, 9 of 9 runs stopped by this path within 4 s of the kill
    assert stopped_by_its_normal_path(peer.log_path.read_text()), peer.tail()
    assert after_the_error_line(peer.log_path.read_text()).strip() == "", peer.tail()
    kept = find_checkpoint(tmp_path / "ckpt")
    assert kept is not None
    kept_epoch = kept.state["epoch"]
    assert kept_epoch == peer.events("checkpoint")[-1]["epoch"]  # no checkpoint written on the way out

    # the hint holds: the same command resumes from that checkpoint
    again = TrainerProcess(tmp_path, "again", args(max_epochs=kept_epoch + 1)).start()
    processes.append(again)
    assert again.wait(240) == 0, again.tail()
    assert again.events("start")[0]["resumed_from_epoch"] == kept_epoch


def test_trainer_aux_stops_with_one_line_when_its_dht_dies(
    tmp_path: Path, tokenizer_dir: Path, processes: list[TrainerProcess]
) -> None:
    aux_args = ["aux", "--run-id", "dht-death-aux", "--model", "tiny", "--tokenizer", str(tokenizer_dir)]
    aux_args += ["--host-maddrs", "/ip4/127.0.0.1/tcp/0", "--checkpoint-dir", str(tmp_path / "aux")]
    aux_args += ["--refresh", "0.5", "--num-threads", "1"]
    aux = TrainerProcess(tmp_path, "aux", aux_args).start()
    processes.append(aux)
    wait_until(lambda: aux.events("start") or aux.exited(), 240, "the aux peer's start")
    kill_its_dht(aux)

    assert aux.wait(120) == 1, aux.tail()
    assert error_lines(aux) == [f"{DEATH} {AUX_HINT}"], aux.tail()
    assert stopped_by_its_normal_path(aux.log_path.read_text()), aux.tail()
    assert after_the_error_line(aux.log_path.read_text()).strip() == "", aux.tail()
