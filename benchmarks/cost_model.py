"""Throughput of the cost model (``python -m benchmarks.bench_complexity``, ``make bench``)."""

from __future__ import annotations

import random
import time
from typing import Any

from towernas.complexity.model import CostModel, random_blocks, synthetic_spec
from towernas.space.arch import Arch
from towernas.space.dims import Dims
from towernas.space.poolings import POOLING_NAMES


def benchmark_cost_model(quick: bool = False) -> dict[str, Any]:
    """Throughput of ``CostModel.cost`` (for ``make bench``): archs per second, single thread."""
    rng = random.Random(0)
    model = CostModel(synthetic_spec(), Dims())
    n = 2_000 if quick else 50_000
    genomes = [(rng.choice(POOLING_NAMES), random_blocks(rng, 5), random_blocks(rng, 5)) for _ in range(n)]
    start = time.perf_counter()
    archs = [Arch(p, u, i) for p, u, i in genomes]
    t_arch = time.perf_counter() - start
    start = time.perf_counter()
    for arch in archs:
        model.cost(arch)
    t_cost = time.perf_counter() - start
    start = time.perf_counter()
    for p, u, i in genomes:
        model.user_cost(p, u)
        model.item_cost(i)
    t_fast = time.perf_counter() - start
    return {"name": "complexity cost model", "archs": n,
            "cost_archs_per_s": round(n / t_cost), "user_item_cost_archs_per_s": round(n / t_fast),
            "arch_construction_per_s": round(n / t_arch)}
