"""Search benchmarks: supernet step vs standalone child step, fitness and generation cost, and the
projected time of a paper-scale search (50k supernet steps, 50 x 50 evolution) on ML-1M-sized data.

    python -m benchmarks.bench_search [--quick]
"""

from __future__ import annotations

import statistics
import tempfile
import time

import torch

from evolution import EvolutionConfig, SearchSpace, evolve
from supernet import Supernet, export, fixed_batches, train_supernet, validation_loss
from supernet.sampler import ArchSampler
from benchmarks.common import print_run, register
from towernas.config import DatasetConfig
from towernas.data import load_dataset
from towernas.data.batches import training_batch
from towernas.data.spec import DatasetSpec
from towernas.losses.retrieval import in_batch_softmax
from towernas.samplers.frequency import StreamingFrequencyEstimator
from towernas.space import Arch, Dims
from towernas.train.settings import SupernetSettings

NAMED = {
    "cheap": Arch("avg", ("EW-sum", "MLP-16", "EW-max", "EW-avg", "MLP-16"), ("EW-sum", "MLP-16", "EW-ip", "EW-avg", "MLP-16")),
    "mid": Arch("self_attentive", ("MLP-128", "SA-2", "EW-sum", "MLP-64", "SA-1"), ("MLP-128", "SA-2", "EW-max", "MLP-64", "EW-avg")),
    "heavy": Arch("self_attention", ("MLP-1024", "SA-4", "MLP-512", "SA-4", "MLP-256"), ("MLP-1024", "SA-4", "MLP-512", "SA-4", "MLP-256")),
}


def _median_step_ms(step, repeats: int) -> float:
    step()  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        step()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def step_comparison(data, archs: dict[str, Arch], batch_size: int, repeats: int) -> dict:
    """Median ms of one training step (forward, logQ loss, backward, Adam) through the supernet and
    through the same child built standalone, on the same batch."""
    spec = DatasetSpec.from_data(data)
    sn = Supernet(spec, Dims(), 5, 5)
    estimator = StreamingFrequencyEstimator(data.n_items)
    rows = data.rows("train")[:batch_size]
    batch = training_batch(data, rows)
    estimator.update(batch["item"])
    log_q = estimator.log_q(batch["item"])
    out = {}
    for name, arch in archs.items():
        child = export(sn, arch)
        opt_sn, opt_child = torch.optim.Adam(sn.parameters(), 1e-3), torch.optim.Adam(child.parameters(), 1e-3)

        def sn_step():
            loss = in_batch_softmax(sn.encode_users(batch, arch), sn.encode_items(batch, arch), batch["item"], log_q=log_q)
            opt_sn.zero_grad(set_to_none=True)
            loss.backward()
            opt_sn.step()

        def child_step():
            loss = in_batch_softmax(child.encode_users(batch), child.encode_items(batch), batch["item"], log_q=log_q)
            opt_child.zero_grad(set_to_none=True)
            loss.backward()
            opt_child.step()

        a, b = _median_step_ms(sn_step, repeats), _median_step_ms(child_step, repeats)
        out[name] = {"supernet_ms": round(a, 1), "standalone_ms": round(b, 1), "ratio": round(a / b, 3)}
    out["max_ratio"] = max(v["ratio"] for v in out.values() if isinstance(v, dict))
    return out


def search_costs(data, steps: int, population: int, generations: int, val_batches: int) -> dict:
    spec = DatasetSpec.from_data(data)
    sn = Supernet(spec, Dims(), 5, 5)
    t = time.perf_counter()
    settings = SupernetSettings(steps=steps, batch_size=1024, lr=2e-3, temperature=0.05, seed=0)
    trained = train_supernet(sn, data, settings, device="cpu", progress=False)
    step_s = (time.perf_counter() - t) / steps
    batches = fixed_batches(data, "valid", n_batches=val_batches, batch_size=1024, seed=0)
    sampler = ArchSampler(sn.space, 1)
    eval_times = []
    for _ in range(10):
        arch = sampler.sample()
        t = time.perf_counter()
        validation_loss(sn, arch, batches, 0.05, trained["estimator"].log_q)
        eval_times.append(time.perf_counter() - t)
    fitness_s = statistics.median(eval_times)
    calls = []

    def fitness(genome):
        calls.append(1)
        return validation_loss(sn, sn.space.arch(genome), batches, 0.05, trained["estimator"].log_q)

    t = time.perf_counter()
    result = evolve(SearchSpace(list(sn.space.slots())), fitness, None, lambda g: True,
                    EvolutionConfig(population=population, generations=generations, seed=0), progress=False)
    evolve_s = time.perf_counter() - t
    unique_per_generation = result.unique_evaluations / (generations + 1)
    return {"supernet_step_s": round(step_s, 4), "fitness_eval_s": round(fitness_s, 4),
            "generation_s": round(evolve_s / (generations + 1), 2),
            "unique_evals_per_generation": round(unique_per_generation, 1),
            "population": population, "val_batches_x_1024": val_batches}


def run(quick: bool = False) -> dict:
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as root:
        default50 = load_dataset(DatasetConfig(name="synthetic", reader="synthetic", root=root, max_len=50))
        sampler = ArchSampler(Supernet(DatasetSpec.from_data(default50), Dims(), 5, 5).space, 0)
        archs = dict(NAMED)
        for i in range(1 if quick else 3):
            archs[f"random{i}"] = sampler.sample()
        steps = step_comparison(default50, archs, batch_size=1024, repeats=3 if quick else 10)
        ml1m_opts = {"n_users": 6040, "n_items": 3706, "mean_length": 170, "seed": 0}
        if quick:
            ml1m_opts = {"n_users": 1000, "n_items": 1700, "mean_length": 100, "seed": 0}
        ml1m = load_dataset(DatasetConfig(name="ml1m-sized", reader="synthetic", root=root, options=ml1m_opts))
        costs = search_costs(ml1m, steps=20 if quick else 100, population=10 if quick else 50,
                             generations=2 if quick else 5, val_batches=4)
    paper_evals = costs["unique_evals_per_generation"] * 51
    projected = {"supernet_50k_steps_h": round(50_000 * costs["supernet_step_s"] / 3600, 2),
                 "evolution_50x50_h": round(paper_evals * costs["fitness_eval_s"] / 3600, 2)}
    projected["total_h"] = round(projected["supernet_50k_steps_h"] + projected["evolution_50x50_h"], 2)
    return {
        "name": "search: supernet vs standalone step (batch 1024, history 50); fitness/generation cost; paper-scale projection",
        "step_ms": steps,
        "ml1m_sized": {"summary": ml1m.summary(), **costs},
        "projected_paper_scale_on_this_machine": projected,
        "targets": {"supernet_over_standalone": 1.3},
        "pass": bool(steps["max_ratio"] <= 1.3),
    }


register("search", "supernet vs standalone step, fitness and generation cost, a paper-scale search's projection",
         run=run)

if __name__ == "__main__":
    print_run(run)
