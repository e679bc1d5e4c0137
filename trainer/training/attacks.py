"""Fault injection for tests, benchmarks and the demo: a trainer peer that attacks the swarm.

With ``TRAINER_ATTACK=<kind>`` in its environment (like ``TRAINER_FAIL_AT_EPOCH``), a trainer peer
behaves as one kind of attacker; nothing else changes. Never set it on a real peer. Kinds:

- ``scale1e3``: sends its gradient (DiLoCo: pseudo-gradient) times 1000;
- ``nan``: sends a gradient with a NaN in it;
- ``noise``: sends Gaussian noise 100 times the norm of its gradient instead of the gradient;
- ``signflip``: sends the negated gradient;
- ``weight``: declares 1000 times the samples it accumulated (its weight in the average);
- ``epoch``: signs progress records (hivemind's, the ones the swarm's epoch is computed from) with
  an epoch 1000 ahead of its own, and otherwise trains, reports its work and claims honestly;
- ``outsider``: trains honestly but is not a pool member (nothing differs inside the peer: the
  pool's allow-list does not name it);
- ``badstate``: serves NaN weights to any peer that downloads state from it, and declares the
  highest state-sharing priority so that downloads go to it first (with robust aggregation: hivemind
  binds the state it serves when the averager starts, so only a robust averager's hook can be
  poisoned afterwards; in a plain swarm it serves honest state at the inflated priority);
- ``junkstate``: as ``badstate``, but the weights it serves are finite random N(0, 1) weights of
  the right shapes (its optimizer statistics stay honest): it passes every check but the aux peer's
  held-out loss (`trainer.training.vouched_state.judge_loss`);
- ``liar``: a consistent liar. It never joins an averaging round (no matchmaking, nothing sent:
  it moves from epoch to epoch with local updates only) and reports no samples to the swarm's
  progress, so none of its work reaches the swarm, yet it signs its progress records and submits
  its claims for every token it fed, as an honest peer would: its records and claims agree with
  each other, and only the pool's reducer, which never heard from it, can tell
  (`trainer.pool.audit`).
"""

from __future__ import annotations

import logging
import os
from typing import Any

from trainer.errors import TrainerError

log = logging.getLogger("trainer")

ATTACK_ENV = "TRAINER_ATTACK"
GRADIENT_KINDS = ("scale1e3", "nan", "noise", "signflip")
KINDS = (*GRADIENT_KINDS, "weight", "epoch", "outsider", "badstate", "junkstate")
# @dev Kinds the swarm sees nothing wrong in (a peer that stays out of the rounds): only the pool's
#      audit, holding its claims against the reducer's observations, catches them.
POOL_KINDS = ("liar",)
# @dev How far the inflating kinds inflate (a factor for samples, an offset for epochs).
INFLATION = 1000


def attack_from_env() -> str | None:
    """The attack kind from ``TRAINER_ATTACK``, or None when unset; an unknown kind is an error."""
    kind = os.environ.get(ATTACK_ENV, "").strip()
    if not kind:
        return None
    if kind not in (*KINDS, *POOL_KINDS):
        hint = f"use one of {', '.join((*KINDS, *POOL_KINDS))}, or unset it"
        raise TrainerError(f"{ATTACK_ENV}={kind!r} is not an attack kind", hint)
    log.warning("%s=%s: this peer attacks the swarm (fault injection for tests)", ATTACK_ENV, kind)
    return kind


def corrupt_(tensors: Any, kind: str) -> None:
    """Turn an honest contribution (a sequence of tensors, changed in place) into ``kind``'s."""
    import torch

    with torch.no_grad():
        if kind == "noise":
            norm = float(sum(float(tensor.float().square().sum()) for tensor in tensors)) ** 0.5
            count = sum(tensor.numel() for tensor in tensors)
            scale = INFLATION / 10 * max(norm, 1e-3) / max(count, 1) ** 0.5
        for tensor in tensors:
            if kind == "scale1e3":
                tensor.mul_(INFLATION)
            elif kind == "nan":
                tensor.view(-1)[0] = float("nan")
            elif kind == "noise":
                tensor.copy_(torch.randn(tensor.shape) * scale)
            elif kind == "signflip":
                tensor.neg_()


class GradientAttackMixin:
    """Put before a hivemind gradient averager: corrupts what it sends, or inflates its weight."""

    attack: str = ""

    def load_accumulators_into_averager_(self) -> None:
        super().load_accumulators_into_averager_()  # type: ignore[misc]
        if self.attack in GRADIENT_KINDS:
            with self.get_tensors() as tensors:  # type: ignore[attr-defined]
                corrupt_(tensors, self.attack)

    def step(self, weight: float | None = None, **kwargs: Any) -> Any:
        if self.attack == "weight":
            weight = INFLATION * (self.local_samples_accumulated if weight is None else weight)  # type: ignore[attr-defined]
        return super().step(weight=weight, **kwargs)  # type: ignore[misc]


def attacking_averager(base: type, kind: str | None) -> type:
    """``base`` itself, or a subclass of it that attacks as ``kind`` does (gradient and weight kinds)."""
    if kind not in (*GRADIENT_KINDS, "weight"):
        return base
    # hivemind names its RPC protocols after the averager's class: the name must stay the base's
    return type(base.__name__, (GradientAttackMixin, base), {"attack": kind})


def attack_optimizer(opt: Any, kind: str | None) -> None:
    """The kinds that live outside the averaged tensors: progress reports, served state, rounds."""
    if kind == "liar":
        # hivemind's own path for a round that could not start: the epoch still ends (with local
        # gradients) when the swarm's does, so the liar's records name the rounds it skipped
        opt._maybe_schedule_gradient_averaging = lambda: None
        opt._begin_averaging_gradients = lambda grad_scaler: _unscaled(opt, grad_scaler)
        # nor does it count toward the swarm's progress: its samples (it never waits for a round, so
        # they pile up) would end every round early, and a slower honest peer that enters an epoch
        # already "ready" skips its round (measured: an honest node silent for 3 rounds, slashed)
        honest_report = opt.tracker.report_local_progress

        def nothing(local_epoch: int, samples_accumulated: int = 0, **kwargs: Any) -> None:
            honest_report(local_epoch, 0, **kwargs)

        opt.tracker.report_local_progress = nothing
    elif kind == "epoch":
        # only the record it signs into the DHT is inflated: inflating the tracker's own local epoch
        # made the attacker itself jump to it and stop before it ever trained, published a work
        # ledger (its node binding) or claimed anything, so there was nothing of it to catch
        opt.tracker.dht = _InflatingDHT(opt.tracker.dht, opt.tracker.training_progress_key)
    elif kind in ("badstate", "junkstate"):
        import torch

        averager = opt.state_averager
        # the weights a receiver installs come first, the optimizer statistics after them
        weights = len(averager.main_parameters) + len(averager.extra_tensors)
        # hivemind serves downloads through the get_current_state it bound when the averager
        # started; a robust averager looks up served_state on every download
        # (trainer.training.vouched_state.ServedEpochMixin). Without robust aggregation there is no
        # such hook, and the attacker serves honest state (only its priority is inflated).
        hook = "served_state" if hasattr(averager, "served_state") else "get_current_state"
        honest_state = getattr(averager, hook)

        def poisoned() -> Any:
            metadata, tensors, infos = honest_state()
            if kind == "badstate":
                return metadata, [torch.full_like(tensor, float("nan")) for tensor in tensors], infos
            junk = [torch.randn(tensor.shape, dtype=tensor.dtype) for tensor in tensors[:weights]]
            return metadata, [*junk, *tensors[weights:]], infos

        setattr(averager, hook, poisoned)
        # the donor with the highest priority is asked first; hivemind resets the priority to the
        # local epoch after every epoch, so the attacker's setter adds the inflation every time
        cls = type(averager)
        priority = cls.state_sharing_priority

        def setter(self: Any, value: float) -> None:
            priority.fset(self, value + INFLATION)

        inflated_priority = priority.setter(setter)
        averager.__class__ = type(cls.__name__, (cls,), {"state_sharing_priority": inflated_priority})
        averager.state_sharing_priority = averager.state_sharing_priority


class _InflatingDHT:
    """The tracker's DHT, except that the progress records it stores carry an inflated epoch."""

    def __init__(self, dht: Any, key: str) -> None:
        self._dht, self._key = dht, key

    def __getattr__(self, name: str) -> Any:
        return getattr(self._dht, name)

    def store(self, key: Any, subkey: Any = None, value: Any = None, **kwargs: Any) -> Any:
        if key == self._key and isinstance(value, dict) and isinstance(value.get("epoch"), int):
            value = {**value, "epoch": value["epoch"] + INFLATION}
        return self._dht.store(key, subkey=subkey, value=value, **kwargs)


def _unscaled(opt: Any, grad_scaler: Any) -> bool:
    """What hivemind's ``_begin_averaging_gradients`` does before it averages (unscale fp16
    gradients), then "no round began"."""
    if grad_scaler is not None:
        with grad_scaler.running_global_step():
            grad_scaler.unscale_(opt)
    return False
