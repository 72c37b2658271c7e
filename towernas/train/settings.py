"""The hyperparameters of the three training loops, one frozen dataclass per loop, built once by a command.

``FitSettings`` (``towernas.train.loop.fit``: a retrieval model), ``RankerFitSettings``
(``towernas.train.ranker_loop.fit_ranker``: a ranker) and ``SupernetSettings``
(``supernet.trainer.train_supernet``: SPOS). The loops take ``(model, data, settings, *, runtime objects)``;
the runtime objects (device, progress, log, objective, callbacks) are not hyperparameters and stay keywords.

A field has the same name as the key of the config section it comes from (``cfg.retrain``, ``cfg.rank``,
``cfg.cascade``, ``cfg.supernet``), so ``from_config(section, **run)`` reads every field the section has by name,
without listing them again; the fields a section lacks (``seed``, ``precision``, ``ks``, …) come from ``run``,
else keep the loop's default. ``tests/train/test_settings.py`` checks the names and types against the schemas.
Ranges are checked where they were: ``towernas.config.validate`` for a config, the loops for direct callers.

Example:
    >>> from omegaconf import OmegaConf
    >>> from towernas.config.retrain import RetrainConfig
    >>> s = FitSettings.from_config(OmegaConf.structured(RetrainConfig), seed=3, ks=[10, 50])
    >>> s.lr, s.history_dropout, s.seed, s.ks, s.precision
    (0.002, 0.2, 3, (10, 50), 'fp32')
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from omegaconf import ListConfig

S = TypeVar("S")


def _value(value: Any) -> Any:
    """A plain Python value of a config value (a list becomes a tuple: settings are frozen)."""
    return tuple(value) if isinstance(value, (list, ListConfig)) else value


def settings_from(cls: type[S], section: Mapping | Any, run: dict[str, Any]) -> S:
    """An instance of the settings dataclass ``cls``: each field from ``run`` if given, else from ``section``
    (a config node or mapping) by the same name if it has one, else the field's default."""
    unknown = set(run) - {f.name for f in dataclasses.fields(cls)}
    if unknown:
        raise TypeError(f"{cls.__name__}.from_config: unknown field(s) {sorted(unknown)}")
    values = {f.name: _value(section[f.name]) for f in dataclasses.fields(cls) if f.name in section}
    return cls(**{**values, **{k: _value(v) for k, v in run.items()}})


@dataclass(frozen=True)
class FitSettings:
    """How ``towernas.train.loop.fit`` trains a two-tower model (the defaults: the loop's, not ``retrain``'s).

    ``max_epochs``/``patience``: the schedule (patience 0: no early stopping); ``select``: the validation metric
    of model selection, at one of ``ks``; ``temperature``: of the default objective and the learned decay;
    ``weight_decay`` > 0: AdamW; ``learn_weight_decay``: learn it by hypergradient every ``decay_every`` steps at
    ``decay_lr``; ``history_dropout``: per history item; ``precision``: fp32 | bf16 | fp16 | auto.
    """

    max_epochs: int = 30
    patience: int = 5
    batch_size: int = 512
    lr: float = 1e-3
    temperature: float = 0.05
    seed: int = 0
    select: str = "recall@50"
    ks: tuple[int, ...] = (10, 20, 50)
    weight_decay: float = 0.0
    learn_weight_decay: bool = False
    decay_every: int = 10
    decay_lr: float = 0.05
    precision: str = "fp32"
    history_dropout: float = 0.0

    @classmethod
    def from_config(cls, section, **run: Any) -> "FitSettings":
        """From a ``retrain`` section; ``run``: the rest, e.g. ``seed=``, ``ks=cfg.eval.ks``,
        ``precision=cfg.precision`` (``retrain_settings`` passes them all)."""
        return settings_from(cls, section, run)


@dataclass(frozen=True)
class RankerFitSettings:
    """How ``towernas.train.ranker_loop.fit_ranker`` trains a ranker.

    ``select``: the validation metric (``logloss``, ``rmse``, ``mae``: lowest; else highest);
    ``loss``: bce | softmax | mse; ``weight_decay``: Adam's L2; ``validate_initial``: the untrained ranker is a
    candidate too (epoch 0); ``precision``: fp32 | bf16 | fp16 | auto.
    """

    max_epochs: int = 30
    patience: int = 3
    lr: float = 1e-3
    weight_decay: float = 0.0
    seed: int = 0
    select: str = "auc"
    loss: str = "bce"
    validate_initial: bool = False
    precision: str = "fp32"

    @classmethod
    def from_config(cls, section, **run: Any) -> "RankerFitSettings":
        """From a ``rank`` or ``cascade`` section; ``run``: ``seed=``, ``precision=``, ``validate_initial=``…"""
        return settings_from(cls, section, run)


@dataclass(frozen=True)
class SupernetSettings:
    """How ``supernet.trainer.train_supernet`` trains the supernet (SPOS). A resume must use the same
    ``batch_size``, ``lr``, ``temperature``, ``seed``, ``embedding_decay``, ``history_dropout``, ``balance`` and
    ``precision``.

    ``steps``: the total, resumed ones included; a checkpoint every ``checkpoint_every`` steps; a log record every
    ``log_every``; the monitor every ``monitor_every`` steps (0: never), stopping after ``patience`` monitoring
    points without improvement (0: never); ``embedding_decay``: L2 on the shared embedding tables; ``balance``: feasible
    paths drawn per step, the least-trained one trained (``supernet.sampler.ArchSampler``; 1: uniform).
    """

    steps: int
    batch_size: int
    lr: float
    temperature: float
    seed: int
    checkpoint_every: int = 500
    log_every: int = 50
    monitor_every: int = 0
    patience: int = 0
    embedding_decay: float = 0.0
    precision: str = "fp32"
    history_dropout: float = 0.0
    balance: int = 1

    @classmethod
    def from_config(cls, section, **run: Any) -> "SupernetSettings":
        """From a ``supernet`` section; ``run``: ``seed=cfg.seed``, ``precision=cfg.precision``…"""
        return settings_from(cls, section, run)
