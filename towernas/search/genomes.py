"""Genomes of the tower space: their exact cost, the budget's admission test, the hand-built towers every
search carries, and seeded streams of feasible genomes.

A genome is ``(pooling, *user blocks, *item blocks)`` (``towernas.space.arch_space.ArchSpace.slots``).
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Sequence

from towernas.complexity import CostModel, TowerCost
from towernas.complexity.budgets import Budget
from towernas.space import SKIP
from towernas.space.arch_space import ArchSpace


def genome_cost(cost_model: CostModel, space: ArchSpace, genome: Sequence[str]) -> TowerCost:
    """Exact cost of a genome ``(pooling, *user, *item)`` without building an Arch (the sampler's fast path)."""
    u = 1 + space.depth_user
    return TowerCost(*cost_model.user_cost(genome[0], genome[1:u]), *cost_model.item_cost(genome[u:]))


def admitted_by(cost_model: CostModel, space: ArchSpace, budgets: Sequence[Budget]) -> Callable[[tuple], bool]:
    """``admits(genome)``: True when at least one of ``budgets`` admits the genome's exact cost."""
    def admits(genome) -> bool:
        cost = genome_cost(cost_model, space, genome)
        return any(b.admits(cost) for b in budgets)

    return admits


def mlp_seeds(space: ArchSpace, admits: Callable[[tuple], bool]) -> list[tuple[str, ...]]:
    """The space's in-budget MLP towers: ``MLP-w`` then skips on both sides, for every pooling, the widest
    (user, item) widths the budget admits (what an engineer would build by hand at this cost)."""
    if SKIP not in space.choices("user", 1):
        return []
    def width(block: str) -> int:
        return int(block.split("-")[1])

    def genome(pooling: str, user: str, item: str) -> tuple[str, ...]:
        return (pooling, user, *[SKIP] * (space.depth_user - 1), item, *[SKIP] * (space.depth_item - 1))

    mlps = sorted((b for b in space.blocks if b.startswith("MLP-")), key=width)
    seeds = []
    for pooling in space.poolings:
        fitting = [(u, i) for u in mlps for i in mlps if admits(genome(pooling, u, i))]
        if fitting:  # the widest narrower side, then the widest user side
            u, i = max(fitting, key=lambda ui: (min(width(ui[0]), width(ui[1])), width(ui[0])))
            seeds.append(genome(pooling, u, i))
    return seeds


def feasible_stream(slots, admits, seed: int, max_tries: int = 10_000_000):
    """Distinct uniformly drawn genomes the budget admits, one at a time (seeded)."""
    rng = random.Random(seed + 7919)
    seen: set[tuple[str, ...]] = set()
    for _ in range(max_tries):
        genome = tuple(rng.choice(s) for s in slots)
        if genome not in seen and admits(genome):
            seen.add(genome)
            yield genome


def random_feasible(slots, admits, n: int, seed: int, max_tries: int = 20000) -> list[tuple[str, ...]]:
    """Up to ``n`` distinct uniformly drawn genomes the budget admits (seeded), within ``max_tries`` draws."""
    return list(itertools.islice(feasible_stream(slots, admits, seed, max_tries), n))
