"""A scripted swarm on a fake clock, to drive `trainer.training.train_loop.TrainingLoop` in milliseconds.

`World` holds the swarm's shared state (global epoch, samples toward it) and a few scripted
`ScriptedPeer`s that feed samples at a fixed rate while they are in the swarm. The peer under
test talks to it through `FakeSwarm` (the loop's `Swarm`), computes with `FakeLearner` (every
micro-batch advances the clock) and sleeps on `FakeClock`. Nothing here is random: a scenario
plays out the same way on any machine under any load.

The rules follow what the real swarm does (see trainer.training.swarm and hivemind's Optimizer):

- an epoch ends when the samples of the peers in phase reach the target; if the peer under test
  is in phase it takes part (group of everyone present), unless it lets ``patience`` seconds
  pass after the swarm was ready, when the others end the epoch without it;
- a gradient step of a peer that is behind downloads state instead (its samples are lost); a
  DiLoCo step one epoch behind is a local update, further behind a download;
- with ``solo_grace`` (synchronous DiLoCo, `SwarmOptimizer`): a round with nobody else present is
  held (no update, no new epoch, its samples declared again by the next step) unless the peer
  has been alone for ``solo_grace`` seconds or held `MAX_HELD_ROUNDS` rounds in a row (with
  others present a round that misses them is a local update, as above);
- with ``robust`` (robust aggregation, `SwarmOptimizer.weights_apart`): a local update while others
  are present leaves the weights apart from the swarm's until the next ``load_state``;
- ``load_state`` moves the peer to the swarm's epoch with nothing accumulated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trainer.training.config import TrainConfig
from trainer.training.progress import PeerProgress, ProgressLedger
from trainer.training.reporting import MetricsFile, read_metrics
from trainer.training.train_loop import MicroBatch, TrainingLoop, TrainingSummary

WALL_CLOCK_ORIGIN = 1_800_000_000.0
STEP_SECONDS = 0.1
TICK = 0.05


@dataclass
class ScriptedPeer:
    """Another trainer: feeds ``rate`` samples per second between ``joins_at`` and ``leaves_at``."""

    rate: float
    joins_at: float = 0.0
    leaves_at: float = math.inf

    def present(self, now: float) -> bool:
        return self.joins_at <= now < self.leaves_at


@dataclass
class World:
    """The swarm around the peer under test, on a fake clock that only moves when told to."""

    target: int
    others: list[ScriptedPeer] = field(default_factory=list)
    global_epoch: int = 0
    patience: float = 1.0
    """Seconds the others wait for a ready peer under test before ending an epoch without it."""
    stuck: bool = False
    """The others never end an epoch on their own (a swarm whose averaging keeps failing)."""
    now: float = 0.0
    others_samples: float = 0.0
    ready_since: float | None = None
    me: FakeSwarm | None = None

    def present(self) -> list[ScriptedPeer]:
        return [peer for peer in self.others if peer.present(self.now)]

    def samples_toward_epoch(self) -> int:
        mine = self.me.local_samples if self.me is not None and self.me.in_phase() else 0
        return int(self.others_samples) + mine

    def advance(self, seconds: float) -> None:
        end = self.now + seconds
        while self.now < end:
            tick = min(TICK, end - self.now)
            self.now += tick
            self.others_samples += sum(peer.rate for peer in self.present()) * tick
            self._maybe_others_end_epoch()

    def _maybe_others_end_epoch(self) -> None:
        if self.samples_toward_epoch() < self.target or not self.present():
            self.ready_since = None
            return
        if self.ready_since is None:
            self.ready_since = self.now
        waiting_for_me = self.me is not None and self.me.in_phase() and self.me.running
        if self.stuck or (waiting_for_me and self.now - self.ready_since < self.patience):
            return
        self.end_epoch()

    def end_epoch(self) -> None:
        self.global_epoch += 1
        self.others_samples = 0.0
        self.ready_since = None


class FakeClock:
    """`trainer.training.train_loop.Clock` over the world's time: sleeping lets the others work."""

    def __init__(self, world: World) -> None:
        self.world = world

    def monotonic(self) -> float:
        return self.world.now

    def time(self) -> float:
        return WALL_CLOCK_ORIGIN + self.world.now

    def sleep(self, seconds: float) -> None:
        self.world.advance(seconds)


class FakeSwarm:
    """The peer under test's view of the `World` (implements `trainer.training.train_loop.Swarm`).

    :param discard_at_steps: step numbers (1-based) at which the accumulated samples are thrown
        away, as hivemind does after an fp16 overflow.
    :param solo_grace: DiLoCo: hold a round that finds nobody else (see the module docstring).
    :param robust: a local update with others present leaves ``weights_apart`` set.
    :param withhold_epochs: epochs whose update this peer's own check withholds (sent with weight 0:
        the epoch still ends, ``withheld_rounds`` counts it).
    """

    def __init__(
        self,
        world: World,
        *,
        diloco: bool = False,
        local_epoch: int = 0,
        discard_at_steps: frozenset[int] = frozenset(),
        solo_grace: float | None = None,
        robust: bool = False,
        withhold_epochs: frozenset[int] = frozenset(),
    ) -> None:
        self.world, self.diloco = world, diloco
        self.withhold_epochs = withhold_epochs
        self.withheld_rounds = 0
        self.solo_grace = solo_grace
        self.robust = robust
        self.weights_apart = False
        self.history: list[tuple[str, int]] = []
        """What each step and download did: ("shared" | "local" | "held", epoch) or ("download", to epoch)."""
        self.held_rounds = self.held_samples = self.rounds_held = 0
        self.alone_since: float | None = None
        self.local_epoch = local_epoch
        self.local_samples = 0
        self.state_downloads = 0
        self.last_group_size = 0
        self.steps = 0
        self.discard_at_steps = discard_at_steps
        self.records: list[PeerProgress] = []
        self.prepared_at_samples: list[int] = []
        self.reported: list[int] = []
        self.landing_at_polls: list[int] = []
        """Overlapped DiLoCo: the `apply_landed_update` calls by which an outer update has finished."""
        self.polls = 0
        self.landings: list[tuple[int, int, bool]] = []
        """(due at poll, merged at poll, waited for) of every merged outer update."""
        self.running = True
        world.me = self

    def in_phase(self) -> bool:
        return self.local_epoch == self.world.global_epoch

    def _note_view(self) -> None:
        if self.world.present():
            self.alone_since = None
        elif self.alone_since is None:
            self.alone_since = self.world.now

    @property
    def global_epoch(self) -> int:
        return max(self.world.global_epoch, self.local_epoch)

    @property
    def num_peers(self) -> int:
        return 1 + len(self.world.present())

    @property
    def swarm_samples(self) -> int:
        return self.world.samples_toward_epoch()

    @property
    def ready_to_update(self) -> bool:
        # as hivemind's tracker: also when the swarm is already past this peer's epoch
        return self.world.global_epoch > self.local_epoch or self.swarm_samples >= self.world.target

    def wait_for_view(self, timeout: float) -> None:
        """The fake's view is always current."""

    def load_state(self) -> bool:
        self.state_downloads += 1
        self.local_epoch = self.world.global_epoch
        self.local_samples = self.held_rounds = self.held_samples = 0
        self.weights_apart = False
        self.history.append(("download", self.local_epoch))
        return True

    def report_progress(self, samples: int) -> None:
        self.reported.append(samples)
        self.local_samples = samples

    def prepare_averaging(self) -> None:
        self._note_view()
        self.prepared_at_samples.append(self.local_samples)

    def apply_landed_update(self, wait: bool = False) -> bool:
        """Overlapped DiLoCo: True (an outer update was merged) at the first poll at or after each
        number in ``landing_at_polls``, or at once with ``wait``."""
        self.polls += 1
        due = [n for n in self.landing_at_polls if n <= self.polls or wait]
        for n in due:
            self.landing_at_polls.remove(n)
            self.landings.append((n, self.polls, wait))
        return bool(due)

    def publish_progress(self, record: PeerProgress) -> None:
        self.records.append(record)

    def step(self, samples: int) -> None:
        world = self.world
        self.steps += 1
        behind = world.global_epoch - self.local_epoch
        if self.diloco and behind == 1:
            if self._holds(no_group=True):
                self._hold(samples + self.held_samples)
                return
            self._update(group=1)
            return
        if behind > 0:
            self.load_state()
            return
        if self.diloco:
            self.local_samples = samples + self.held_samples
        else:
            self.local_samples += samples
        if self.steps in self.discard_at_steps:
            self.local_samples = 0
        if self.ready_to_update:
            if self.diloco and self._holds(no_group=not world.present()):
                self._hold(self.local_samples)
                return
            self._update(group=1 + len(world.present()))

    def _holds(self, no_group: bool) -> bool:
        from trainer.training.swarm import MAX_HELD_ROUNDS  # hivemind's import, only where it is used

        if self.solo_grace is None or not no_group or self.held_rounds >= MAX_HELD_ROUNDS:
            return False
        self._note_view()
        return self.alone_since is not None and self.world.now - self.alone_since < self.solo_grace

    def _hold(self, samples: int) -> None:
        self.history.append(("held", self.local_epoch))
        self.held_rounds += 1
        self.rounds_held += 1
        self.held_samples = samples

    def _update(self, group: int) -> None:
        self.history.append(("shared" if group > 1 else "local", self.local_epoch))
        if self.local_epoch in self.withhold_epochs:
            self.withheld_rounds += 1
        if group == 1 and self.robust and self.world.present():
            self.weights_apart = True
        if self.in_phase():
            self.world.end_epoch()
        self.local_epoch += 1
        self.local_samples = self.held_rounds = self.held_samples = 0
        self.last_group_size = group


class FakeLearner:
    """Micro-batches of ``batch`` samples that take `STEP_SECONDS` of fake time each.

    ``slow_steps`` maps a step number (1-based) to the seconds that step takes instead: a peer
    descheduled by a busy machine.
    """

    def __init__(self, world: World, batch: int = 4, slow_steps: dict[int, float] | None = None) -> None:
        self.world, self.batch = world, batch
        self.slow_steps = slow_steps or {}
        self.steps = 0
        self.inner_steps = 0

    def forward_backward(self) -> MicroBatch:
        self.steps += 1
        seconds = self.slow_steps.get(self.steps, STEP_SECONDS)
        self.world.advance(seconds)
        loss = 6.0 * 0.995**self.steps
        return MicroBatch(self.batch, self.batch * 64, loss, seconds)

    def inner_step(self) -> float:
        self.inner_steps += 1
        return 0.0


class FakeCheckpoints:
    """Remembers each save: (epoch, totals)."""

    def __init__(self) -> None:
        self.saved: list[tuple[int, dict[str, Any]]] = []

    def save(self, epoch: int, totals: dict[str, Any]) -> str:
        self.saved.append((epoch, totals))
        return f"epoch-{epoch:06d}"

    @property
    def latest(self) -> tuple[int, dict[str, Any]]:
        return self.saved[-1]


class Crashed(Exception):
    """Raised by the fault-injection hook in place of SIGKILL."""


def crash(epoch: int) -> None:
    raise Crashed(epoch)


@dataclass
class Peer:
    """One life of a peer under test: the loop and the fakes it runs over."""

    loop: TrainingLoop
    swarm: FakeSwarm
    learner: FakeLearner
    checkpoints: FakeCheckpoints
    metrics_path: Path

    def run(self, **kwargs: Any) -> TrainingSummary:
        """Run the loop; afterwards (or after a crash) the others no longer wait for this peer."""
        try:
            return self.loop.run(**kwargs)
        finally:
            self.swarm.running = False

    def events(self, kind: str) -> list[dict[str, Any]]:
        return [event for event in read_metrics(self.metrics_path) if event["event"] == kind]

    def epochs(self) -> list[int]:
        return [event["epoch"] for event in self.events("epoch")]


def make_peer(
    world: World,
    metrics_path: Path,
    *,
    averaging: str = "gradient",
    max_epochs: int = 6,
    checkpoint_every: int = 2,
    checkpoints: FakeCheckpoints | None = None,
    resume: bool = False,
    fail_at_epoch: int | None = None,
    discard_at_steps: frozenset[int] = frozenset(),
    slow_steps: dict[int, float] | None = None,
    guard: Any = None,
    solo_grace: float | None = None,
    robust: bool = False,
    withhold_epochs: frozenset[int] = frozenset(),
) -> Peer:
    """A peer of run "fake" over ``world``; ``resume`` starts it from ``checkpoints.latest``."""
    config = TrainConfig(
        run_id="fake",
        model="tiny",
        averaging=averaging,
        target_batch_size=world.target,
        batch_size=4,
        max_epochs=max_epochs,
        checkpoint_every=checkpoint_every,
        matchmaking_time=1.5,
        averaging_timeout=6.0,
        log_every=1000.0,
        progress_bar=False,
    )
    checkpoints = checkpoints or FakeCheckpoints()
    epoch, totals = checkpoints.latest if resume else (0, {})
    swarm = FakeSwarm(
        world,
        diloco=averaging == "diloco",
        local_epoch=epoch,
        discard_at_steps=discard_at_steps,
        solo_grace=solo_grace,
        robust=robust,
        withhold_epochs=withhold_epochs,
    )
    learner = FakeLearner(world, slow_steps=slow_steps)
    clock = FakeClock(world)
    loop = TrainingLoop(
        config,
        peer_id="QmPeerUnderTest",
        swarm=swarm,
        learner=learner,
        checkpoints=checkpoints,
        metrics=MetricsFile(metrics_path, now=clock.time),
        ledger=ProgressLedger("QmPeerUnderTest", totals),
        clock=clock,
        resumed_from=epoch if resume else None,
        fail_at_epoch=fail_at_epoch,
        crash=crash,
        guard=guard,
    )
    return Peer(loop, swarm, learner, checkpoints, metrics_path)
