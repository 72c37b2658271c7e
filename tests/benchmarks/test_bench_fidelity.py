"""The fidelity benchmark's pieces: stratified sampling, the resumable job cache, the agreement summary."""

import json

import numpy as np

from benchmarks import bench_fidelity as bf
from towernas.complexity import CostModel, synthetic_spec
from towernas.complexity.budgets import Budget
from towernas.space.arch_space import ArchSpace
from tests.conftest import compose_config


def _space():
    return ArchSpace.from_config(compose_config("space=towernas").space)


def test_stratified_archs_are_feasible_distinct_and_cover_poolings_and_cost_tertiles():
    space = _space()
    model, budget = CostModel.from_space(synthetic_spec(), space), Budget("L", 240_000, 150_000)
    archs = bf.stratified_archs(space, model, budget, 24, seed=0, pool=600)
    assert len(archs) == 24 and len(set(archs)) == 24
    flops = [model.cost(a).flops for a in archs]
    assert all(budget.admits(model.cost(a)) for a in archs)
    assert {a.pooling for a in archs} == set(space.poolings)
    per_pooling = [sum(a.pooling == p for a in archs) for p in space.poolings]
    assert max(per_pooling) - min(per_pooling) <= 1  # as even as the cells allow
    assert np.ptp(flops) > 0.3 * budget.flops  # spans the cost range, not one corner of it
    assert bf.stratified_archs(space, model, budget, 24, seed=0, pool=600) == archs  # seeded


def test_cache_resumes_and_skips_a_line_cut_by_a_kill(tmp_path):
    path = tmp_path / "cache.jsonl"
    cache = bf.job_cache(path)
    job = {"kind": "arch", "arch": {"x": 1}, "seed": 0, "epochs": 2}
    cache.add({**job, "key": bf.job_key(job), "valid": {"recall@50": 0.3}})
    with open(path, "a") as fh:
        fh.write('{"key": "half a reco')  # kill -9 in the middle of a write
    again = bf.job_cache(path)
    assert list(again.done) == [bf.job_key(job)]
    assert bf.job_key(job) == bf.job_key(dict(reversed(list(job.items()))))  # order-independent
    assert bf.job_key(job) != bf.job_key({**job, "seed": 1})
    done = bf.run_jobs([dict(job)], again, [], workers=1, desc="cached")  # nothing to run: no worker is started
    assert done[bf.job_key(job)]["valid"]["recall@50"] == 0.3
    assert json.loads(path.read_text().splitlines()[0])["valid"]["recall@50"] == 0.3


def test_agreement_of_a_perfect_and_a_reversed_signal():
    truth = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
    perfect, reversed_ = bf.agreement(truth, truth), bf.agreement(truth[::-1], truth)
    assert perfect["tau"] == 1.0 and perfect["precision_at_5"] == 1.0
    assert reversed_["tau"] == -1.0 and reversed_["ci90"][1] <= -0.99


def test_supernet_tau_over_supernet_seeds_trains_each_seed_once_and_reuses_the_known_one(tmp_path, data_root):
    from towernas.data import load_dataset
    from towernas.data.spec import DatasetSpec

    cfg = compose_config("progress=false", "device=cpu")
    data = load_dataset(cfg.dataset, progress=False)
    space = ArchSpace.from_config(cfg.space)
    model = CostModel.from_space(DatasetSpec.from_data(data), space)
    archs = bf.stratified_archs(space, model, Budget.from_config(cfg.budget), 5, seed=0, pool=60)
    truth = [0.1, 0.2, 0.3, 0.4, 0.5]
    known = {0: {"supernet_loss": truth, "supernet_recall": truth[::-1]}}  # seed 0: the search's supernet
    run_dir = lambda seed: tmp_path / f"seed{seed}"  # noqa: E731
    out = bf.supernet_seed_taus(cfg, data, archs, truth, 3, [0, 1], run_dir, known=known)
    first, second = out["per_seed"]
    assert first == {"seed": 0, "supernet_loss": 1.0, "supernet_recall": -1.0, "supernet_loss_stratified": 1.0,
                     "supernet_recall_stratified": -1.0}
    assert not run_dir(0).exists() and (run_dir(1) / "supernet.pt").exists()  # only the unknown seed trained
    assert all(-1.0 <= second[k] <= 1.0 for k in first if k != "seed")
    assert out["mean_std"]["supernet_loss"]["mean"] == round((1.0 + second["supernet_loss"]) / 2, 4)
    again = bf.supernet_seed_taus(cfg, data, archs, truth, 3, [0, 1], run_dir, known=known)  # resumes: same τ
    assert again == out
    assert "## Supernet τ over supernet trainings" in bf.to_markdown(_report(out))


def _report(seed_taus: dict) -> dict:
    """The smallest result dict ``to_markdown`` renders."""
    signal = {"tau": 0.5, "ci90": [0.1, 0.8], "precision_at_5": 0.4, "seconds_per_arch": 0.1}
    return {"space": "towernas", "budget": "L", "n_archs": 5, "n_stratified": 3, "n_searched": 2, "seeds": [0, 1],
            "spread": {"min": 0.1, "max": 0.5, "std": 0.1}, "signals": {"supernet_recall": signal},
            "noise_ceiling_tau": 0.6, "noise_ceiling_ci90": [0.4, 0.8], "seconds": {"full_retrain_per_arch": 1.0,
            "total": 10.0}, "targets": {"supernet_tau": True, "final_tau": True}, "supernet_tau": 0.5,
            "supernet_signal": "supernet_recall", "supernet_tau_ci90": [0.1, 0.8], "final_tau": 0.5, "models": [],
            "machine": "2 CPUs", "command": "python -m benchmarks.bench_fidelity", "supernet_seeds": seed_taus}
