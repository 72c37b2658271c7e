"""Model selection over epochs, shared by every training loop: keep the state of the epoch with the best
validation metric, stop after ``patience`` epochs without improvement, restore the best state at the end.
``fit_epochs`` is the epoch loop itself; a trainer supplies one training epoch and its validation.

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

LOWER_IS_BETTER = frozenset({"logloss"})


def better(metric: str, value: float | None, best: float | None) -> bool:
    """Whether ``value`` of ``metric`` improves on ``best`` (None: nothing yet); NaN never does."""
    if value is None or math.isnan(value):
        return False
    if best is None:
        return True
    return value < best if metric in LOWER_IS_BETTER else value > best


class BestEpoch:
    """Args: select: the validation metric (``LOWER_IS_BETTER`` ones decrease); patience: epochs without
    improvement before stopping (0: never stop early)."""

    def __init__(self, select: str, patience: int) -> None:
        self.select, self.patience = select, patience
        self.best_epoch, self.best_valid, self.stopped_early = 0, {}, False
        self._state = None

    def update(self, epoch: int, valid: dict, model) -> bool:
        """Record ``epoch``'s validation metrics; keep ``model``'s state if best. True: stop training now."""
        if better(self.select, valid.get(self.select), self.best_valid.get(self.select)):
            self.best_epoch, self.best_valid = epoch, valid
            self._state = copy.deepcopy(model.state_dict())
            return False
        self.stopped_early = bool(self.patience) and epoch - self.best_epoch >= self.patience
        return self.stopped_early

    def restore(self, model) -> None:
        """Load the best epoch's state into ``model`` (nothing if no epoch was ever best)."""
        if self._state is not None:
            model.load_state_dict(self._state)


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
