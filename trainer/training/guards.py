"""Guards every peer keeps whatever the swarm sends it: a finite model, a bounded swarm epoch.

- `ModelGuard`: after every update (an epoch's optimizer step, a state download) the trainable
  weights are checked for NaN and infinity; if any is found they are restored from the last good
  host copy, and the optimizer's non-finite statistics are zeroed, so one bad round costs one
  update instead of the run. With robust aggregation nothing non-finite should get through; this
  is the backstop for a swarm without it, or a reducer bug.
- `quorum_epoch` / `filter_progress`: hivemind takes the swarm's epoch as the highest any peer
  reports, so one inflated report makes every peer download state and jump. Here the epoch is the
  highest that at least ``quorum`` peers report (this peer's own epoch included), once the swarm
  has more peers than that; records above it are ignored (their samples too). With robust
  aggregation (``strict``) a smaller swarm never follows a lone report ahead of it either: right
  after starting, a peer's view may hold nobody's record but an attacker's.
- `in_view`: the guard bounds the epoch and the samples, not who is seen. Every live record counts
  as a trainer in view whatever its epoch (hivemind's ``num_peers``, read as "am I alone?"), so in a
  robust pool of two a partner one epoch ahead, whose record the strict guard ignores, is still
  seen: the peer left behind no longer skips its round as alone (tests/trainer/test_view_quorum.py).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

log = logging.getLogger("trainer")


def quorum_epoch(epochs: Iterable[int], quorum: int, strict: bool = False) -> int | None:
    """The highest epoch that at least ``quorum`` of ``epochs`` reach. With ``quorum`` reports or
    fewer, the highest (two peers cannot outvote each other), unless ``strict``: then the lowest,
    so a lone report never moves anyone. None for no reports."""
    ordered = sorted(epochs, reverse=True)
    if not ordered:
        return None
    if len(ordered) <= quorum:
        return ordered[-1] if strict else ordered[0]
    return ordered[quorum - 1]


def _epoch_of(entry: Any) -> int | None:
    value = getattr(entry, "value", None)
    if isinstance(value, Mapping) and isinstance(value.get("epoch"), int):
        return int(value["epoch"])
    return None


def filter_progress(
    metadata: Mapping[Any, Any], quorum: int, own: tuple[Any, int] | None = None, strict: bool = False
) -> tuple[dict[Any, Any], int | None]:
    """hivemind's progress entries without those above the quorum epoch; also returns that epoch.

    ``own`` = (this peer's record key, its local epoch): its epoch is a vote whether or not its
    record is published yet (hivemind publishes it only after the first step), and counts once.
    """
    epochs = {key: _epoch_of(entry) for key, entry in metadata.items()}
    votes = [epoch for key, epoch in epochs.items() if epoch is not None and (own is None or key != own[0])]
    if own is not None:
        votes.append(own[1])
    bound = quorum_epoch(votes, quorum, strict)
    if bound is None:
        return dict(metadata), None
    kept = {key: entry for key, entry in metadata.items() if epochs[key] is None or epochs[key] <= bound}
    return kept, bound


def in_view(metadata: Mapping[Any, Any]) -> int:
    """How many trainers hivemind's progress records show, whatever their epoch: every record with a
    value, as hivemind counts ``num_peers`` (the DHT's schema and signature validators and the
    records' expiry already admit only live, signed ones; an aux peer publishes none). An inflated
    record counts once, as its sender is there: an attacker is counted with an honest-looking epoch
    too, so this gives it nothing the guard took away."""
    return sum(getattr(entry, "value", None) is not None for entry in metadata.values())


class ModelGuard:
    """Keeps a host copy of the last finite trainable weights; restores it when they go non-finite.

    :param params: the trainable parameters (what the optimizer updates).
    :param optimizers: optimizers whose state is zeroed where non-finite after a restore (hivemind's
      and, in DiLoCo, the inner AdamW); a callable returning them, as hivemind may rebuild its own.
    """

    def __init__(self, params: list[Any], optimizers: Any = None) -> None:
        self.params = params
        self.optimizers = optimizers
        self.good: list[Any] | None = None
        self.restores = 0

    def finite(self) -> bool:
        import torch

        with torch.no_grad():
            return all(bool(torch.isfinite(param).all()) for param in self.params)

    def mark_good(self) -> None:
        """Copy the current weights to host memory as the state to restore."""
        import torch

        with torch.no_grad():
            if self.good is None:
                self.good = [param.detach().to("cpu", copy=True) for param in self.params]
            else:
                for saved, param in zip(self.good, self.params, strict=True):
                    saved.copy_(param.detach())

    def check(self) -> bool:
        """True when the weights are finite (and are kept as the new good copy); otherwise restore
        the last good copy (if any), zero non-finite optimizer statistics, and return False."""
        if self.finite():
            self.mark_good()
            return True
        import torch

        self.restores += 1
        with torch.no_grad():
            if self.good is not None:
                for saved, param in zip(self.good, self.params, strict=True):
                    param.copy_(saved)
            else:  # nothing good yet: the least damage is to zero what is not a number
                for param in self.params:
                    param.nan_to_num_(nan=0.0, posinf=0.0, neginf=0.0)
            for optimizer in self.optimizers() if callable(self.optimizers) else self.optimizers or ():
                # an offloaded optimizer (hivemind's host master weights, DiLoCo's outer weights)
                # steps its own copies and writes them back into the model: restore those too
                held = [param for group in optimizer.param_groups for param in group["params"]]
                if self.good is not None and [p.shape for p in held] == [p.shape for p in self.good]:
                    for saved, param in zip(self.good, held, strict=True):
                        param.copy_(saved)
                for state in optimizer.state.values():
                    for value in state.values():
                        if isinstance(value, torch.Tensor) and value.is_floating_point() and value.numel():
                            if not bool(torch.isfinite(value).all()):
                                value.zero_()
        return False
