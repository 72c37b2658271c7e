"""``hydra/sweeper=towernas_optuna``: a seeded TPE sweep that resumes a stored study to ``n_trials`` in all after a
kill -9, without repeating points; and the recipes of ``recipes/tune/`` on the real commands."""

import json
import os
import subprocess
import sys
import textwrap

import pytest
import yaml

from tests.conftest import REPO

optuna = pytest.importorskip("optuna", reason="the tune extra (optuna) is not installed")

APP = textwrap.dedent('''
    import os, signal
    import hydra
    from hydra.core.config_store import ConfigStore
    from hydra.core.hydra_config import HydraConfig

    ConfigStore.instance().store(name="cfg", node={"x": 0.0, "kill_at": -1})

    @hydra.main(version_base="1.3", config_path=None, config_name="cfg")
    def main(cfg) -> float:
        if HydraConfig.get().job.num == cfg.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)  # the whole sweep dies mid-trial
        return -(cfg.x - 0.3) ** 2

    main()
''')


def _sweep(tmp_path, name: str, n_trials: int, *extra: str) -> subprocess.CompletedProcess:
    app = tmp_path / "app.py"
    app.write_text(APP)
    return subprocess.run([sys.executable, str(app), "-m", "hydra/sweeper=towernas_optuna",
                           f"hydra.sweeper.storage=sqlite:///{tmp_path}/db/{name}.db", f"hydra.sweeper.study_name={name}",
                           f"hydra.sweeper.n_trials={n_trials}", "hydra.sweeper.seed=7", "x=interval(-1.0,1.0)",
                           f"hydra.sweep.dir={tmp_path}/{name}", *extra],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)


def _trials(tmp_path, name):
    study = optuna.load_study(study_name=name, storage=f"sqlite:///{tmp_path}/db/{name}.db")
    return study.trials


def test_a_killed_sweep_resumes_to_n_trials_without_repeating_points(tmp_path):
    killed = _sweep(tmp_path, "s", 6, "kill_at=3")
    assert killed.returncode == -9  # SIGKILL, mid-trial 3
    states = [t.state.name for t in _trials(tmp_path, "s")]
    assert states == ["COMPLETE"] * 3 + ["RUNNING"]
    resumed = _sweep(tmp_path, "s", 6)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    trials = _trials(tmp_path, "s")
    assert [t.state.name for t in trials] == ["COMPLETE"] * 3 + ["FAIL"] + ["COMPLETE"] * 3  # 6 complete in all
    xs = [t.params["x"] for t in trials if t.state.name == "COMPLETE"]
    assert len(set(xs)) == 6  # the resumed sampler is reseeded: no point repeats
    best = yaml.safe_load((tmp_path / "s" / "optimization_results.yaml").read_text())
    assert best["best_value"] == max(t.value for t in trials if t.value is not None)
    # seeded: an uninterrupted sweep draws the same first points; a rerun of a finished study runs nothing
    _sweep(tmp_path, "u", 3)
    assert [t.params["x"] for t in _trials(tmp_path, "u")] == xs[:3]
    again = _sweep(tmp_path, "u", 3, f"hydra.sweep.dir={tmp_path}/u-again")  # a new sweep dir, as ${now} gives
    assert again.returncode == 0, again.stderr[-2000:]
    assert len(_trials(tmp_path, "u")) == 3 and (tmp_path / "u-again" / "optimization_results.yaml").exists()


@pytest.mark.slow
def test_the_google_dnn_recipe_sweeps_retrain_on_its_validation_score(tmp_path, data_root):
    env = {**os.environ, "WANDB_MODE": "disabled", "TOWERNAS_DATA": str(data_root)}
    proc = subprocess.run([sys.executable, "-m", "towernas.retrain", "-m", "-cd", str(REPO / "recipes"),
                           "+tune=retrain-google_dnn", "dataset=synthetic-tiny", "progress=false", "device=cpu",
                           "retrain.max_epochs=2", "retrain.patience=1", "retrain.sizing_epochs=1",
                           "hydra.sweeper.n_trials=2", f"hydra.sweep.dir={tmp_path}/sweep"],
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = sorted((tmp_path / "sweep" / "synthetic-tiny" / "L").glob("*/results.json"))
    scores = [json.loads(p.read_text())["validation"]["score"] for p in runs]
    assert len(runs) == 2  # one run directory per trial
    best = yaml.safe_load((tmp_path / "sweep" / "optimization_results.yaml").read_text())
    assert best["best_value"] == pytest.approx(max(scores))
    assert set(best["best_params"]) == {"retrain.lr", "retrain.temperature", "retrain.weight_decay",
                                        "retrain.batch_size"}
    assert (tmp_path / "outputs" / "sweeps" / "retrain-google_dnn-synthetic-tiny-L.db").exists()  # resumable


@pytest.mark.parametrize("command,recipe", [("retrain", "retrain"), ("rank", "rank"), ("cascade", "cascade"),
                                            ("retrain", "retrain-google_dnn"), ("config", "search-dims")])
def test_every_recipe_composes_with_its_command(command, recipe):
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    import towernas.config  # noqa: F401
    from tests.conftest import CONF_DIR

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(command, overrides=[f"hydra.searchpath=[file://{REPO / 'recipes'}]", f"+tune={recipe}"],
                      return_hydra_config=True)
    sweeper = cfg.hydra.sweeper
    assert sweeper._target_.endswith("ResumableOptunaSweeper") and sweeper.direction == "maximize"
    for key in sweeper.params:  # every tuned key exists in the command's config
        assert OmegaConf.select(cfg, key) is not None, key
