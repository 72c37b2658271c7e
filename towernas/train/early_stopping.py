"""Model selection over epochs, shared by every training loop: keep the state of the epoch with the best
validation metric, stop after ``patience`` epochs without improvement, restore the best state at the end.
``fit_epochs`` is the epoch loop itself; a trainer supplies one training epoch and its validation. The supernet's
step loop uses ``BestEpoch`` alone (its steps as epochs, its best state in a file: a ``Snapshot``).

Example:
    >>> import torch
    >>> model, best = torch.nn.Linear(1, 1), BestEpoch("auc", patience=1)
    >>> best.update(1, {"auc": 0.7}, model), best.update(2, {"auc": 0.6}, model), best.best_epoch
    (False, True, 1)
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

LOWER_IS_BETTER = frozenset({"logloss", "rmse", "mae"})


def better(metric: str, value: float | None, best: float | None, *, lower: bool | None = None) -> bool:
    """Whether ``value`` of ``metric`` improves on ``best`` (None: nothing yet); NaN never does. ``lower``: whether
    lower is better (None: ``metric in LOWER_IS_BETTER``)."""
    if value is None or math.isnan(value):
        return False
    if best is None:
        return True
    return value < best if (metric in LOWER_IS_BETTER if lower is None else lower) else value > best


class Snapshot(Protocol):
    """Where ``BestEpoch`` keeps the best state: ``keep`` it (at ``epoch``, its ``valid`` metrics), ``restore`` it."""

    def keep(self, epoch: int, valid: dict, model) -> None: ...

    def restore(self, model) -> None: ...


class InMemory:
    """The best state as a deep copy of ``model.state_dict()`` (the default ``Snapshot``)."""

    def __init__(self) -> None:
        self._state = None

    def keep(self, epoch: int, valid: dict, model) -> None:
        self._state = copy.deepcopy(model.state_dict())

    def restore(self, model) -> None:
        """Load the kept state into ``model`` (nothing if none was kept)."""
        if self._state is not None:
            model.load_state_dict(self._state)


class BestEpoch:
    """The best validation point of a training loop (an epoch, or a supernet's step), its state kept aside.

    Args:
        select: the validation metric (``LOWER_IS_BETTER`` ones decrease, unless ``lower_is_better`` says).
        patience: epochs without improvement before stopping (0: never stop early); a loop validating every
            n steps passes steps as epochs and ``patience * n``.
        lower_is_better: None: ``select in LOWER_IS_BETTER``.
        snapshot: where the best state goes (default ``InMemory``; the supernet's: a file).
    """

    def __init__(self, select: str, patience: int, *, lower_is_better: bool | None = None,
                 snapshot: Snapshot | None = None) -> None:
        self.select, self.patience = select, patience
        self.lower = select in LOWER_IS_BETTER if lower_is_better is None else lower_is_better
        self.best_epoch, self.best_valid, self.stopped_early = 0, {}, False
        self.snapshot = snapshot if snapshot is not None else InMemory()

    @property
    def best_value(self) -> float | None:
        """The best ``select`` value so far (None: no epoch was ever best)."""
        return self.best_valid.get(self.select)

    def update(self, epoch: int, valid: dict, model) -> bool:
        """Record ``epoch``'s validation metrics; keep ``model``'s state if best. True: stop training now."""
        if better(self.select, valid.get(self.select), self.best_value, lower=self.lower):
            self.best_epoch, self.best_valid = epoch, valid
            self.snapshot.keep(epoch, valid, model)
            return False
        self.stopped_early = bool(self.patience) and epoch - self.best_epoch >= self.patience
        return self.stopped_early

    def restore(self, model) -> None:
        """Load the best epoch's state into ``model`` (nothing if no epoch was ever best)."""
        self.snapshot.restore(model)

    def state(self) -> dict:
        """The progress to checkpoint (the state itself is the snapshot's): best epoch, its metrics, stopped."""
        return {"best_epoch": self.best_epoch, "best_valid": dict(self.best_valid), "stopped_early": self.stopped_early}

    def load_state(self, state: dict) -> None:
        """Resume from ``state()`` (the snapshot must still hold that epoch's state)."""
        self.best_epoch, self.best_valid = int(state["best_epoch"]), dict(state["best_valid"])
        self.stopped_early = bool(state["stopped_early"])


@dataclass
class FitResult:
    """What a fit found: the selected epoch, its validation metrics, and the per-epoch log."""

    best_epoch: int
    best_valid: dict[str, float]
    epochs: list[dict] = field(default_factory=list)
    stopped_early: bool = False


def fit_epochs(model, train_epoch: Callable[[int], float], validate: Callable[[], dict], *, select: str,
               patience: int, max_epochs: int, validate_initial: bool = False,
               log: Callable[[dict], None] | None = None) -> FitResult:
    """Run ``train_epoch(epoch)`` (returns its mean training loss) for epochs 1..``max_epochs``, each followed by
    ``validate()``; keep the best epoch by ``select`` (``BestEpoch``), restore it into ``model``.
    ``validate_initial``: the untrained model is a candidate too (epoch 0). Every epoch's record goes to
    ``result.epochs`` and to ``log``."""
    result, best = FitResult(best_epoch=0, best_valid={}), BestEpoch(select, patience)

    def record(entry: dict) -> None:
        result.epochs.append(entry)
        if log is not None:
            log(entry)

    if validate_initial:
        valid = validate()
        record({"epoch": 0, **{f"valid/{k}": v for k, v in valid.items()}})
        best.update(0, valid, model)
    for epoch in range(1, max_epochs + 1):
        started = time.perf_counter()
        loss = train_epoch(epoch)
        valid = validate()
        record({"epoch": epoch, "train_loss": loss, **{f"valid/{k}": v for k, v in valid.items()},
                "seconds": time.perf_counter() - started})
        if best.update(epoch, valid, model):
            break
    best.restore(model)
    result.best_epoch, result.best_valid, result.stopped_early = best.best_epoch, best.best_valid, best.stopped_early
    return result
