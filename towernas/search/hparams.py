"""Joint architecture + hyperparameter search: which hyperparameters are genes of which level.

TowerNAS searches hyperparameters at the level that can tell their values apart:

- **Training hyperparameters** (``search.hparams``: ``temperature``, ``weight_decay``, ``lr``, ``batch_size``,
  ``history_dropout``)
  change neither the weights' shapes nor what a tower computes, only how it is trained. One supernet serves
  every value, but its fitness cannot rank them: a path's validation recall through shared weights is the same
  whatever temperature a retrain would use. So they are genes of stage 2, where candidates are retrained: once
  the architectures' short retrains have ranked the candidates, :func:`tune_training` runs a seeded TPE study
  (Optuna) of ``search.hparam_trials`` retrains of the leader over the listed hyperparameters, on the retrain's
  own early-stopped schedule (``search.hparam_epochs``; short trials favour whatever learns fastest). The best,
  if it beats the leader's short retrain at the configured values, is what stage 3 retrains every finalist with,
  and what ``best.json`` records (``provenance.training``).
- **Structural hyperparameters** (embedding width ``space.dims.embed``, D_blk ``space.dims.block``) change every
  weight's shape, so one supernet cannot share weights across their values. They are searched one level up:
  each value gets its own supernet and evolution, i.e. a whole search, and a sweeper chooses among the searches
  on the validation score each returns (``recipes/tune/search-dims.yaml``).

Every trial is a cached short retrain (``SelectionCache``), and the sampler is seeded, so a resumed search asks
the same trials and retrains none of them again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from omegaconf import DictConfig, OmegaConf

from towernas.runs.errors import UserError


@dataclass(frozen=True)
class Hparam:
    """A training hyperparameter: its config key and its range (log-uniform ``low``..``high``, or ``choices``)."""

    key: str
    low: float | None = None
    high: float | None = None
    choices: tuple | None = None

    def suggest(self, trial, name: str):
        if self.choices is not None:
            return trial.suggest_categorical(name, list(self.choices))
        return trial.suggest_float(name, self.low, self.high, log=True)


TRAINING_HPARAMS: dict[str, Hparam] = {
    "temperature": Hparam("retrain.temperature", 0.02, 0.5),
    "weight_decay": Hparam("retrain.weight_decay", 1e-5, 0.3),
    "lr": Hparam("retrain.lr", 3e-4, 1e-2),
    "batch_size": Hparam("retrain.batch_size", choices=(256, 512, 1024)),
    "history_dropout": Hparam("retrain.history_dropout", choices=(0.0, 0.1, 0.2, 0.3)),
}
STRUCTURAL_HPARAMS = {"embed": "space.dims.embed", "block": "space.dims.block", "embedding_width": "space.dims.embed",
                      "d_blk": "space.dims.block"}


def check_hparams(names) -> None:
    """One line naming the problem for a name of ``search.hparams`` this level cannot search."""
    for name in names:
        if name in STRUCTURAL_HPARAMS:
            raise UserError(f"search.hparams: {name} ({STRUCTURAL_HPARAMS[name]}) changes the supernet's weight "
                            "shapes, so it is searched one level up, one search per value: python -m "
                            "towernas.search -m -cd recipes +tune=search-dims")
        if name not in TRAINING_HPARAMS:
            raise UserError(f"search.hparams: unknown hyperparameter {name!r}; expected some of "
                            f"{sorted(TRAINING_HPARAMS)}")
    if len(set(names)) != len(names):
        raise UserError(f"search.hparams={list(names)}: a hyperparameter is listed twice")


def with_values(cfg: DictConfig, values: dict) -> DictConfig:
    """A copy of ``cfg`` with the training hyperparameters ``values`` (by name) set."""
    out = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
    for name, value in values.items():
        OmegaConf.update(out, TRAINING_HPARAMS[name].key, value, merge=False)
    return out


def configured_values(cfg: DictConfig, names) -> dict:
    """The configured value of each hyperparameter of ``names``."""
    return {name: OmegaConf.select(cfg, TRAINING_HPARAMS[name].key) for name in names}


@dataclass
class Tuned:
    """The outcome of :func:`tune_training`: the values stage 3 uses, and every trial."""

    values: dict
    configured: dict
    configured_score: float
    trials: list[dict]

    @property
    def improved(self) -> bool:
        return self.values != self.configured

    def to_dict(self) -> dict:
        return {"values": self.values, "configured": self.configured, "configured_score": self.configured_score,
                "improved": self.improved, "trials": self.trials}


def tune_training(cfg: DictConfig, names, score: Callable[[DictConfig], float], configured_score: float, *,
                  trials: int, seed: int, on_trial: Callable[[dict], None] | None = None) -> Tuned:
    """A seeded TPE study of ``trials`` evaluations of ``score(cfg with the trial's values)`` (higher is better)
    over the hyperparameters ``names``. Keeps the configured values unless a trial beats ``configured_score``
    (the same evaluation at those values)."""
    try:
        import optuna
    except ImportError:
        raise UserError("search.hparams needs Optuna: pip install 'towernas[tune]'") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize",
                                sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=min(4, trials)))
    configured = configured_values(cfg, names)
    best_values, best_score, log = configured, configured_score, []
    for number in range(trials):
        trial = study.ask()
        values = {name: TRAINING_HPARAMS[name].suggest(trial, name) for name in names}
        value = float(score(with_values(cfg, values)))
        study.tell(trial, value)
        record = {"trial": number, "values": values, "score": value}
        log.append(record)
        if on_trial is not None:
            on_trial(record)
        if value > best_score:
            best_values, best_score = values, value
    return Tuned(best_values, configured, configured_score, log)
