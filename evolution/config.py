"""What a search is asked to do (:class:`EvolutionConfig`) and what it returns (:class:`EvolutionResult`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from evolution.genome import Genome

MODES = ("single", "pareto")


@dataclass
class EvolutionConfig:
    """Search hyper-parameters.

    Args:
        population: individuals per generation (>= 2).
        generations: variation rounds after the initial population (generation 0).
        mutation_prob: per-gene probability of resetting a gene to a uniformly drawn choice.
        crossover_prob: probability that two consecutive parents swap genes (uniform crossover, 1/2 per gene).
        top_k: best distinct genomes kept across generations (a DEAP ``HallOfFame``) and returned. In "single"
            mode survival is truncation, so they also stay in the population while ``top_k <= population``.
        mode: "single" minimises fitness under the budget; "pareto" runs NSGA-II on (fitness, cost).
        seed: seeds the search's private ``random.Random``.
        max_init_attempts: uniform draws allowed to find a feasible initial population.
        tournament_size: parents' tournament size in "single" mode.
        repair_attempts: tries per repair stage (see :mod:`evolution.operators`).
        novelty_retries: times an offspring that duplicates an already evaluated genome is mutated again.
        stall_generations: stop before ``generations`` once the best fitness has improved by no more than
            ``min_improvement`` over the last ``stall_generations`` generations (0: never stop early). The
            fitness is a proxy with a finite resolution; polishing it further only reorders ties.
        min_improvement: the improvement that counts, relative to ``|best fitness|`` (0.005: half a percent).
    """

    population: int = 50
    generations: int = 50
    mutation_prob: float = 0.1
    crossover_prob: float = 0.5
    top_k: int = 5
    mode: str = "single"
    seed: int = 0
    max_init_attempts: int = 200000
    tournament_size: int = 3
    repair_attempts: int = 20
    novelty_retries: int = 3
    stall_generations: int = 0
    min_improvement: float = 0.0

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.population < 2 or self.generations < 0 or self.top_k < 1:
            raise ValueError("need population >= 2, generations >= 0 and top_k >= 1")
        for name in ("mutation_prob", "crossover_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if self.stall_generations < 0 or self.min_improvement < 0:
            raise ValueError("need stall_generations >= 0 and min_improvement >= 0")
        if self.max_init_attempts < 1 or self.tournament_size < 1 or self.repair_attempts < 0 or self.novelty_retries < 0:
            raise ValueError("need max_init_attempts, tournament_size >= 1 and repair_attempts, "
                             "novelty_retries >= 0")


@dataclass
class EvolutionResult:
    """Outcome of :func:`evolution.evolve`; every genome is a tuple of op names.

    Attributes:
        best: ``(genome, fitness)`` with the lowest fitness found (ties: lower cost in "pareto" mode).
        top_k: up to ``top_k`` distinct ``(genome, fitness)``, best first.
        pareto_front: "pareto" mode: the non-dominated ``(genome, fitness, cost)`` among all evaluated genomes,
            lowest fitness first (so cost descends); empty in "single" mode.
        history: one record per generation (see :func:`evolution.evolve`).
        unique_evaluations: distinct genomes whose fitness was computed.
        evaluated: every evaluated ``(genome, fitness)``, in evaluation order (all feasible).
        population: the final population.
    """

    best: tuple[Genome, float]
    top_k: list[tuple[Genome, float]]
    pareto_front: list[tuple[Genome, float, float]]
    history: list[dict[str, Any]]
    unique_evaluations: int
    evaluated: list[tuple[Genome, float]] = field(repr=False)
    population: list[Genome] = field(repr=False)


def best_under(front_or_result: EvolutionResult | Sequence[tuple], predicate: Callable[[Genome], bool]):
    """The lowest-fitness entry whose genome satisfies ``predicate`` (e.g. a tighter budget), or ``None``.

    Given a list of ``(genome, fitness, ...)`` entries (e.g. ``result.pareto_front``), returns one of them;
    ties go to the lower cost when entries carry one, then to the smaller genome. Given an
    :class:`EvolutionResult`, searches ``result.evaluated`` -- every genome the search scored -- which contains
    the Pareto front, so it gives the same answer when ``predicate`` is "cost <= budget" and a better one for
    predicates the front's cost does not capture (e.g. a params limit when cost is FLOPs).

    Example:
        >>> best_under([(("a",), 0.3, 5.0), (("b",), 0.5, 1.0)], lambda g: g != ("a",))
        (('b',), 0.5, 1.0)
    """
    entries = front_or_result.evaluated if isinstance(front_or_result, EvolutionResult) else front_or_result
    candidates = [e for e in entries if predicate(tuple(e[0]))]
    if not candidates:
        return None
    return min(candidates, key=lambda e: (e[1], *e[2:], tuple(e[0])))
