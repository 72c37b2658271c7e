"""Range checks of the training values of a composed config, run by the commands before any work.

The schemas fix the types (an ``int`` key refuses ``abc`` at composition); these checks fix the ranges a
type cannot express (``supernet.lr=-1``, ``retrain.batch_size=0``), so a bad value fails as one line naming
its key rather than as a NaN loss, a ``ZeroDivisionError`` or an empty training loop later.

Example:
    >>> from omegaconf import OmegaConf
    >>> from towernas.config import BaseConfig
    >>> cfg = OmegaConf.structured(BaseConfig)
    >>> cfg.supernet.lr, cfg.retrain.patience = -1.0, -2
    >>> try:
    ...     check_training_values(cfg)
    ... except ConfigValueError as err:
    ...     print(err)
    supernet.lr=-1.0: expected a positive number; retrain.patience=-2: expected 0 or a positive integer
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from omegaconf import DictConfig, OmegaConf

from towernas.runs.errors import UserError


class ConfigValueError(UserError):
    """A config value out of its range (one line naming every bad key)."""


@dataclass(frozen=True)
class Range:
    """What a value must be: ``expected`` in words, ``holds(value)`` as a test."""

    expected: str
    holds: Callable[[float], bool]


POSITIVE = Range("a positive number", lambda v: math.isfinite(v) and v > 0)
POSITIVE_INT = Range("a positive integer", lambda v: v >= 1)
NON_NEGATIVE_INT = Range("0 or a positive integer", lambda v: v >= 0)
NON_NEGATIVE = Range("0 or a positive number", lambda v: math.isfinite(v) and v >= 0)
LEARNING_RATE = Range("a positive learning rate", POSITIVE.holds)
PROBABILITY = Range("a probability in [0, 1)", lambda v: math.isfinite(v) and 0 <= v < 1)
SHARE = Range("a share in (0, 1)", lambda v: math.isfinite(v) and 0 < v < 1)

TRAINING_VALUES: dict[str, Range] = {
    "supernet.steps": POSITIVE_INT,
    "supernet.batch_size": POSITIVE_INT,
    "supernet.lr": POSITIVE,
    "supernet.temperature": POSITIVE,
    "supernet.checkpoint_every": POSITIVE_INT,
    "supernet.monitor_every": NON_NEGATIVE_INT,
    "supernet.patience": NON_NEGATIVE_INT,
    "supernet.monitor_archs": NON_NEGATIVE_INT,
    "supernet.history_dropout": PROBABILITY,
    "supernet.balance": POSITIVE_INT,
    "retrain.max_epochs": POSITIVE_INT,
    "retrain.patience": NON_NEGATIVE_INT,
    "retrain.batch_size": POSITIVE_INT,
    "retrain.lr": POSITIVE,
    "retrain.temperature": POSITIVE,
    "retrain.top_k": POSITIVE_INT,
    "retrain.weight_decay": NON_NEGATIVE,
    "retrain.decay_every": POSITIVE_INT,
    "retrain.decay_lr": POSITIVE,
    "retrain.history_dropout": PROBABILITY,
    "search.stall_generations": NON_NEGATIVE_INT,  # 0 = never stop early
    "search.min_improvement": NON_NEGATIVE,
    "search.final_candidates": POSITIVE_INT,
    "search.short_epochs": POSITIVE_INT,
    "search.hparam_trials": POSITIVE_INT,
}


# the CTR task (conf/rank.yaml) and the cascade (conf/cascade.yaml)
RANK_VALUES: dict[str, Range] = {
    "rank.max_epochs": POSITIVE_INT,
    "rank.batch_size": POSITIVE_INT,
    "rank.patience": NON_NEGATIVE_INT,
    "rank.lr": LEARNING_RATE,
    "rank.weight_decay": NON_NEGATIVE,
}
CASCADE_VALUES: dict[str, Range] = {
    "cascade.n_negatives": POSITIVE_INT,
    "cascade.batch_size": POSITIVE_INT,
    "cascade.max_epochs": POSITIVE_INT,
    "cascade.lr": LEARNING_RATE,
    "cascade.holdout": SHARE,
}


def check_values(cfg: DictConfig, table: dict[str, Range]) -> None:
    """Raise a ConfigValueError naming every key of ``table`` whose value in ``cfg`` (the whole composed
    config) is out of its range, e.g. ``supernet.lr=-1.0: expected a positive number``."""
    problems = [f"{key}={value!r}: expected {rule.expected}" for key, rule in table.items()
                if not rule.holds(value := OmegaConf.select(cfg, key, throw_on_missing=True))]
    if problems:
        raise ConfigValueError("; ".join(problems))


def check_training_values(cfg: DictConfig) -> None:
    """``check_values`` of ``TRAINING_VALUES`` (the search's and the retrain's)."""
    check_values(cfg, TRAINING_VALUES)
    epochs = OmegaConf.select(cfg, "search.hparam_epochs")
    if epochs is not None and epochs < 1:
        raise ConfigValueError(f"search.hparam_epochs={epochs}: expected null (the retrain's schedule) or a "
                               "positive integer")
    if cfg.retrain.learn_weight_decay and cfg.retrain.weight_decay <= 0:
        raise ConfigValueError("retrain.learn_weight_decay=true starts from retrain.weight_decay, which is "
                               f"{cfg.retrain.weight_decay}: expected a positive number, e.g. 1e-4")
