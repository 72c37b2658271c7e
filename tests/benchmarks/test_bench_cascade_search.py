"""``benchmarks.bench_cascade_search``: the joint search per seed against the front's best hand-built cascade, and
its cascades on the leaderboard's front figure."""

import json

import pytest

from benchmarks import bench_cascade_front, bench_cascade_search


def test_a_quick_run_compares_each_search_with_the_best_hand_built_cascade_within_the_budget(tmp_path, monkeypatch):
    monkeypatch.setenv("TOWERNAS_DATA", str(tmp_path / "data"))
    with pytest.raises(SystemExit, match="cascade-front-synthetic-tiny.json: missing; run `make bench-cascade-front"):
        bench_cascade_search.main(["--quick", "--out", str(tmp_path)])
    bench_cascade_front.main(["--seeds", "0", "--rankers", "lr,fm", "--k0", "10,40", "--quick", "--out", str(tmp_path)])
    front = json.loads((tmp_path / "cascade-front-synthetic-tiny.json").read_text())
    budget = 10 ** 7
    out = bench_cascade_search.main(["--quick", "--seeds", "0,1", "--k0", "10,40", "--flops", str(budget),
                                     "--out", str(tmp_path)])
    reference = max((p for p in front["points"] if p["name"] != "retriever alone"),
                    key=lambda p: p["valid"]["ndcg@10"])  # every hand-built point fits 10M FLOPs
    assert out["hand_built"]["name"] == reference["name"] and out["hand_built"]["k0"] == reference["k0"]
    assert [s["seed"] for s in out["searches"]] == [0, 1]
    assert all(s["cost"]["flops"] <= budget and s["k0"] in (10, 40) for s in out["searches"])
    assert out["searched"]["test"] == pytest.approx(sum(s["test"] for s in out["searches"]) / 2)
    assert "Joint search of K0 and the ranker" in (tmp_path / "cascade-search-synthetic-tiny.md").read_text()
    # the searches' cascades are drawn on the hand-built front and listed
    from towernas.leaderboard import build_site

    build_site([tmp_path / "cascade-front-runs", tmp_path / "cascade-search-runs"], tmp_path / "site")
    html = (tmp_path / "site" / "index.html").read_text()
    assert "Joint searches of K0 and the ranker" in html and "diamonds: the joint search" in html
    assert (tmp_path / "site" / "cascade-front-1.png").read_bytes()[:4] == b"\x89PNG"
