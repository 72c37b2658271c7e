"""The loops' settings: read by name from their config sections (same names and types as the schemas), frozen,
and the one best-epoch tracker every loop uses (in memory or in a file, resumable)."""

import dataclasses
import math
import typing

import pytest
import torch
from omegaconf import OmegaConf

from tests.conftest import compose_config
from towernas.config.cascade import CascadeConfig
from towernas.config.ranker import RankConfig
from towernas.config.retrain import RetrainConfig
from towernas.config.supernet import SupernetConfig
from towernas.train.early_stopping import BestEpoch
from towernas.train.settings import FitSettings, RankerFitSettings, SupernetSettings

# (settings, the schema of the section it is read from, the fields that section lacks: they come from the command)
PAIRS = [
    (FitSettings, RetrainConfig, {"seed", "ks", "precision"}),
    (RankerFitSettings, RankConfig, {"seed", "loss", "validate_initial", "precision"}),
    (RankerFitSettings, CascadeConfig, {"seed", "validate_initial", "precision"}),
    (SupernetSettings, SupernetConfig, {"seed", "log_every", "precision"}),
]


@pytest.mark.parametrize("settings, schema, outside", PAIRS, ids=lambda x: getattr(x, "__name__", ""))
def test_settings_share_names_and_types_with_their_section(settings, schema, outside):
    mine, theirs = typing.get_type_hints(settings), typing.get_type_hints(schema)
    assert set(mine) - set(theirs) == outside  # a renamed config key would otherwise fall back to a default
    for name in set(mine) & set(theirs):
        assert mine[name] == theirs[name], name


def test_from_config_reads_the_section_and_the_run():
    cfg = compose_config("retrain.lr=0.01", "retrain.history_dropout=0.1", "precision=bf16")
    fit = FitSettings.from_config(cfg.retrain, seed=4, ks=cfg.eval.ks, precision=cfg.precision)
    assert (fit.lr, fit.history_dropout, fit.max_epochs, fit.select, fit.seed, fit.precision) == \
        (0.01, 0.1, cfg.retrain.max_epochs, "recall@50", 4, "bf16")
    assert fit.ks == tuple(cfg.eval.ks) and isinstance(fit.ks, tuple)
    ranker = RankerFitSettings.from_config(OmegaConf.structured(RankConfig), seed=1)
    assert (ranker.loss, ranker.select, ranker.patience, ranker.validate_initial) == ("bce", "auc", 3, False)
    cascade = RankerFitSettings.from_config(OmegaConf.structured(CascadeConfig), seed=1, validate_initial=True)
    assert (cascade.loss, cascade.select, cascade.lr, cascade.validate_initial) == ("softmax", "ndcg@10", 1e-4, True)
    supernet = SupernetSettings.from_config(OmegaConf.structured(SupernetConfig), seed=2)
    assert (supernet.steps, supernet.monitor_every, supernet.log_every) == (3000, 100, 50)
    with pytest.raises(TypeError, match=r"unknown field\(s\) \['sed'\]"):
        FitSettings.from_config(cfg.retrain, sed=1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        fit.lr = 1.0  # type: ignore[misc]


def test_best_epoch_keeps_and_restores_and_resumes():
    model = torch.nn.Linear(1, 1)
    best = BestEpoch("val_loss", patience=4, lower_is_better=True)
    with torch.no_grad():
        model.weight.fill_(1.0)
    assert not best.update(2, {"val_loss": 3.0}, model)
    with torch.no_grad():
        model.weight.fill_(2.0)
    assert not best.update(4, {"val_loss": math.nan}, model)  # NaN never improves
    assert best.update(6, {"val_loss": 3.5}, model) and best.stopped_early  # 6 - 2 >= 4
    best.restore(model)
    assert model.weight.item() == 1.0 and best.best_epoch == 2 and best.best_value == 3.0
    again = BestEpoch("val_loss", patience=4, lower_is_better=True)
    again.load_state(best.state())
    assert (again.best_epoch, again.best_valid, again.stopped_early) == (2, {"val_loss": 3.0}, True)
    assert BestEpoch("logloss", 0).lower and not BestEpoch("auc", 0).lower
