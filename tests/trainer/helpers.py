"""Helpers of the trainer tests: the arguments of a tiny-LLaMA peer on loopback, an in-process swarm
of such peers (`LocalSwarm`), plus the helpers every test folder shares (`tests/utils`: waiting for a
condition under load, free ports, a real `trainer` process with its log and metrics), imported from
here by the trainer tests.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from unittest import mock

from tests.utils.ports import free_port
from tests.utils.trainer_process import TrainerProcess, subprocess_env
from tests.utils.waiting import load_factor, patience, wait_until

if TYPE_CHECKING:
    import hivemind
    import torch

    from trainer.training.config import TrainConfig
    from trainer.training.identity import PeerIdentity
    from trainer.training.swarm import SwarmOptimizer

# the shared test helpers, imported from here by the trainer tests
__all__ = [
    "BATCH",
    "DilocoPeer",
    "LOOPBACK",
    "SEQ_LEN",
    "LocalSwarm",
    "SwarmNode",
    "TrainerProcess",
    "free_port",
    "in_threads",
    "load_factor",
    "patience",
    "peer_args",
    "subprocess_env",
    "wait_until",
]

SEQ_LEN = 64
BATCH = 4
LOOPBACK = ["/ip4/127.0.0.1/tcp/0"]


def peer_args(
    *,
    run_id: str,
    corpus: Path,
    tokenizer: Path,
    checkpoint_dir: Path,
    averaging: str,
    max_epochs: int,
    target_batch_size: int,
    initial_peers: list[str],
    extra: list[str] | None = None,
) -> list[str]:
    """Arguments of `trainer train` for a tiny-LLaMA peer on loopback with CI-sized timings."""
    args = [
        "train",
        "--run-id",
        run_id,
        "--model",
        "tiny",
        "--tokenizer",
        str(tokenizer),
        "--data",
        str(corpus),
        "--data-shards",
        "4",
        "--seq-len",
        str(SEQ_LEN),
        "--batch-size",
        str(BATCH),
        "--target-batch-size",
        str(target_batch_size),
        "--averaging",
        averaging,
        "--lr",
        "3e-3",
        "--warmup-steps",
        "2",
        "--total-steps",
        "400",
        "--host-maddrs",
        "/ip4/127.0.0.1/tcp/0",
        "--matchmaking-time",
        "1.5",
        "--averaging-timeout",
        "6",
        "--metadata-expiration",
        "8",
        "--load-state-timeout",
        "10",
        "--checkpoint-dir",
        str(checkpoint_dir),
        "--checkpoint-every",
        "2",
        "--max-epochs",
        str(max_epochs),
        "--log-every",
        "5",
        "--num-threads",
        "1",
        "--no-progress-bar",
    ]
    for peer in initial_peers:
        args += ["--initial-peers", peer]
    return args + (extra or [])


@dataclass
class SwarmNode:
    """One peer of a `LocalSwarm`: its configuration, peer id, DHT and optimizer (once started)."""

    config: TrainConfig
    peer_id: str
    dht: hivemind.DHT
    optimizer: SwarmOptimizer | None = None

    @property
    def maddrs(self) -> list[str]:
        """The addresses another peer joins this one through."""
        return [str(addr) for addr in self.dht.get_visible_maddrs()]


def in_threads(work: Callable[..., None], calls: list[tuple[Any, ...]]) -> None:
    """``work(*args)`` for every ``args`` of ``calls`` at once, each in its own thread (peers that must
    meet in one round); re-raises the first failure once every thread has ended."""
    failures: list[BaseException] = []

    def guarded(*args: Any) -> None:
        try:
            work(*args)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=guarded, args=args) for args in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]


@dataclass
class DilocoPeer:
    """A DiLoCo peer of a `LocalSwarm` driven by a test: its node and its one local weight tensor."""

    node: SwarmNode
    param: torch.nn.Parameter
    """Its local weights (the model's)."""

    @property
    def opt(self) -> SwarmOptimizer:
        assert self.node.optimizer is not None
        return self.node.optimizer

    def outer(self) -> torch.Tensor:
        """A copy of its outer weights."""
        (outer,) = self.opt._outer_parameters()
        return outer.detach().clone()

    def momentum(self) -> torch.Tensor | None:
        """A copy of its outer SGD momentum (None before its first outer step)."""
        (outer,) = self.opt._outer_parameters()
        buffer = self.opt.opt.state.get(outer, {}).get("momentum_buffer")
        return None if buffer is None else buffer.clone()


class LocalSwarm:
    """Peers of one run in this process on loopback, with CI-sized timings. Every node after the first
    joins the first unless given ``initial_peers``; leaving the ``with`` block shuts the optimizers down,
    then the DHTs (each newest first), as a peer that exits does.

    An optimizer gets a DHT of its own, never one an earlier optimizer used: a DHT reused after an
    optimizer's shutdown lost its process mid-call now and then (hivemind's pipe race: the caller
    waits forever; see `test_offloaded_optimizer_takes_16_bit_parameters_and_sums_in_fp32`)."""

    def __init__(self, tmp_path: Path, **settings: Any) -> None:
        self.tmp_path = tmp_path
        defaults = dict(
            model="tiny",
            host_maddrs=LOOPBACK,
            target_batch_size=8,
            batch_size=4,
            matchmaking_time=1.0,
            averaging_timeout=3.0,
        )
        self.settings = defaults | settings
        self.nodes: list[SwarmNode] = []
        # every DHT to shut down: the nodes' and any plain one a test starts and appends itself
        self.dhts: list[hivemind.DHT] = []
        self.optimizers: list[SwarmOptimizer] = []

    def __enter__(self) -> LocalSwarm:
        return self

    def __exit__(self, *exc_info: object) -> None:
        for optimizer in reversed(self.optimizers):
            optimizer.shutdown()
        for dht in reversed(self.dhts):
            dht.shutdown()

    def config(self, name: str, **overrides: Any) -> TrainConfig:
        """The run's settings for the peer ``name``, which keeps its files in ``tmp_path / name``."""
        from trainer.training.config import TrainConfig

        return TrainConfig(**(self.settings | {"checkpoint_dir": self.tmp_path / name} | overrides))

    def node(self, name: str, *, identity: PeerIdentity | None = None, **overrides: Any) -> SwarmNode:
        """Start the DHT of the peer ``name`` (with the identity in its folder unless given one)."""
        from trainer.training.identity import load_or_create_identity
        from trainer.training.swarm import build_dht

        if self.nodes:
            overrides.setdefault("initial_peers", self.nodes[0].maddrs)
        cfg = self.config(name, **overrides)
        identity = identity or load_or_create_identity(cfg.identity_file)
        dht = build_dht(cfg, identity)
        self.dhts.append(dht)
        node = SwarmNode(cfg, identity.peer_id, dht)
        self.nodes.append(node)
        return node

    def optimizer(
        self, node: SwarmNode, params: list[torch.nn.Parameter], *, attack: str | None = None, **options: Any
    ) -> SwarmOptimizer:
        """Start ``node``'s optimizer over ``params`` (``options`` as `build_optimizer` takes them);
        ``attack`` makes it that kind of attacker (``TRAINER_ATTACK``, read while it is built)."""
        from trainer.training.attacks import ATTACK_ENV
        from trainer.training.swarm import build_optimizer

        if node.optimizer is not None:
            raise ValueError(f"{node.config.checkpoint_dir.name} has an optimizer: start a new node for the next one")
        with mock.patch.dict(os.environ, {ATTACK_ENV: attack} if attack else {}):
            node.optimizer = build_optimizer(node.config, node.dht, params, **options)
        self.optimizers.append(node.optimizer)
        return node.optimizer

    def peer(
        self, name: str, params: list[torch.nn.Parameter], *, attack: str | None = None, **overrides: Any
    ) -> SwarmNode:
        """A node with its optimizer started: a trainer of the run."""
        node = self.node(name, **overrides)
        self.optimizer(node, params, attack=attack)
        return node
