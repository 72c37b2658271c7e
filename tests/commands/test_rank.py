"""``towernas.rank``: the CTR task from config to AUC / GAUC / logloss, selected on validation, test read once."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import compose_config
from towernas import rank
from towernas.data.errors import DataError
from towernas.runs.registry import UnknownNameError

pytestmark = pytest.mark.usefixtures("data_root")  # every test: a fresh $TOWERNAS_DATA
SMALL = ["ranker.embed=4", "ranker.hidden=[8]"]


def _cfg(*overrides):
    return compose_config(*overrides, name="rank")


def test_rank_trains_every_seed_and_writes_every_file(tmp_path):
    out = rank.run_rank(_cfg("ranker=deepfm", *SMALL, "rank.seeds=[0,1]"), tmp_path / "run")
    n_test = out["pairs"]["test"]["pairs"]
    epochs = [r["best_epoch"] for r in out["records"]]
    [row] = out["table"]
    assert row["model"] == "deepfm" and row["seeds"] == 2 and 0 <= row["auc"] <= 1 and row["logloss"] > 0
    for r in out["records"]:
        assert set(r["valid"]) >= {"auc", "gauc", "logloss", "gauc_users_skipped"} and r["test"]["pairs"] == n_test
        assert r["cost"]["params"] > 0 and r["cost"]["flops_per_pair"] > 0
    assert all(1 <= e <= 2 for e in epochs)
    saved = json.loads((tmp_path / "run" / "results.json").read_text())
    assert saved["table"][0]["auc"] == row["auc"] and saved["label"] == {"label": "rating", "threshold": 4.0}
    rows = list(csv.DictReader((tmp_path / "run" / "results.csv").open()))
    assert rows[0]["model"] == "deepfm" and float(rows[0]["gauc"]) == pytest.approx(row["gauc"])
    assert "| deepfm |" in (tmp_path / "run" / "results.md").read_text()
    # what a sweeper maximises: the mean validation AUC over the seeds (never test)
    mean_auc = sum(r["valid"]["auc"] for r in out["records"]) / 2
    assert saved["validation"] == {"metric": "auc", "mean": pytest.approx(mean_auc), "of": "deepfm",
                                   "score": pytest.approx(mean_auc)}


def test_a_logloss_selection_is_negated_so_that_the_sweeper_maximises(tmp_path):
    out = rank.run_rank(_cfg("ranker=lr", "rank.select=logloss", "rank.max_epochs=1"), tmp_path / "run")
    v = out["validation"]
    assert v["metric"] == "logloss" and v["mean"] == out["records"][0]["valid"]["logloss"] and v["score"] == -v["mean"]


def test_test_is_read_exactly_once_per_seed(tmp_path, monkeypatch):
    reads = []
    original = rank.evaluate_ctr

    def spy(m, d, pairs, **k):
        reads.append(pairs)
        return original(m, d, pairs, **k)

    monkeypatch.setattr(rank, "evaluate_ctr", spy)
    out = rank.run_rank(_cfg("ranker=lr", "rank.seeds=[3]", "rank.patience=0"), tmp_path / "run")
    assert len(reads) == 2 + 1  # two epochs of validation, then test once
    assert reads[-1].rows.tolist() != reads[0].rows.tolist()  # the last read is another split (test)
    assert out["records"][0]["seed"] == 3


def test_implicit_labels_sample_negatives(tmp_path):
    out = rank.run_rank(_cfg("ranker=fm", "ranker.embed=4", "dataset.ctr.label=implicit", "rank.negatives=2"),
                        tmp_path / "run")
    valid = out["pairs"]["valid"]
    assert valid["positive_rate"] == pytest.approx(1 / 3)
    assert 0 <= out["table"][0]["auc"] <= 1


def test_the_same_seed_gives_the_same_result(tmp_path):
    a = rank.run_rank(_cfg("ranker=dcnv2", *SMALL), tmp_path / "a")["records"][0]
    b = rank.run_rank(_cfg("ranker=dcnv2", *SMALL), tmp_path / "b")["records"][0]
    assert a["test"] == b["test"]


@pytest.mark.parametrize("override, message", [
    ("rank.lr=-1", r"rank.lr=-1.0: expected a positive learning rate"),
    ("rank.batch_size=0", r"rank.batch_size=0: expected a positive integer"),
    ("rank.select=recall", r"rank.select='recall': rank.task=ctr selects on one of \['auc', 'gauc', 'logloss'\]"),
    ("rank.task=regression", r"rank.task='regression': expected one of \['ctr', 'rating'\]"),
    ("rank.task=rating rank.select=auc", r"rank.select='auc': rank.task=rating selects on one of \['rmse', 'mae'\]"),
    ("rank.task=rating rank.addons=[ips]", r"rank.addons=\['ips'\]: the add-ons adjust click logits"),
])
def test_bad_training_values_are_one_line_naming_the_key(tmp_path, override, message):
    with pytest.raises(ValueError, match=message):
        rank.run_rank(_cfg("ranker=lr", *override.split()), tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_unknown_ranker_lists_the_known_ones(tmp_path):
    cfg = _cfg("ranker=lr")
    cfg.ranker.name = "deepfn"
    with pytest.raises(UnknownNameError, match=r"ranker.name='deepfn': unknown ranker; expected one of \[.*'din'"):
        rank.run_rank(cfg, tmp_path / "run")


def test_rating_labels_on_a_dataset_without_ratings_say_what_to_set(tmp_path, monkeypatch):
    original = rank.load_dataset

    def without_ratings(*a, **k):
        loaded = original(*a, **k)
        loaded.ratings = None
        return loaded

    monkeypatch.setattr(rank, "load_dataset", without_ratings)
    with pytest.raises(DataError, match="has no ratings; set dataset.ctr.label=implicit"):
        rank.run_rank(_cfg("ranker=lr"), tmp_path / "run")
    with pytest.raises(DataError, match="rank.task=rating: dataset synthetic-tiny has no .*ratings"):
        rank.run_rank(_cfg("ranker=lr", "rank.task=rating"), tmp_path / "run")
    assert not (tmp_path / "run" / "results.json").exists()


def test_the_rating_task_reports_rmse_and_mae_of_mean_plus_score_against_the_raw_ratings(tmp_path):
    """The oracle: RMSE and MAE recomputed here from the raw ratings and ``train mean + score``, clipped to the
    train ratings' range; the train mean's own row equals predicting the mean everywhere."""
    import numpy as np

    from towernas.data import load_dataset
    from towernas.eval.ctr_eval import pair_logits
    from towernas.runs.tracking import Tracker

    cfg = _cfg("ranker=mf", "ranker.embed=4", "rank.task=rating", "rank.max_epochs=3")
    out = rank.run_rank(cfg, tmp_path / "run")
    [row] = out["table"]
    assert row["model"] == "mf" and row["rmse"] >= row["mae"] > 0 and out["task"] == "rating"
    assert out["validation"]["metric"] == "rmse" and out["validation"]["score"] == -out["validation"]["mean"]
    data = load_dataset(cfg.dataset, progress=False)
    train = data.ratings[data.rows("train")]
    mean, low, high = train.mean(), train.min(), train.max()
    test_rows = data.rows("test")
    truth = data.ratings[test_rows].astype(np.float64)
    assert out["train_mean"]["test"]["rmse"] == pytest.approx(np.sqrt(np.mean((mean - truth) ** 2)))
    assert out["pairs"]["test"] == {"pairs": len(test_rows), "mean_rating": pytest.approx(truth.mean(), rel=1e-5)}
    pairs = rank.labelled_pairs(data, cfg)
    assert np.allclose(pairs["train"].labels + mean, train)  # labels: centred ratings
    ranker, record = rank.rank_one(data, pairs, cfg, 0, "cpu", Tracker(tmp_path / "t", use_wandb=False))
    predicted = np.clip(mean + pair_logits(ranker, data, pairs["test"]).astype(np.float64), low, high)
    assert record["test"]["rmse"] == pytest.approx(np.sqrt(np.mean((predicted - truth) ** 2)), rel=1e-5)
    assert record["test"]["mae"] == pytest.approx(np.mean(np.abs(predicted - truth)), rel=1e-5)
    assert record["test"] == out["records"][0]["test"]  # the same seed: the same run
    md = (tmp_path / "run" / "results.md").read_text()
    assert "| ranker | RMSE | MAE |" in md and "| (train mean, no model) |" in md and "| mf |" in md


def test_the_rating_task_selects_on_validation_rmse_and_reads_test_once(tmp_path, monkeypatch):
    reads = []
    original = rank.evaluate_rating

    def spy(m, d, pairs, scale, **k):
        reads.append(original(m, d, pairs, scale, **k))
        return reads[-1]

    monkeypatch.setattr(rank, "evaluate_rating", spy)
    out = rank.run_rank(_cfg("ranker=ncf", "ranker.embed=4", "ranker.hidden=[8]", "rank.task=rating",
                             "rank.patience=0", "rank.max_epochs=3"), tmp_path / "run")
    assert len(reads) == 3 + 1  # three epochs of validation, then test once
    [record] = out["records"]
    assert set(record["valid"]) == {"rmse", "mae", "pairs"} and record["test"] == reads[-1]
    assert record["valid"] == min(reads[:3], key=lambda v: v["rmse"])  # the lowest validation RMSE wins


def test_a_rerun_in_the_same_directory_resumes_and_more_seeds_extend_it(tmp_path, monkeypatch):
    first = rank.run_rank(_cfg("ranker=lr", "rank.seeds=[0]", "rank.max_epochs=2"), tmp_path / "run")
    trained = []
    original = rank.rank_one
    monkeypatch.setattr(rank, "rank_one", lambda d, p, cfg, seed, *a: trained.append(seed) or original(d, p, cfg, seed, *a))
    again = rank.run_rank(_cfg("ranker=lr", "rank.seeds=[0,1]", "rank.max_epochs=2"), tmp_path / "run")
    assert trained == [1]  # seed 0 was on record
    assert again["records"][0] == first["records"][0] and [r["seed"] for r in again["records"]] == [0, 1]
    with pytest.raises(ValueError, match=r"holds a run of another config \(changed: rank.lr\)"):
        rank.run_rank(_cfg("ranker=lr", "rank.seeds=[0]", "rank.max_epochs=2", "rank.lr=0.01"), tmp_path / "run")


def test_a_run_killed_with_sigkill_resumes_without_redoing_finished_seeds(tmp_path, data_root):
    run = tmp_path / "run"
    overrides = ["ranker=lr", "rank.seeds=[0,1,2]", "rank.max_epochs=2"]
    code = ("import sys; from pathlib import Path; from tests.conftest import compose_config; "
            "from towernas import rank; "
            f"rank.run_rank(compose_config(*{overrides!r}, name='rank'), Path({str(run)!r}))")
    child = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, "TOWERNAS_DATA": str(data_root)},
                             cwd=Path(__file__).resolve().parents[2])
    records = run / "records.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and not (records.exists() and records.read_text().count("\n") >= 1):
        if child.poll() is not None:
            break
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait()
    done = [json.loads(line)["record"]["seed"] for line in records.read_text().splitlines()]
    assert len(done) >= 1  # killed after at least one seed (or it had finished: then all are on record)
    out = rank.run_rank(_cfg(*overrides), run)
    assert [r["seed"] for r in out["records"]] == [0, 1, 2]
    assert out["records"][0] == json.loads(records.read_text().splitlines()[0])["record"]
