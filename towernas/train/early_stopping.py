"""Model selection over epochs, shared by every training loop: keep the state of the epoch with the best
validation metric, stop after ``patience`` epochs without improvement, restore the best state at the end.

Example:
    >>> import torch
    >>> model, best = torch.nn.Linear(1, 1), BestEpoch("auc", patience=1)
    >>> best.update(1, {"auc": 0.7}, model), best.update(2, {"auc": 0.6}, model), best.best_epoch
    (False, True, 1)
"""

from __future__ import annotations

import copy
import math

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
