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
