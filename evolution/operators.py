"""Variation for the search: DEAP's selection, uniform crossover and per-gene mutation, plus budget repair.

Determinism. DEAP's operators draw from the global :mod:`random` module. Rather than re-implement them, the
search lends them its own ``random.Random`` for the duration of a variation step (:func:`borrowed_random`): the
global state is saved, replaced by the search generator's state, and restored afterwards, and the search
generator is advanced by exactly what DEAP drew. A search is therefore a pure function of its seed (and of its
checkpointed generator state on resume), and neither perturbs nor is perturbed by other users of ``random`` --
provided no other thread draws from ``random`` while a variation step runs.

Repair. Variation can leave the budget; :func:`repair` brings a child back inside while staying close to what
variation produced:
    1. resample the genes in which the child differs from its parent (``attempts`` tries);
    2. walk toward cheaper ops: pick a random slot and move it to a random choice that lowers ``cost``, until
       feasible (``attempts`` steps; skipped when no ``cost`` is given);
    3. fall back to a copy of the parent, which is feasible because the population always is.
"""

from __future__ import annotations

import random
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from deap import algorithms, base, tools

from evolution.genome import Genome, Individual, SearchSpace

Predicate = Callable[[Genome], bool]
CostFn = Callable[[Genome], float]


@contextmanager
def borrowed_random(rng: random.Random) -> Iterator[None]:
    """Let code that uses the global ``random`` draw from ``rng`` instead (see the module docstring)."""
    saved = random.getstate()
    random.setstate(rng.getstate())
    try:
        yield
    finally:
        rng.setstate(random.getstate())
        random.setstate(saved)


def make_toolbox(space: SearchSpace, mutation_prob: float, tournament_size: int, pareto: bool) -> base.Toolbox:
    """DEAP toolbox: ``mate`` (uniform crossover), ``mutate`` (per-gene uniform reset), ``select`` (parents)."""
    toolbox = base.Toolbox()
    toolbox.register("mate", tools.cxUniform, indpb=0.5)
    toolbox.register("mutate", tools.mutUniformInt, low=[0] * len(space), up=space.upper, indpb=mutation_prob)
    if pareto:
        toolbox.register("select", select_parents_dcd)
    else:
        toolbox.register("select", tools.selTournament, tournsize=tournament_size)
    return toolbox


def select_parents_dcd(population: list[Individual], k: int) -> list[Individual]:
    """NSGA-II parent selection: crowded binary tournaments (DEAP's ``selTournamentDCD``) until ``k`` parents.

    ``selTournamentDCD`` wants a multiple of four, so it is called on the largest such prefix size repeatedly.
    Needs ``fitness.crowding_dist``, which ``tools.selNSGA2`` assigns.
    """
    m = len(population) - len(population) % 4
    if m == 0:
        return tools.selRandom(population, k)
    chosen: list[Individual] = []
    while len(chosen) < k:
        chosen.extend(tools.selTournamentDCD(population, m))
    return chosen[:k]


def breed(population: list[Individual], k: int, toolbox: base.Toolbox, crossover_prob: float,
          rng: random.Random) -> tuple[list[Individual], list[Individual]]:
    """Select ``k`` parents and vary them (``varAnd``: pairwise crossover, then mutation of every child).

    Returns ``(parents, children)``, aligned: ``children[i]`` descends from ``parents[i]`` (and, after a
    crossover, from its neighbour), which is the parent :func:`repair` falls back to.
    """
    with borrowed_random(rng):
        parents = toolbox.select(population, k)
        children = algorithms.varAnd(parents, toolbox, cxpb=crossover_prob, mutpb=1.0)
    return parents, children


def repair(child: Individual, parent: Individual, space: SearchSpace, feasible: Predicate,
           cost: CostFn | None, rng: random.Random, attempts: int) -> tuple[Individual, str]:
    """Return a feasible individual close to ``child`` and how it was obtained.

    The second value is ``"ok"`` (already feasible), ``"resampled"``, ``"cheaper"`` or ``"parent"`` (see the
    module docstring for the three stages). ``parent`` must be feasible.
    """
    if feasible(space.decode(child)):
        return child, "ok"
    changed = [i for i, (a, b) in enumerate(zip(child, parent)) if a != b]
    for _ in range(attempts if changed else 0):
        genes = list(child)
        for i in changed:
            genes[i] = rng.randrange(len(space.slots[i]))
        if feasible(space.decode(genes)):
            return type(child)(genes), "resampled"
    if cost is not None:
        genes = list(child)
        current = cost(space.decode(genes))
        for _ in range(attempts):
            i = rng.randrange(len(space))
            cheaper = []
            for j in range(len(space.slots[i])):
                c = cost(space.decode(genes[:i] + [j] + genes[i + 1:]))
                if c < current:
                    cheaper.append((j, c))
            if not cheaper:
                continue
            genes[i], current = cheaper[rng.randrange(len(cheaper))]
            if feasible(space.decode(genes)):
                return type(child)(genes), "cheaper"
    return type(child)(parent), "parent"


def initial_population(space: SearchSpace, feasible: Predicate, cost: CostFn | None, size: int,
                       rng: random.Random, max_attempts: int) -> list[list[int]]:
    """Sample distinct feasible genomes uniformly by rejection, at most ``max_attempts`` draws.

    If fewer than ``size`` distinct ones turn up, warns with the count and repeats them (mutation and repair
    diversify the population within a few generations). If none turns up, raises ``ValueError``.
    """
    found: dict[tuple[int, ...], None] = {}
    cheapest = float("inf")
    draws = 0
    while draws < max_attempts and len(found) < size:
        draws += 1
        genes = space.sample(rng)
        genome = space.decode(genes)
        if feasible(genome):
            found.setdefault(tuple(genes))
        elif cost is not None:
            cheapest = min(cheapest, cost(genome))
    if not found:
        seen = f" (cheapest sampled cost {cheapest:.6g})" if cost is not None else ""
        raise ValueError(
            f"no feasible genome in {draws} uniform samples of {space.size:.3g} genomes{seen}: the budget is below "
            "the cheapest architecture or admits too few to sample; raise the budget or max_init_attempts")
    if len(found) < size:
        warnings.warn(f"only {len(found)} distinct feasible genomes in {draws} uniform samples; the initial "
                      f"population of {size} repeats them", RuntimeWarning, stacklevel=4)
    distinct = [list(k) for k in found]
    return [list(distinct[i % len(distinct)]) for i in range(size)]


def distinct(individuals: Sequence[Individual]) -> tuple[list[Individual], list[Individual]]:
    """Split into (first occurrence of each genome, the repeats), both in order."""
    seen: set[tuple[int, ...]] = set()
    first, repeats = [], []
    for ind in individuals:
        (repeats if ind.key in seen else first).append(ind)
        seen.add(ind.key)
    return first, repeats
