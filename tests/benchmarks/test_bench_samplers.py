"""bench_samplers: the core run on a few hundred items gives every case, consistent counts, and its files."""

import json

import pytest

from benchmarks import bench_samplers as bs


def test_a_tiny_run_times_every_sampler_and_reference_and_writes_its_tables(tmp_path):
    result = bs.run(n_items=300, batch=16, n=8, dim=8, pool=32, n_clusters=4, kmeans_iters=2, repeats=2, warmup=1,
                    min_seconds=0.001)
    assert set(result) == {"params", "rows", "cluster_refresh"}
    rows = {(r["name"], r["shape"]): r for r in result["rows"]}
    expected = {("torch.randint", "per_row"), ("torch.multinomial", "per_row"), ("popularity.draw", "per_row"),
                *((name, "per_step") for name in ("in_batch", "uniform", "popularity", "mixed")),
                *((name, "per_row") for name in ("uniform", "popularity", "mixed", "dns", "cluster"))}
    assert set(rows) == expected and len(result["rows"]) == len(expected)
    keys = {"name", "kind", "shape", "call", "ids_per_call", "median_s", "best_s", "calls_per_round", "rounds_s",
            "negatives_per_s", "row_negatives_per_s", "vs_randint"}
    for row in result["rows"]:
        assert set(row) == keys
        assert 0 < row["best_s"] <= row["median_s"] and len(row["rounds_s"]) == 2
        assert row["negatives_per_s"] * row["median_s"] == pytest.approx(row["ids_per_call"])
    b, n = 16, 8
    ids = {key: row["ids_per_call"] for key, row in rows.items()}
    assert ids[("uniform", "per_step")] == ids[("popularity", "per_step")] == n
    assert ids[("in_batch", "per_step")] == b and ids[("mixed", "per_step")] == b + n
    assert ids[("uniform", "per_row")] == ids[("dns", "per_row")] == ids[("cluster", "per_row")] == b * n
    assert ids[("torch.multinomial", "per_row")] == ids[("popularity.draw", "per_row")] == b * n
    assert result["cluster_refresh"]["seconds"] > 0 and result["cluster_refresh"]["n_clusters"] == 4
    assert result["params"]["n_items"] == 300 and result["params"]["dns_pool"] == 32
    bs.write(result, tmp_path)
    assert json.loads((tmp_path / "samplers.json").read_text())["params"]["batch"] == b
    table = (tmp_path / "samplers.md").read_text()
    assert table.count("\n| ") == len(expected) + 1 and "cluster refresh" in table
