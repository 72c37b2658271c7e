"""``benchmarks.bench_ctr``: every setup and ranker reported with paired changes, and a rerun that resumes."""

import json

import pytest

from benchmarks import bench_ctr


def test_a_quick_run_reports_paired_changes_and_resumes(tmp_path, monkeypatch):
    monkeypatch.setenv("TOWERNAS_DATA", str(tmp_path / "data"))
    argv = ["--dataset", "synthetic-tiny", "--seeds", "0,1", "--rankers", "fm,din", "--quick", "--out", str(tmp_path),
            "--setups", "default,neighbour_rating,rated"]
    bench_ctr.main(argv)
    out = json.loads((tmp_path / "ctr-synthetic-tiny.json").read_text())
    assert [(r["setup"], r["ranker"]) for r in out["rows"]] == [
        (s, r) for s in ("default", "neighbour_rating", "rated") for r in ("fm", "din")]
    for row in out["rows"]:
        assert row["seeds"] == [0, 1] and all(0 <= v <= 1 for v in row["valid"] + row["test"])
    rows = {(r["setup"], r["ranker"]): r for r in out["rows"]}
    assert rows["rated", "fm"]["test"] == rows["default", "fm"]["test"]  # FM reads no rated history: the same run
    assert rows["neighbour_rating", "fm"]["flops_per_pair"] > rows["default", "fm"]["flops_per_pair"]
    md = (tmp_path / "ctr-synthetic-tiny.md").read_text()
    assert "| default | fm |" in md and "| neighbour_rating | din |" in md and "Δ valid (paired)" in md
    import towernas.rank as rank

    monkeypatch.setattr(rank, "rank_one", lambda *a, **k: pytest.fail("trained again"))
    bench_ctr.main(argv)  # every ranker x seed is on record: nothing retrains


def test_an_unknown_setup_is_a_one_line_usage_error(capsys):
    with pytest.raises(SystemExit):
        bench_ctr.main(["--setups", "default,typo"])
    assert "--setups typo: expected names among" in capsys.readouterr().err


def test_the_rating_task_reports_rmse_beside_the_train_mean(tmp_path, monkeypatch):
    monkeypatch.setenv("TOWERNAS_DATA", str(tmp_path / "data"))
    bench_ctr.main(["--task", "rating", "--dataset", "synthetic-tiny", "--seeds", "0", "--rankers", "mf,fm",
                    "--quick", "--out", str(tmp_path), "--setups", "default"])
    out = json.loads((tmp_path / "rating-synthetic-tiny.json").read_text())
    assert out["task"] == "rating" and [r["ranker"] for r in out["rows"]] == ["mf", "fm"]
    for row in out["rows"]:
        assert all(v > 0 for v in row["valid"] + row["test"]) and row["test_second"][0] <= row["test"][0]
        assert row["train_mean"]["test"]["rmse"] > 0
    md = (tmp_path / "rating-synthetic-tiny.md").read_text()
    assert "# Rating prediction" in md and "| valid RMSE | test RMSE |" in md and "(train mean, no model)" in md
    assert (tmp_path / "rating-runs" / "synthetic-tiny" / "default-mf" / "results.json").exists()
