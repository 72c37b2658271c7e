"""``benchmarks.bench_cascade``: setups, the summary of a cascade run, and a quick end-to-end run that resumes."""

import json

import pytest

from benchmarks import bench_cascade


def test_a_setup_is_a_name_and_cascade_overrides():
    from benchmarks.common import parse_setup

    assert parse_setup("slow=lr=0.0001;patience=5;ranker.embed=8", "cascade") == (
        "slow", ["cascade.lr=0.0001", "cascade.patience=5", "ranker.embed=8"])
    with pytest.raises(SystemExit, match="expected NAME=KEY=VALUE"):
        parse_setup("slow", "cascade")


def test_a_quick_run_reports_every_setup_and_ranker_and_resumes(tmp_path, monkeypatch):
    monkeypatch.setenv("TOWERNAS_DATA", str(tmp_path / "data"))
    argv = ["--dataset", "synthetic-tiny", "--seeds", "0", "--rankers", "lr", "--quick", "--out", str(tmp_path),
            "--setup", "previous=train_lists=in_sample;pair_features=[]",
            "--setup", "features=train_lists=time_split;pair_features=[retriever,popularity,item_rating]"]
    bench_cascade.main(argv)
    out = json.loads((tmp_path / "cascade-synthetic-tiny.json").read_text())
    assert [(r["setup"], r["ranker"]) for r in out["rows"]] == [("previous", "lr"), ("features", "lr")]
    for row in out["rows"]:
        assert 0 < row["valid"] <= 1 and 0 < row["test"] <= 1 and row["seeds"] == 1
        assert row["retriever"] == out["rows"][0]["retriever"] and 0 <= row["oracle"] <= 1
    md = (tmp_path / "cascade-synthetic-tiny.md").read_text()
    assert "| retriever alone |" in md and "| features | lr |" in md
    import towernas.cascade.run as run

    monkeypatch.setattr(run, "run_pipeline", lambda *a, **k: pytest.fail("trained again"))
    bench_cascade.main(argv)  # every ranker x seed is on record: nothing retrains
