"""The tuning benchmarks' tables, on hand-made records (the runs themselves are the benchmarks' job)."""

import pytest

from benchmarks import bench_sweep, bench_tuning


def test_tuning_summary_and_table():
    confirmed = [{"valid": 0.30, "test": 0.25}, {"valid": 0.32, "test": 0.27}]
    s = bench_tuning.summarise(confirmed)
    assert s["valid"] == pytest.approx(0.31) and s["valid_std"] == pytest.approx(0.0141421, rel=1e-4)
    arm = {"chosen": 1e-4, "chosen_valid_seed0": 0.3, "seconds": 10.0, "confirm": s, "learned_at_best_epoch": [2e-4]}
    table = bench_tuning.markdown({"model": "m", "runs_per_arm": 2, "confirm_seeds": [1, 2],
                                   "arms": {"hypergradient": arm, "defaults": {**arm, "chosen": None,
                                                                               "learned_at_best_epoch": None}}})
    assert "| hypergradient | 1.00e-04 → learned 2.0e-04 | 0.3000 | 10 | 0.3100 ± 0.0141 | 0.2600 ± 0.0141 |" in table
    assert "| defaults | 0 (Adam) |" in table
    assert bench_tuning.overrides_of("hypergradient", 0.01) == ("retrain.weight_decay=0.01",
                                                                "retrain.learn_weight_decay=true")


def test_sweep_summary_and_table():
    results = {"records": [{"size": "[64]", "seed": 1, "valid": {"recall@50": 0.3}, "test": {"recall@50": 0.2}},
                           {"size": "[64]", "seed": 2, "valid": {"recall@50": 0.4}, "test": {"recall@50": 0.3}}]}
    s = bench_sweep.summary(results)
    assert s["valid"] == pytest.approx(0.35) and s["seeds"] == [1, 2] and s["size"] == "[64]"
    r = {"trials": [{"value": 0.1}, {"value": 0.3}, {"value": 0.2}], "defaults_seed0": s, "confirm_seeds": "1,2",
         "best": {"params": {"retrain.lr": 0.001}, "value": 0.3}, "defaults": s, "tuned": s,
         "delta_valid": 0.0, "delta_test": 0.0}
    table = bench_sweep.markdown(r)
    assert "min 0.1000, median 0.2000, max 0.3000" in table and "`retrain.lr=0.001`" in table
