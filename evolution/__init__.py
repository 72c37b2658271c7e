"""Complexity-aware evolutionary architecture search (DEAP), independent of any model code.

A genome is a tuple of op names, one per slot of a :class:`SearchSpace`. :func:`evolve` takes the fitness
(lower is better), the cost and the budget check as callables, so this package never imports ``supernet`` or
``towernas``; the caller maps genomes to architectures.

Example:
    >>> from evolution import EvolutionConfig, SearchSpace, best_under, evolve
    >>> space = SearchSpace([("avg", "sum")] + [("MLP-16", "MLP-64", "EW-ip")] * 2)
    >>> price = {"avg": 0, "sum": 0, "MLP-16": 2, "MLP-64": 8, "EW-ip": 1}
    >>> loss = {"avg": 0.1, "sum": 0.2, "MLP-16": 0.5, "MLP-64": 0.3, "EW-ip": 0.7}
    >>> cost = lambda g: sum(price[x] for x in g)
    >>> result = evolve(space, lambda g: sum(loss[x] for x in g), cost, lambda g: cost(g) <= 16,
    ...                 EvolutionConfig(population=8, generations=10, mode="pareto"), progress=False)
    >>> best_under(result.pareto_front, lambda g: cost(g) <= 4)[0]
    ('avg', 'MLP-16', 'MLP-16')
"""

from evolution.config import EvolutionConfig, EvolutionResult, best_under
from evolution.genome import Genome, SearchSpace
from evolution.search import evolve

__all__ = ["EvolutionConfig", "EvolutionResult", "Genome", "SearchSpace", "best_under", "evolve"]
