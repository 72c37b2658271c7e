"""``benchmarks.bench_cascade_front``: every ranker at every K0, the front on validation, the leaderboard figure."""

import json

import pytest

from benchmarks import bench_cascade_front


def test_a_quick_run_serves_every_ranker_at_every_k0_and_draws_the_front(tmp_path, monkeypatch):
    monkeypatch.setenv("TOWERNAS_DATA", str(tmp_path / "data"))
    argv = ["--seeds", "0", "--rankers", "lr,fm", "--k0", "10,40", "--quick", "--out", str(tmp_path)]
    bench_cascade_front.main(argv)
    out = json.loads((tmp_path / "cascade-front-synthetic-tiny.json").read_text())
    points = out["points"]
    assert {(p["name"], p["k0"]) for p in points} == {("retriever alone", 10), ("lr (top_random)", 10),
                                                     ("lr (top_random)", 40), ("fm (top_random)", 10),
                                                     ("fm (top_random)", 40)}
    assert any(p["front"] for p in points) and all(0 <= p["test"]["ndcg@10"] <= 1 for p in points)
    assert "| cascade | K0 | FLOPs / request |" in (tmp_path / "cascade-front-synthetic-tiny.md").read_text()
    # the run directory is a cascade run: the leaderboard draws its front
    from towernas.leaderboard import build_site

    build_site([tmp_path / "cascade-front-runs" / "synthetic-tiny"], tmp_path / "site")
    assert (tmp_path / "site" / "cascade-front-1.png").read_bytes()[:4] == b"\x89PNG"
    import towernas.cascade.run as run

    monkeypatch.setattr(run, "run_pipeline", lambda *a, **k: pytest.fail("trained again"))
    def quality(ps):  # the milliseconds are measured again (the retriever alone is served again on a rerun)
        return [(p["name"], p["k0"], p["cost"], p["valid"]["ndcg@10"], p["test"]["ndcg@10"], p["front"]) for p in ps]

    assert quality(bench_cascade_front.main(argv)["points"]) == quality(points)  # every ranker x seed is on record
