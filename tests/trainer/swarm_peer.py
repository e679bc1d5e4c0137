"""One peer of a test swarm, run through the library (``python -m tests.trainer.swarm_peer ROLE CONFIG``).

The swarm-integrity tests need what `trainer train` / `trainer aux` do not configure: robust
aggregation and the aux peer's allow-list, which in a pool run the pool side feeds from the chain.
Here ROLE is ``train`` or ``aux`` and CONFIG a JSON file of `TrainConfig` fields; for ``aux`` an
optional third argument names a file of admitted peer ids (one a line, re-read every refresh), for
``train`` the third and fourth name the ready file it creates once it has joined the swarm and
the go file it waits for before training.
SIGTERM stops the peer cleanly, as Ctrl-C stops `trainer`.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path


def main() -> None:
    from trainer.training.config import TrainConfig
    from trainer.training.reporting import setup_logging

    setup_logging()
    role, config_path = sys.argv[1], Path(sys.argv[2])
    config = TrainConfig(**json.loads(config_path.read_text()))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    if role == "aux":
        from trainer.training.aux_peer import run_aux

        allow_path = Path(sys.argv[3]) if len(sys.argv) > 3 else None

        def allow() -> set[str]:
            assert allow_path is not None
            return {line.strip() for line in allow_path.read_text().splitlines() if line.strip()}

        run_aux(config, stop_event=stop, allow=allow if allow_path is not None else None)
    else:
        from trainer.training.session import TrainingSession

        # a trainer joins the swarm, says so (READY_FILE), and trains once GO_FILE exists: the
        # first peer up would otherwise train its epochs alone while the others load
        ready, go = Path(sys.argv[3]), Path(sys.argv[4])
        session = TrainingSession(config)
        try:
            session.start()
            ready.touch()
            while not go.exists() and not stop.wait(0.1):
                pass
            session.run(stop_event=stop)
        finally:
            session.close()


if __name__ == "__main__":
    main()
