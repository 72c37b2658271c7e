"""Aggregation over seeds (``towernas.runs.seeds``), hand-computed, and the three commands' tables built on it."""

import math

import pytest

from towernas import rank, retrain
from towernas.cascade import report as cascade_report
from towernas.runs import seeds, tables


def test_mean_and_sample_std_are_hand_computed():
    mean, std = seeds.mean_std([0.2, 0.3, 0.4])
    assert mean == pytest.approx(0.3) and std == pytest.approx(0.1)  # sample std (n - 1), not sqrt(0.02 / 3)
    assert seeds.mean_std([0.2, 0.4]) == pytest.approx((0.3, math.sqrt(0.02)))
    assert seeds.mean_std([0.7]) == (0.7, 0.0)
    assert not hasattr(tables, "mean_std")  # one implementation, in seeds


def test_a_metric_some_seed_lacks_is_left_out():
    out = seeds.over_seeds([{"a": 1.0, "b": 2.0}, {"a": 3.0}])
    assert out == {"a": 2.0, "a_std": pytest.approx(math.sqrt(2))}


def _retrain_records():
    return [{"model": model, "size": "[64]" if model == "google_dnn" else None, "seed": seed,
             "complexity": None, "test": {"recall@20": r / 2, "recall@50": r, "ndcg@50": r / 4},
             "valid": {"recall@20": r / 3, "ndcg@20": r / 5}}
            for model, values in (("google_dnn", (0.2, 0.4)), ("searched L #1", (0.3, 0.5))) for seed, r in
            enumerate(values)]


def test_retrain_rows_are_mean_and_std_over_seeds_per_model_in_input_order():
    rows = retrain.aggregate(_retrain_records())
    assert [r["model"] for r in rows] == ["google_dnn", "searched L #1"]
    first = rows[0]
    assert list(first)[:6] == ["model", "size", "seeds", "complexity", "recall@20", "recall@20_std"]
    assert first["recall@50"] == pytest.approx(0.3) and first["recall@50_std"] == pytest.approx(math.sqrt(0.02))
    assert first["valid/recall@20"] == pytest.approx(0.1) and "valid/ndcg@20_std" in first
    assert rows[1][retrain.DELTA] == pytest.approx(100 * (0.4 / 0.3 - 1))
    table = retrain.results_table(rows)
    assert "| google_dnn [64] | 0.1500 ± 0.0707 | 0.3000 ± 0.1414 |" in table
    assert "| – | – | – |" in table  # no bias metrics: the en dash every table uses


def test_rank_and_cascade_rows_use_the_same_aggregation():
    records = [{"ranker": "fm", "seed": s, "cost": {"params": 1, "embedding_params": 1, "flops_per_pair": 1},
                "test": {"auc": auc, "gauc": auc, "logloss": 0.5}} for s, auc in enumerate((0.7, 0.8))]
    row = rank.aggregate(records)[0]
    assert (row["model"], row["seeds"], row["auc"], row["logloss_std"]) == ("fm", 2, pytest.approx(0.75), 0.0)
    assert row["auc_std"] == pytest.approx(math.sqrt(0.005))
    runs = [{"ranker": "din", "negatives": "uniform", "joint": "none", "seed": s,
             "stages": [{"name": "din", "k": 20, "valid": {"ndcg@10": v}, "test": {"ndcg@10": v}}]}
            for s, v in enumerate((0.1, 0.3))]
    (pipeline,) = cascade_report.aggregate(runs)
    test = pipeline["stages"][0]["test"]
    assert pipeline["name"] == "din (uniform)" and pipeline["seeds"] == 2
    assert test == {"ndcg@10": pytest.approx(0.2), "ndcg@10_std": pytest.approx(math.sqrt(0.02))}
