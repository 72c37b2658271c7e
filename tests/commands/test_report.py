"""The comparison report: Δ vs the in-budget GoogleDNN per budget, Pareto front, files written."""

import csv
import json

import pytest

from towernas.report import load_rows, pareto_front, write_report


def _results(path, budget, models):
    table = [{"model": m, "size": "[128,64]" if m == "google_dnn" else None, "seeds": 2, "recall@50": r,
              "recall@50_std": 0.01, "ndcg@50": r / 2, "ndcg@50_std": 0.0,
              "complexity": {"user": {"params": f, "flops": f}, "item": {"params": f // 2, "flops": f // 2}}}
             for m, r, f in models]
    path.mkdir(parents=True)
    (path / "results.json").write_text(json.dumps({"dataset": "synthetic", "budget": budget, "table": table}))
    return path


def test_report_compares_with_the_in_budget_google_dnn_of_the_same_budget(tmp_path):
    runs = [_results(tmp_path / "L", "L", [("google_dnn", 0.20, 60_000), ("google_dnn_paper", 0.22, 150_000),
                                           ("top1", 0.25, 90_000)]),
            _results(tmp_path / "M", "M", [("google_dnn", 0.25, 100_000), ("top1", 0.20, 200_000)])]
    rows = write_report(runs, tmp_path / "out")
    delta = {(r["budget"], r["model"]): r["delta_recall@50_pct"] for r in rows}
    assert delta[("L", "top1")] == pytest.approx(25.0) and delta[("M", "top1")] == pytest.approx(-20.0)
    assert delta[("L", "google_dnn")] == pytest.approx(0.0) and delta[("L", "google_dnn_paper")] == pytest.approx(10.0)
    assert (tmp_path / "out" / "recall_vs_flops.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (tmp_path / "out" / "report.md").read_text()
    assert "+25.0%" in report and "Δ R@50 vs in-budget GoogleDNN" in report
    assert "| L | google_dnn [128,64] |" in report and "| L | google_dnn_paper |" in report
    saved = list(csv.DictReader((tmp_path / "out" / "report.csv").open()))
    assert len(saved) == 5 and saved[0]["size"] == "[128,64]"


def test_pareto_front_keeps_only_non_dominated_points():
    points = [(1, 0.1), (2, 0.3), (3, 0.2), (4, 0.35), (5, 0.35)]  # (cost, quality)
    assert pareto_front(points) == [0, 1, 3]


def test_missing_results_give_a_one_line_error(tmp_path):
    with pytest.raises(ValueError, match="cannot read retrain results") as err:
        load_rows([tmp_path / "nope"])
    assert "\n" not in str(err.value)
