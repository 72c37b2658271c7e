"""Search quality: does the supernet's validation loss rank architectures the way retraining does?

Trains the supernet as ``towernas.search`` does (early stopping on validation), scores N random
feasible architectures (budget L) plus ``recipes/synthetic-L.json`` by supernet validation loss, retrains
each from scratch (early stopping on validation Recall@50) and reports Kendall's tau between the two
rankings (1 = same order, 0 = unrelated) and where the searched architecture lands. Validation only.

    python -m benchmarks.bench_ranking [--quick]
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
from pathlib import Path

import torch

from supernet import Supernet, fixed_batches, train_supernet, validation_loss
from towernas.complexity import CostModel
from towernas.complexity.budgets import Budget
from towernas.config import DatasetConfig
from towernas.data import load_dataset
from towernas.data.spec import DatasetSpec
from towernas.retrievers.two_tower import build
from towernas.space import Arch, Dims
from towernas.train.loop import fit

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "synthetic-L.json"


def kendall_tau(a: list[float], b: list[float]) -> float:
    """Kendall's tau-a between two score lists (pairs tied in either list count as neither)."""
    n, s = len(a), 0
    for i in range(n):
        for j in range(i + 1, n):
            s += ((a[i] > a[j]) - (a[i] < a[j])) * ((b[i] > b[j]) - (b[i] < b[j]))
    return s / (n * (n - 1) / 2)


def run(quick: bool = False) -> dict:
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as root:
        data = load_dataset(DatasetConfig(name="synthetic", reader="synthetic", root=root), progress=False)
    spec = DatasetSpec.from_data(data)
    supernet = Supernet(spec, Dims(), 5, 5)
    cost_model, budget = CostModel(spec, Dims()), Budget("L", 240_000, 150_000)
    rng = random.Random(1)
    archs = []
    while len(archs) < (3 if quick else 8):
        genome = tuple(rng.choice(s) for s in supernet.space.slots())
        arch = supernet.space.arch(genome)
        if budget.admits(cost_model.cost(arch)) and arch not in archs:
            archs.append(arch)
    searched = Arch.load(RECIPE)
    archs.append(Arch(searched.pooling, searched.user, searched.item, searched.dims))
    batches = fixed_batches(data, "valid", n_batches=4, batch_size=1024, seed=0)
    probes = archs[:3]

    def monitor(net, est):
        return sum(validation_loss(net, a, batches, 0.05, est.log_q) for a in probes) / len(probes)

    trained = train_supernet(supernet, data, steps=300 if quick else 4000, batch_size=512, lr=2e-3,
                             temperature=0.05, seed=0, device="cpu", progress=False, monitor=monitor,
                             monitor_every=100, patience=4)
    fitness = [validation_loss(supernet, a, batches, 0.05, trained["estimator"].log_q) for a in archs]
    recall = []
    for arch in archs:
        model = build(arch, spec)
        result = fit(model, data, max_epochs=3 if quick else 15, patience=3, lr=2e-3, progress=False, seed=0)
        recall.append(result.best_valid["recall@50"])
    tau = kendall_tau([-f for f in fitness], recall)
    best_by_recall = sorted(range(len(archs)), key=lambda i: -recall[i])
    return {
        "name": "search quality: supernet validation loss vs retrained validation Recall@50 (Kendall tau)",
        "n_archs": len(archs), "supernet_best_step": trained["best_step"],
        "kendall_tau": round(tau, 3),
        "searched_arch": {"fitness": round(fitness[-1], 4), "valid_recall@50": round(recall[-1], 4),
                          "rank_by_recall": best_by_recall.index(len(archs) - 1) + 1},
        "archs": [{"arch": f"{a.pooling} | {' '.join(a.user)} | {' '.join(a.item)}", "fitness": round(f, 4),
                   "valid_recall@50": round(r, 4)} for a, f, r in zip(archs, fitness, recall)],
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    print(json.dumps(run(parser.parse_args().quick), indent=2))
