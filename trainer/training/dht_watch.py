"""A peer whose hivemind DHT process dies stops with an error instead of hanging forever.

hivemind runs the DHT in a forked child process and most DHT calls wait for that child's answer
with no timeout (``MPFuture.result()``). The child sometimes dies mid-run (a known hivemind race:
EOFError or BlockingIOError while it reads a call from its pipe); every later call then blocks
forever, in our code and inside hivemind's (progress reports, averaging, state downloads), and the
peer looks alive while it earns nothing.

`DHTWatch` polls ``dht.is_alive()`` from a daemon thread. When the child is gone it sets the run's
stop event and interrupts the main thread with a signal whose handler raises `DHTDied`: a Python
lock wait (where a blocked ``future.result()`` sits) is woken by a signal delivered to its thread,
while setting an event is not seen by a thread that waits on something else. Leaving the ``with``
block then raises `trainer.errors.SwarmError`, the one line the CLI prints (exit status 1, the
policy of `hub.errors.exit_code`). The watch also drains the dead DHT's command pipe, so a call
that waits for no answer goes through instead of blocking on the full pipe, and `leave_swarm`
shuts the optimizer and the DHT down without waiting for the dead DHT's answers: the stop path
cannot block on it again.

The run then ends as a clean stop for everything around the model (``trainer join`` settles and
saves its receipts, hivemind's processes are stopped) and as a crash for the model itself: no
checkpoint is written on the way out, since the interrupted step may be half applied, so the
last periodic checkpoint stays the one a restart resumes from.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from types import FrameType
from typing import Any

from trainer.errors import SwarmError

log = logging.getLogger(__name__)

# @dev The signal the watch sends to the main thread; SIGINT is taken by the CLI's first-Ctrl+C
# handler, which only sets the stop event and lets a blocked wait go on waiting.
INTERRUPT = signal.SIGUSR1

# @dev What a trainer's user does about it (`trainer train` and `trainer join` resume by default).
RESTART_HINT = "run the same command again: it resumes from its last checkpoint"

# @dev Seconds between two looks at the DHT process (and between two interrupts once it died).
POLL_EVERY = 1.0

# @dev Set by the `trainer` command (`exit_when_stuck`), never by the library: seconds after a
#      death by which the process must be gone. Past them the stop path itself is stuck on
#      something of the dead DHT's (before the pipe drain, the progress tracker's goodbye store:
#      one clean-clone run never exited), so the command prints its one error line and exits 1 at
#      once; what it had written (receipts, checkpoints) stays, and the same command resumes from it.
_hard_exit_after: float | None = None

# @dev True once a watch of this process saw its DHT die (read by the `trainer` command on its way out).
_death_seen = False


def exit_when_stuck(seconds: float) -> None:
    """Make a DHT death end this process within ``seconds`` whatever the stop path does (CLI only:
    it calls ``os._exit``)."""
    global _hard_exit_after
    _hard_exit_after = seconds


def end_process_after_a_death(code: int) -> None:
    """If a DHT of this process died, end the process now with ``code`` (CLI only: ``os._exit``), once
    the command's own stop path is done and its error line printed; else return.

    Why: the dead DHT's futures that were never answered print "Exception ignored in MPFuture.__del__
    ... Event loop is closed" from their finalizers at interpreter exit, up to 8 tracebacks after the
    one error line. Nothing is left to run by then: files are closed, receipts saved, stdio is flushed
    here."""
    if not _death_seen:
        return
    import logging
    import sys

    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    logging.shutdown()
    os._exit(code)


class DHTDied(KeyboardInterrupt):
    """Raised in the main thread when the DHT process is gone.

    A `KeyboardInterrupt`, so that it unwinds through hivemind: its code catches `Exception`
    everywhere and passes `KeyboardInterrupt` on. Some of its waits catch every `BaseException`
    and go on; the watch interrupts again every `POLL_EVERY` seconds until the ``with`` block is left.
    """


class DHTWatch:
    """Stops the run when ``dht``'s process dies: sets ``stop_event`` and, when entered on the main
    thread, interrupts it (see the module docstring). Leaving the ``with`` block after a death raises
    `trainer.errors.SwarmError` in place of whatever the interrupted code was doing.

    Entered on another thread (the Python API in a thread), it can only set ``stop_event``: Python
    delivers signals to the main thread alone, so a call blocked on the dead DHT there stays blocked.
    """

    def __init__(
        self, dht: Any, stop_event: threading.Event, *, hint: str = RESTART_HINT, poll_every: float = POLL_EVERY
    ) -> None:
        self.dht, self.stop_event, self.hint, self.poll_every = dht, stop_event, hint, poll_every
        self.died = False
        self.exit_status: int | None = None
        self._armed = False
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None
        self._saved_handler: Any = None
        self._main = threading.current_thread() is threading.main_thread()

    def __enter__(self) -> DHTWatch:
        if self._main:
            self._saved_handler = signal.signal(INTERRUPT, self._on_interrupt)
            self._armed = True
        self._thread = threading.Thread(target=self._watch, name="dht-watch", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        with self._lock:  # no interrupt is sent after this
            self._armed = False
        self._closing.set()
        if self._thread is not None:
            self._thread.join()
        if self._main:
            # an interrupt still pending runs the disarmed handler, or none once this one is back
            signal.signal(INTERRUPT, self._saved_handler)
        if self.died:
            raise self.error() from None

    def error(self) -> SwarmError:
        code = self.exit_status
        how = f"killed by {signal.Signals(-code).name}" if code is not None and code < 0 else f"exit status {code}"
        return SwarmError(f"the hivemind DHT process died ({how}; a known hivemind race)", self.hint)

    def _exit_now(self) -> None:
        import sys

        from hub.errors import error_line

        error = self.error()
        log.error("the stop path did not end %.0f s after the DHT process died: exiting now", _hard_exit_after)
        sys.stderr.write(error_line(error.message, error.hint) + "\n")
        sys.stderr.flush()
        os._exit(1)

    def _on_interrupt(self, _signum: int, frame: FrameType | None) -> None:
        if not (self._armed and self.died):  # a SIGUSR1 from elsewhere is not ours to act on
            return
        # never inside __exit__ (the interrupt may land on its first line, before it disarms):
        # leaving the block must stop the watch and put the old handler back
        while frame is not None:
            if frame.f_code is _EXIT_CODE:
                return
            frame = frame.f_back
        raise DHTDied

    def _watch(self) -> None:
        while not self._closing.wait(self.poll_every):
            if self.dht.is_alive():
                continue
            global _death_seen
            self.exit_status = self.dht.exitcode
            self.died = _death_seen = True
            _drain_command_pipe(self.dht)
            self.stop_event.set()
            if _hard_exit_after is not None:
                backstop = threading.Timer(_hard_exit_after, self._exit_now)
                backstop.daemon = True
                backstop.start()
            break
        # interrupt until the main thread has left the block: hivemind may swallow one interrupt
        while self.died and not self._closing.is_set():
            with self._lock:
                if self._armed:
                    signal.pthread_kill(threading.main_thread().ident, INTERRUPT)  # type: ignore[arg-type]
            self._closing.wait(self.poll_every)


_EXIT_CODE = DHTWatch.__exit__.__code__


def _drain_command_pipe(dht: Any) -> None:
    # Calls go to the DHT child through a one-way pipe; with the child gone nobody reads it, so a
    # sender blocks for good once the pipe's buffer is full (`trainer train`'s stop path did, in the
    # progress tracker's goodbye store, and so did the tracker's own thread). Closing this process's
    # read end is not enough: the averager processes, forked after the DHT, hold copies of it (with
    # ours closed, py-spy still caught the stop path blocked in that store). Reading and discarding
    # everything sent from now on unblocks the senders already waiting and every later one; their
    # futures are never answered, which only matters to a caller that waits for them, and those
    # waits are what the interrupts are for.
    reader = getattr(dht, "_inner_pipe", None)  # hivemind's name for it: see hivemind/dht/dht.py
    if reader is None:
        return

    def drain() -> None:
        # the thread holds `reader`, so the pipe's read end stays open (not reused) while it reads;
        # it waits with poll: the DHT child, sharing the read end's file description since the
        # fork, made it non-blocking
        import select

        try:
            ready = select.poll()
            ready.register(reader.fileno(), select.POLLIN)
            while True:
                ready.poll()
                try:
                    if not os.read(reader.fileno(), 1 << 16):
                        return  # every sender closed its end
                except BlockingIOError:
                    continue
        except OSError as exc:  # the connection was closed meanwhile
            log.debug("stopped draining the dead DHT's command pipe: %r", exc)

    threading.Thread(target=drain, name="dead-dht-drain", daemon=True).start()


def leave_swarm(opt: Any, dht: Any) -> None:
    """Shut down the optimizer, then the DHT; never raises (it must not hide the run's outcome).

    With the DHT process gone, `hivemind.Optimizer.shutdown` would wait for averaging rounds that
    cannot form: stop only its progress tracker and averager processes then (each bounded; the
    DHT's own shutdown checks that its process is alive). The tracker must be stopped: one of
    its waits runs in a thread pool that Python joins at exit, and only the tracker's shutdown
    ends it (a peer that skipped it printed its error and never exited)."""
    dht_alive = dht is not None and dht.is_alive()
    if opt is not None and dht_alive:
        _quietly(opt.shutdown, "the optimizer")
    elif opt is not None:
        # its goodbye record is only queued for the dead DHT (drained by the watch): nothing waits for it
        _quietly(lambda: opt.tracker.shutdown(opt.shutdown_timeout), "the progress tracker")
        for averager in (opt.state_averager, getattr(opt, "grad_averager", None)):
            if averager is not None:
                _quietly(lambda averager=averager: _end_process(averager), "an averager")
    if dht is not None:
        _quietly(dht.shutdown, "the DHT")


def _quietly(step: Any, what: str) -> None:
    # one failing step must not skip the others: each stops a process or thread that would outlive us
    try:
        step()
    except Exception as exc:
        log.debug("error while shutting down %s: %r", what, exc)


def _end_process(averager: Any) -> None:
    # An averager's own shutdown asks its process to unregister from the p2p daemon, which died with
    # the DHT process or serves nobody now: the process printed a traceback per averager on the way
    # out. It has nothing left to save, so it is terminated, as hivemind does past its grace period.
    if not averager.is_alive():
        return
    averager.terminate()
    averager.join(averager.shutdown_timeout)
    if averager.is_alive():
        averager.kill()
        averager.join(averager.shutdown_timeout)
