"""``bench_addons``' report: paired deltas to the right control, mean ± std over seeds, the issue's columns."""

import json

from benchmarks import bench_addons


def _record(backbone, variant, seed, recall, unbiased):
    test = {m: 0.1 for m in bench_addons.REPORTED}
    test.update({"recall@50": recall, "unbiased/recall@50": unbiased})
    return {"backbone": backbone, "variant": variant, "seed": seed, "seconds": 1.0, "test": test,
            "valid": {"recall@50": recall}}


def test_report_pairs_each_variant_with_its_control(tmp_path, monkeypatch):
    monkeypatch.setattr(bench_addons, "OUT", tmp_path)
    monkeypatch.setattr(bench_addons, "RECORDS", tmp_path / "records.jsonl")
    rows = [_record("searched", "none", s, 0.30 + s / 100, 0.20) for s in (0, 1, 2)]
    rows += [_record("searched", "loss=bce", s, 0.20, 0.10) for s in (0, 1, 2)]
    rows += [_record("searched", "addon=relmf", s, 0.25 + s / 100, 0.15 - s / 100) for s in (0, 1, 2)]
    rows += [_record("searched", "sampler=dns", s, 0.31 + s / 100, 0.21) for s in (0, 1)]  # one seed missing
    (tmp_path / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = bench_addons.report([0, 1, 2])
    by = {r["variant"]: r for r in result["rows"]}
    assert by["addon=relmf"]["control"] == "loss=bce"  # RelMF is judged against BCE, not the softmax
    assert abs(by["addon=relmf"]["delta_recall@50"] - 0.06) < 1e-12 and by["addon=relmf"]["wins_recall@50"] == 3
    assert by["addon=relmf"]["wins_unbiased/recall@50"] == 3  # 0.15, 0.14, 0.13 vs 0.10
    assert by["sampler=dns"]["pairs"] == 2 and abs(by["sampler=dns"]["delta_recall@50"] - 0.01) < 1e-12
    assert abs(by["none"]["recall@50_std"] - 0.01) < 1e-12
    md = (tmp_path / "addons-synthetic.md").read_text()
    assert "| searched | addon=relmf |" in md and "unbiased R@50" in md and "tail_share@50" in md
