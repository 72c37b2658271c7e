"""The comparison benchmark's pieces: aggregation over seeds, equal compute for the random search, resumption."""

import json
from pathlib import Path

import pytest

from benchmarks import bench_compare as bc
from towernas.complexity.budgets import Budget

BUDGET = Budget("L", params=1000, flops=1000)


def _cost(up, uf, ip, i_f):
    return {"user": {"params": up, "flops": uf}, "item": {"params": ip, "flops": i_f}}


def _record(model, recall, ndcg, complexity, size=None, valid=None):
    return {"model": model, "size": size, "test": {"recall@50": recall, "ndcg@50": ndcg}, "complexity": complexity,
            **({"valid": {"recall@50": valid}} if valid is not None else {})}


def _records() -> dict[int, list[dict]]:
    """Three seeds of four models; the expected numbers of the tests below are computed by hand from these."""
    searched = [_cost(300, 400, 200, 300), _cost(400, 500, 200, 300), _cost(300, 400, 200, 300)]
    small = _cost(100, 100, 100, 100)
    return {seed: [_record("searched", r_s, n_s, searched[seed]), _record("random", r_r, n_r, small),
                   _record("google_dnn", r_g, 0.11, small, size=g_size),
                   _record("bst_paper", 0.2, 0.05, _cost(800, 100, 400, 100))]
            for seed, (r_s, n_s, r_r, n_r, r_g, g_size) in enumerate([(0.30, 0.10, 0.29, 0.10, 0.25, "[64]"),
                                                                       (0.32, 0.12, 0.33, 0.10, 0.30, "[64]"),
                                                                       (0.34, 0.14, 0.31, 0.10, 0.35, "[128,64]")])}


def test_model_rows_mean_std_costs_fit_and_delta_vs_google_dnn():
    rows = {r["model"]: r for r in bc.model_rows(_records(), BUDGET)}
    assert list(rows) == ["searched", "random", "google_dnn", "bst_paper"]
    s = rows["searched"]
    assert (s["recall@50"], s["recall@50_std"]) == (pytest.approx(0.32), pytest.approx(0.02))
    assert (s["ndcg@50"], s["ndcg@50_std"]) == (pytest.approx(0.12), pytest.approx(0.02))
    assert s["user_params"] == pytest.approx(1000 / 3) and s["params"] == pytest.approx(1600 / 3)
    assert s["flops"] == pytest.approx(2200 / 3) and s["fits"] == 3 and s["seeds"] == 3
    assert s["delta_recall@50_vs_google_dnn_pct"] == pytest.approx(100 * (0.32 / 0.30 - 1))  # +6.67%
    assert rows["random"]["delta_recall@50_vs_google_dnn_pct"] == pytest.approx(100 * (0.31 / 0.30 - 1))
    assert rows["google_dnn"]["delta_recall@50_vs_google_dnn_pct"] == pytest.approx(0.0)
    assert rows["google_dnn"]["size"] == "[64] / [128,64]"  # sized per seed (each seed is its own dataset)
    assert rows["bst_paper"]["fits"] == 0 and rows["bst_paper"]["params"] == 1200  # 1200 params > 1000
    assert rows["bst_paper"]["delta_recall@50_vs_google_dnn_pct"] == pytest.approx(-100 / 3)
    assert [p["fits"] for p in s["per_seed"]] == [True, True, True]


def test_paired_differences_and_wins():
    records = _records()
    vs_random = bc.paired(records, "searched", "random", "recall@50")  # 0.01, -0.01, 0.03
    assert vs_random["per_seed"] == {0: pytest.approx(0.01), 1: pytest.approx(-0.01), 2: pytest.approx(0.03)}
    assert (vs_random["mean"], vs_random["std"]) == (pytest.approx(0.01), pytest.approx(0.02))
    assert (vs_random["wins"], vs_random["seeds"]) == (2, 3)
    ndcg = bc.paired(records, "searched", "random", "ndcg@50")  # 0.00, 0.02, 0.04: a tie is not a win
    assert (ndcg["mean"], ndcg["std"], ndcg["wins"]) == (pytest.approx(0.02), pytest.approx(0.02), 2)
    vs_dnn = bc.paired(records, "searched", "google_dnn", "recall@50")  # 0.05, 0.02, -0.01
    assert (vs_dnn["mean"], vs_dnn["std"], vs_dnn["wins"]) == (pytest.approx(0.02), pytest.approx(0.03), 2)
    assert bc.paired(records, "searched", "mind", "recall@50") == {"per_seed": {}, "mean": None, "std": None,
                                                                  "wins": 0, "seeds": 0}
    one = bc.paired({0: records[0]}, "searched", "random", "recall@50")
    assert (one["mean"], one["std"]) == (pytest.approx(0.01), 0.0)


def test_the_validation_difference_is_paired_beside_the_test_one_where_both_records_have_it():
    records = {seed: [_record("searched", 0.3, 0.1, _cost(1, 1, 1, 1), valid=v_s),
                      _record("random", 0.3, 0.1, _cost(1, 1, 1, 1), valid=v_r)]
               for seed, (v_s, v_r) in enumerate([(0.31, 0.30), (0.29, 0.295), (0.30, None)])}
    valid = bc.paired(records, "searched", "random", "recall@50", "valid")  # seed 2: random has no valid
    assert valid["per_seed"] == {0: pytest.approx(0.01), 1: pytest.approx(-0.005)}
    assert (valid["wins"], valid["seeds"]) == (1, 2)
    section = {**bc.summarize_budget(records, BUDGET), "compute": {0: {"random_seconds": 1.0}}}
    text = bc.to_markdown({"dataset": "synthetic", "seeds": [0, 1, 2], "budgets": {"L": section},
                           "machine": "2 CPUs", "seconds": 1.0, "command": "c"})
    assert "| +0.0025 ± 0.0106 (1/2) |" in text  # mean and std of 0.01, -0.005
    assert bc.paired(_records(), "searched", "random", "recall@50", "valid")["seeds"] == 0  # none recorded


def test_markdown_shows_the_rows_and_the_paired_differences():
    section = {**bc.summarize_budget(_records(), BUDGET), "compute": {0: {"random_seconds": 33.3}}}
    text = bc.to_markdown({"dataset": "synthetic", "seeds": [0, 1, 2], "budgets": {"L": section},
                           "machine": "2 CPUs", "seconds": 1.0, "command": "python -m benchmarks.bench_compare"})
    assert "| searched | 0.3200 ± 0.0200 | 0.1200 ± 0.0200 | 533 | 733 | +6.7% | 3/3 |" in text
    assert "| bst_paper | 0.2000 ± 0.0000 | 0.0500 ± 0.0000 | 1.2k | 200 | -33.3% | 0/3 |" in text
    assert "| searched − random | +0.0100 ± 0.0200 | +0.0100, -0.0100, +0.0300 | 2/3 |" in text
    assert "| searched − google_dnn | +0.0200 ± 0.0300 |" in text and "seed 0: 33 s" in text


def _selection(run_dir):
    entries = {json.dumps(["short", ["mean", "MLP-64"], 2, 0]): {"score": 0.3, "seconds": 4.25},
               json.dumps(["short", ["sum", "MLP-32"], 2, 0]): {"score": 0.2, "seconds": 1.55},
               json.dumps(["full", ["mean", "MLP-64"], 30, 5, 0]): {"score": 0.3, "seconds": 100.0}}
    (run_dir / "selection.json").write_text(json.dumps(entries))


def _summary(run_dir, resumed=False):
    phases = {"supernet": 20.5, "evolution": 7.0, "selection": 110.0}
    (run_dir / "summary.json").write_text(json.dumps({"resumed": resumed, "phases_seconds_this_call": phases,
                                                      "supernet": {"seconds": 50.0}}))


def test_random_seconds_are_supernet_plus_evolution_plus_short_retrains(tmp_path):
    _selection(tmp_path)
    _summary(tmp_path)
    assert bc.short_seconds(tmp_path / "selection.json") == pytest.approx(5.8)  # full retrains not counted
    seconds = bc.search_seconds(tmp_path)
    assert seconds["random_seconds"] == pytest.approx(20.5 + 7.0 + 5.8)
    assert bc.short_seconds(tmp_path / "missing.json") == 0.0


def test_a_resumed_search_counts_the_seconds_summed_over_its_calls(tmp_path):
    _selection(tmp_path)
    _summary(tmp_path, resumed=True)
    (tmp_path / "evolution_state.json").write_text(json.dumps({"elapsed": 12.5}))
    seconds = bc.search_seconds(tmp_path)
    assert (seconds["supernet"], seconds["evolution"]) == (50.0, 12.5)
    assert seconds["random_seconds"] == pytest.approx(50.0 + 12.5 + 5.8)


def test_state_keeps_the_first_measurement_until_the_search_config_changes(tmp_path):
    _selection(tmp_path)
    _summary(tmp_path)
    (tmp_path / "run_config.json").write_text(json.dumps({"hash": "a"}))
    first = bc.State(tmp_path / "state.json").seconds("L/seed0", tmp_path)["random_seconds"]
    _summary(tmp_path, resumed=True)  # a later call reports other seconds: the stored ones stay
    (tmp_path / "evolution_state.json").write_text(json.dumps({"elapsed": 12.5}))
    assert bc.State(tmp_path / "state.json").seconds("L/seed0", tmp_path)["random_seconds"] == first
    (tmp_path / "run_config.json").write_text(json.dumps({"hash": "b"}))  # a new search in that directory
    assert bc.State(tmp_path / "state.json").seconds("L/seed0", tmp_path)["random_seconds"] == pytest.approx(68.3)


def test_two_comparisons_sharing_the_state_file_keep_each_others_entries(tmp_path):
    _selection(tmp_path)
    _summary(tmp_path)
    (tmp_path / "run_config.json").write_text(json.dumps({"hash": "a"}))
    beside_l, beside_m = bc.State(tmp_path / "state.json"), bc.State(tmp_path / "state.json")  # both read it empty
    beside_l.seconds("L/seed1", tmp_path)
    beside_m.seconds("M/seed0", tmp_path)
    assert set(json.loads((tmp_path / "state.json").read_text())) == {"L/seed1", "M/seed0"}


class FakeCommands:
    """Stand-ins for run_search / run_retrain that write the files the benchmark reads and record their calls."""

    def __init__(self):
        self.calls = []

    def search(self, cfg, run_dir):
        self.calls.append((run_dir.name, cfg.search.strategy, cfg.search.random_seconds))
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "run_config.json").write_text(json.dumps({"hash": "h"}))
        _selection(run_dir)
        (run_dir / "best.json").write_text(json.dumps({"strategy": cfg.search.strategy}))
        _summary(run_dir)
        return {}

    def retrain(self, cfg, run_dir):
        r = cfg.retrain
        self.calls.append((run_dir.name, list(r.archs), list(r.baselines), list(r.seeds), r.export))
        run_dir.mkdir(parents=True, exist_ok=True)
        models = [Path(a).stem for a in r.archs] + list(r.baselines)
        records = [_record(name, 0.3, 0.1, _cost(1, 1, 1, 1)) for name in models]
        (run_dir / "results.json").write_text(json.dumps({"records": records}))
        return {}


def test_finished_stages_are_skipped_and_the_random_search_gets_the_stored_seconds(tmp_path, monkeypatch):
    fake = FakeCommands()
    monkeypatch.setattr(bc, "run_search", fake.search)
    monkeypatch.setattr(bc, "run_retrain", fake.retrain)
    overrides = bc.base_overrides("L", 0, True, [])
    records = bc.run_cell("L", 0, tmp_path, overrides, bc.State(tmp_path / "state.json"))
    assert [r["model"] for r in records] == ["searched", "random", *bc.BASELINES]
    (search, random, baselines, winners) = fake.calls
    assert search == ("search", "evolution", 0.0) and random == ("random", "random", pytest.approx(33.3))
    assert baselines == ("baselines", [], list(bc.BASELINES), [0], False)  # apart: a new search reuses them
    inputs = tmp_path / "L" / "seed0" / "winners" / "inputs"
    assert winners == ("winners", [str((inputs / "searched.json").resolve()), str((inputs / "random.json").resolve())],
                       [], [0], False)
    assert json.loads((inputs / "random.json").read_text()) == {"strategy": "random"}

    fake.calls.clear()  # a rerun: every stage is done
    bc.run_cell("L", 0, tmp_path, overrides, bc.State(tmp_path / "state.json"))
    assert fake.calls == []

    (tmp_path / "L" / "seed0" / "random" / "summary.json").unlink()  # an interrupted random search resumes
    (tmp_path / "L" / "seed0" / "winners" / "results.json").unlink()
    _summary(tmp_path / "L" / "seed0" / "search", resumed=True)  # the state, not this, gives the seconds
    bc.run_cell("L", 0, tmp_path, overrides, bc.State(tmp_path / "state.json"))
    assert [c[0] for c in fake.calls] == ["random", "winners"] and fake.calls[0][2] == pytest.approx(33.3)
