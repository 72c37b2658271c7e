"""Joint search, training level: a seeded TPE study over named training hyperparameters that keeps the configured
values unless a trial beats them; names it cannot search fail in one line."""

import math

import pytest

from tests.conftest import compose_config
from towernas.runs.errors import UserError
from towernas.search.hparams import TRAINING_HPARAMS, check_hparams, configured_values, tune_training, with_values

pytest.importorskip("optuna", reason="the tune extra (optuna) is not installed")


def _peak(cfg) -> float:  # a known optimum: temperature 0.1, lr 0.003 (log scale)
    r = cfg.retrain
    return -(math.log(r.temperature / 0.1) ** 2) - (math.log(r.lr / 0.003) ** 2)


def test_the_study_climbs_towards_a_known_optimum_and_returns_its_best_trial():
    cfg = compose_config(name="config", tiny=False)
    configured = _peak(cfg)
    tuned = tune_training(cfg, ["temperature", "lr"], _peak, configured, trials=25, seed=0)
    assert tuned.configured == {"temperature": cfg.retrain.temperature, "lr": cfg.retrain.lr}
    best = max(tuned.trials, key=lambda t: t["score"])
    assert tuned.improved and tuned.values == best["values"] and best["score"] > configured
    assert abs(math.log(tuned.values["temperature"] / 0.1)) < 0.35 and abs(math.log(tuned.values["lr"] / 0.003)) < 0.35
    for t in tuned.trials:  # every trial inside its declared range
        for name, value in t["values"].items():
            h = TRAINING_HPARAMS[name]
            assert h.low <= value <= h.high
    again = tune_training(cfg, ["temperature", "lr"], _peak, configured, trials=25, seed=0)
    assert again.trials == tuned.trials  # seeded


def test_the_configured_values_stay_unless_a_trial_beats_them():
    cfg = compose_config(name="config", tiny=False)
    tuned = tune_training(cfg, ["weight_decay", "batch_size"], lambda c: 0.1, configured_score=0.5, trials=3, seed=1)
    assert not tuned.improved and tuned.values == {"weight_decay": 0.0, "batch_size": 512}
    assert {t["values"]["batch_size"] for t in tuned.trials} <= {256, 512, 1024}


def test_values_are_written_into_a_copy_of_the_config():
    cfg = compose_config(name="config", tiny=False)
    before = cfg.retrain.temperature
    changed = with_values(cfg, {"temperature": 0.3, "batch_size": 256})
    assert configured_values(changed, ["temperature", "batch_size"]) == {"temperature": 0.3, "batch_size": 256}
    assert cfg.retrain.temperature == before


@pytest.mark.parametrize("names,message", [
    (["embed"], r"space.dims.embed\) changes the supernet's weight shapes.*\+tune=search-dims"),
    (["d_blk"], r"space.dims.block"),
    (["dropout"], r"unknown hyperparameter 'dropout'; expected some of \['batch_size', 'history_dropout', 'lr'"),
    (["lr", "lr"], r"listed twice"),
])
def test_names_this_level_cannot_search_fail_in_one_line(names, message):
    with pytest.raises(UserError, match=message):
        check_hparams(names)


@pytest.mark.parametrize("hparam_epochs,epochs,patience,extra", [(None, 2, 1, 1), (1, 1, 0, 0)])
def test_the_trials_run_on_the_retrain_schedule_or_short_ones(tmp_path, monkeypatch, hparam_epochs, epochs,
                                                                  patience, extra):
    from towernas.space.arch_space import ArchSpace
    from towernas.search import selection

    cfg = compose_config("search.hparams=[temperature]", "search.hparam_trials=2",
                         f"search.hparam_epochs={'null' if hparam_epochs is None else hparam_epochs}", name="config")
    calls = []
    monkeypatch.setattr(selection, "retrain_score", lambda arch, data, c, **k: calls.append(
        (c.retrain.temperature, k["epochs"], k["patience"])) or 0.1 * len(calls))
    space = ArchSpace.from_config(cfg.space)
    genome = [choices[0] for choices in space.slots()]
    leader = {"genome": genome, "short": 0.05}
    tuned = selection.tune_leader(cfg, None, space, leader, selection.SelectionCache(tmp_path / "c.json"))
    assert len(calls) == 2 + extra and {(e, p) for _, e, p in calls} == {(epochs, patience)}
    if extra:  # on a schedule of its own, the configured values are scored on it too: the bar a trial must beat
        assert calls[0][0] == cfg.retrain.temperature and tuned.configured_score == pytest.approx(0.1)
    else:
        assert tuned.configured_score == 0.05
