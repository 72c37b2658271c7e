"""``benchmarks.bench_ranker_fidelity``: τ of the ranker supernet against trained truth, the noise ceiling, resume."""

import json

import pytest

from benchmarks import bench_ranker_fidelity


def test_a_quick_run_reports_tau_and_the_noise_ceiling_and_resumes(tmp_path, monkeypatch):
    monkeypatch.setenv("TOWERNAS_DATA", str(tmp_path / "data"))
    argv = ["--quick", "--n-archs", "4", "--seeds", "0,1", "--flops", "60000", "--finetune-steps", "0,2",
            "--out", str(tmp_path)]
    out = bench_ranker_fidelity.main(argv)
    saved = json.loads((tmp_path / "ranker-fidelity-synthetic-tiny-ctr.json").read_text())
    assert saved["tau"] == out["tau"] and -1 <= out["tau"] <= 1 and len(out["ci90"]) == 2
    assert -1 <= out["noise_ceiling_tau"] <= 1
    archs = out["archs"]
    assert len(archs) >= 4 and all(a["flops"] <= 60_000 and len(a["trained"]) == 2 for a in archs)
    assert any(a["hand_built"] for a in archs)
    # one agreement per fine-tuning length, the search's own (ranker_search.finetune_steps) among them
    by_steps = {k["steps"]: k for k in out["by_finetune_steps"]}
    assert set(by_steps) == {0, 2, out["finetune_steps"]} and by_steps[out["finetune_steps"]]["tau"] == out["tau"]
    assert all(set(a["by_finetune_steps"]) == {str(k) for k in by_steps} for a in archs)
    assert [a["supernet"] for a in archs] == [a["by_finetune_steps"][str(out["finetune_steps"])] for a in archs]
    flops = [a["flops"] for a in archs if not a["hand_built"]]
    assert flops == sorted(flops) and flops[0] < flops[-1]  # spread over cost
    md = (tmp_path / "ranker-fidelity-synthetic-tiny-ctr.md").read_text()
    assert "Kendall τ" in md and "| fine-tuning steps per path |" in md and "auc after 2 steps" in md
    from towernas.search import rankers

    monkeypatch.setattr(rankers, "train_finalist", lambda *a, **k: pytest.fail("trained again"))
    monkeypatch.setattr(rankers, "fit_ranker", lambda *a, **k: pytest.fail("trained the supernet again"))
    assert bench_ranker_fidelity.main(argv)["archs"] == archs
    # another fine-tuning length reuses the kept supernet and trainings
    assert bench_ranker_fidelity.main([*argv[:-4], "--finetune-steps", "1", *argv[-2:]])["archs"][0]["trained"] == \
        archs[0]["trained"]
