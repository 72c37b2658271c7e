"""The complexity-aware evolutionary search: :func:`evolve`.

It knows genomes, budgets and operators; what a genome is worth is handed in:
``fitness(genome)`` (lower is better, possibly expensive -- memoised, so each distinct genome is scored once),
``cost(genome)`` (cheap; the second objective in "pareto" mode, and the direction of budget repair) and
``feasible(genome)`` (the budget check). The population only ever holds feasible genomes: the initial one is
sampled by rejection, and infeasible offspring are repaired (:func:`evolution.operators.repair`).

Every generation breeds ``population`` offspring: parents by tournament ("single") or crowded tournament
("pareto"), DEAP's ``varAnd`` with uniform crossover and per-gene ``mutUniformInt``, repair into the budget, and
a few re-mutations of offspring that duplicate an evaluated genome. Survivors are chosen among the distinct
genomes of parents + offspring:
    "single": truncation to the ``population`` lowest-fitness genomes (elitist; the ``top_k`` best seen so far
        are also kept in a DEAP ``HallOfFame``).
    "pareto": NSGA-II on (fitness, cost), both minimised (``tools.selNSGA2``), plus a ``tools.ParetoFront`` of
        every evaluated genome, so one search yields the best genome under each of several budgets
        (:func:`evolution.best_under`).

Example:
    >>> space = SearchSpace([("a", "b", "c")] * 3)
    >>> price = {"a": 1, "b": 2, "c": 3}
    >>> cost = lambda g: sum(price[x] for x in g)
    >>> result = evolve(space, fitness=lambda g: -cost(g), cost=cost, feasible=lambda g: cost(g) <= 7,
    ...                 config=EvolutionConfig(population=8, generations=5), progress=False)
    >>> result.best[1]
    -7.0
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import random
import statistics
import time
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, Sequence

from deap import tools
from tqdm.auto import tqdm

from evolution.config import EvolutionConfig, EvolutionResult
from evolution.genome import Genome, Individual, ParetoIndividual, SearchSpace
from evolution.operators import (
    borrowed_random,
    breed,
    distinct,
    initial_population,
    make_toolbox,
    repair,
)
from evolution.state import load_state, rng_from_json, rng_to_json, save_state

log = logging.getLogger(__name__)


def evolve(space: SearchSpace, fitness: Callable[[Genome], float], cost: Callable[[Genome], float] | None,
           feasible: Callable[[Genome], bool], config: EvolutionConfig | None = None, *,
           on_generation: Callable[[dict[str, Any]], None] | None = None,
           state_path: str | os.PathLike | None = None, write_text: Callable[[Path, str], None] | None = None,
           progress: bool = True, seeds: Sequence[Genome] = (),
           map_fitness: Callable[[Callable[[Genome], float], list[Genome]], list[float]] | None = None,
           show_best: Callable[[float], str] | None = None,
           ) -> EvolutionResult:
    """Search ``space`` for low-fitness feasible genomes.

    Args:
        space: the slots and their op names.
        fitness: genome -> float, lower is better. Called once per distinct genome, feasible ones only.
        cost: genome -> float, lower is cheaper. Required in "pareto" mode; in "single" mode it only steers repair.
        feasible: genome -> bool, the budget check.
        config: hyper-parameters (defaults: :class:`EvolutionConfig`).
        on_generation: called after generation 0 (the initial population) and after each later generation with
            a JSON-serialisable record: ``generation``, ``best_fitness`` and ``best_genome`` (best so far),
            ``median_fitness`` and ``feasible_count`` (current population), ``unique_evaluations`` (so far),
            ``elapsed`` (seconds, summed over resumed runs), ``repaired`` and ``parent_fallbacks`` (offspring
            that needed repair / fell back to their parent), and ``front_size`` in "pareto" mode. It runs after
            the checkpoint is written, so an exception it raises loses nothing.
        state_path: checkpoint file (:mod:`evolution.state`). Written atomically after every generation; if it
            exists when ``evolve`` starts, the search resumes from it and ends exactly as an uninterrupted run
            would. A checkpoint of a different config (other than ``generations`` and the stall rule) or space
            is an error.
        write_text: ``(path, text) -> None`` that replaces a file atomically (TowerNAS hands in its fsync'ing
            writer); default :func:`evolution.state.replace_text` (temp file + ``os.replace``, stdlib only).
        progress: show a tqdm bar over generations.
        seeds: genomes placed in the initial population (the feasible ones; e.g. the hand-built tower the
            search must beat), the rest of it drawn at random.
        map_fitness: ``map_fitness(fitness, genomes) -> values`` scores the distinct new genomes of a
            generation together (DEAP's ``toolbox.map`` idea): e.g. split across DDP ranks or workers. It must
            return the values in the order of ``genomes``. Default: one after the other in this process.
        show_best: the best fitness so far as the progress bar shows it, e.g. ``lambda f: f"best R@50={-f:.4g}"``
            for a fitness that is a negated score. Default ``best=<fitness>``.

    Raises:
        ValueError: no feasible genome among ``config.max_init_attempts`` uniform samples.
    """
    config = config or EvolutionConfig()
    search = _Search(space, fitness, cost, feasible, config, map_fitness)
    search.seeds = [list(space.encode(g)) for g in seeds if feasible(tuple(g))][: config.population]
    started = time.monotonic()
    state = load_state(state_path) if state_path is not None else None

    def finish_generation(stats: dict[str, int]) -> None:
        record = search.record(stats, search.elapsed + time.monotonic() - started)
        search.history.append(record)
        if state_path is not None:
            save_state(state_path, search.to_state(record["elapsed"]), write_text)
        if on_generation is not None:
            on_generation(dict(record))

    if state is None:
        finish_generation(search.start())
    else:
        search.restore(state)
        log.info("resuming the search from %s after generation %d", state_path, search.generation)
    with tqdm(total=config.generations, initial=min(search.generation, config.generations), desc="evolution",
              unit="gen", disable=not progress) as bar:
        while search.generation < config.generations and not search.stalled():
            stats = search.step()
            search.generation += 1
            finish_generation(stats)
            bar.update(1)
            best = search.history[-1]["best_fitness"]
            bar.set_postfix_str(f"{show_best(best) if show_best else f'best={best:.4g}'}, evals={len(search.memo)}")
    return search.result()


class _Search:
    """Population, memo table and archives of one run, with (de)serialisation for checkpoints."""

    def __init__(self, space, fitness, cost, feasible, config: EvolutionConfig, map_fitness=None) -> None:
        self.pareto = config.mode == "pareto"
        if self.pareto and cost is None:
            raise ValueError('mode "pareto" needs a cost function')
        self.space, self.config = space, config
        self._fitness, self._cost, self._feasible = fitness, cost, feasible
        self._map = map_fitness or (lambda f, genomes: [f(g) for g in genomes])
        self.individual = ParetoIndividual if self.pareto else Individual
        self.toolbox = make_toolbox(space, config.mutation_prob, config.tournament_size, self.pareto)
        self.rng = random.Random(config.seed)
        self.memo: dict[tuple[int, ...], float] = {}  # genes -> fitness, in evaluation order
        self._costs: dict[tuple[int, ...], float] = {}
        self.hof = tools.HallOfFame(config.top_k)  # lexicographic on (fitness[, cost])
        self.front = tools.ParetoFront()
        self.population: list[Individual] = []
        self.generation = 0
        self.history: list[dict[str, Any]] = []
        self.elapsed = 0.0
        self.seeds: list[list[int]] = []

    # -- evaluation -----------------------------------------------------------------------------------------
    def cost(self, genes) -> float:
        key = tuple(genes)
        if key not in self._costs:
            self._costs[key] = float(self._cost(self.space.decode(key)))
        return self._costs[key]

    def evaluate(self, individuals: list[Individual]) -> None:
        """Set every individual's DEAP fitness, calling ``fitness`` only for genomes not in the memo table."""
        new = list(dict.fromkeys(ind.key for ind in individuals if ind.key not in self.memo))
        values = self._map(self._fitness, [self.space.decode(key) for key in new])
        if len(values) != len(new):
            raise ValueError(f"map_fitness returned {len(values)} values for {len(new)} genomes")
        for key, value in zip(new, values):
            value = float(value)
            if math.isnan(value):
                warnings.warn(f"fitness of {self.space.decode(key)} is NaN; scoring it +inf", RuntimeWarning)
                value = math.inf
            self.memo[key] = value
        for ind in individuals:
            f = self.memo[ind.key]
            ind.fitness.values = (f, self.cost(ind)) if self.pareto else (f,)

    def archive(self, individuals: list[Individual]) -> None:
        self.hof.update(individuals)
        if self.pareto:
            self.front.update(individuals)

    # -- generations ----------------------------------------------------------------------------------------
    def start(self) -> dict[str, int]:
        """Generation 0: a feasible random population."""
        missing = self.config.population - len(self.seeds)
        genes = initial_population(self.space, self._feasible, self._cost, missing, self.rng,
                                   self.config.max_init_attempts) if missing > 0 else []
        self.population = [self.individual(g) for g in self.seeds + genes]
        self.evaluate(self.population)
        self.archive(self.population)
        return {"repaired": 0, "parent_fallbacks": 0}

    def step(self) -> dict[str, int]:
        """One generation: select, vary, repair, evaluate, then elitism ("single") or NSGA-II survival."""
        n = self.config.population
        if self.pareto:
            # Front ranks and crowding distances of the current population, for the crowded tournaments.
            self.population = tools.selNSGA2(self.population, n)
        parents, children = breed(self.population, n, self.toolbox, self.config.crossover_prob, self.rng)
        how = Counter()
        offspring: list[Individual] = []
        batch: set[tuple[int, ...]] = set()
        for child, parent in zip(children, parents):
            ind, outcome = self.repair(child, parent)
            # A duplicate costs no evaluation but explores nothing: mutate it again (a bounded number of times).
            for _ in range(self.config.novelty_retries):
                if ind.key not in self.memo and ind.key not in batch:
                    break
                with borrowed_random(self.rng):
                    (ind,) = self.toolbox.mutate(self.toolbox.clone(ind))
                ind, outcome = self.repair(ind, parent)
            how[outcome] += 1
            batch.add(ind.key)
            offspring.append(ind)
        self.evaluate(offspring)
        self.archive(offspring)
        # Survivors come from the distinct genomes of parents + offspring (duplicates would crowd out diversity).
        first, repeats = distinct(self.population + offspring)
        pool = first + repeats[: max(0, n - len(first))]
        if self.pareto:
            self.population = tools.selNSGA2(pool, n)
        else:  # truncation: the best n, so the top_k seen so far always survive (elitism)
            self.population = sorted(pool, key=lambda ind: ind.fitness.values[0])[:n]
        return {"repaired": len(offspring) - how["ok"], "parent_fallbacks": how["parent"]}

    def repair(self, child: Individual, parent: Individual) -> tuple[Individual, str]:
        return repair(child, parent, self.space, self._feasible, self._cost, self.rng,
                      self.config.repair_attempts)

    def record(self, stats: dict[str, int], elapsed: float) -> dict[str, Any]:
        best = self.hof[0]
        record = {
            "generation": self.generation,
            "best_fitness": best.fitness.values[0],
            "median_fitness": float(statistics.median(ind.fitness.values[0] for ind in self.population)),
            "feasible_count": sum(bool(self._feasible(self.space.decode(ind))) for ind in self.population),
            "unique_evaluations": len(self.memo),
            "best_genome": list(self.space.decode(best)),
            "elapsed": round(elapsed, 3),
            **stats,
        }
        if self.pareto:
            record["front_size"] = len(self.front)
        return record

    def stalled(self) -> bool:
        """True when the best fitness improved by no more than ``min_improvement`` (relative) over the last
        ``stall_generations`` generations; a function of the history only, so a resumed run stops where an
        uninterrupted one does."""
        k = self.config.stall_generations
        if k == 0 or len(self.history) <= k:
            return False
        before, now = self.history[-1 - k]["best_fitness"], self.history[-1]["best_fitness"]
        return before - now <= self.config.min_improvement * abs(before)

    # -- checkpoints and result -----------------------------------------------------------------------------
    def _config_key(self) -> dict[str, Any]:
        resumable = ("generations", "stall_generations", "min_improvement")  # may change between calls
        return {k: v for k, v in dataclasses.asdict(self.config).items() if k not in resumable}

    def to_state(self, elapsed: float) -> dict[str, Any]:
        names = lambda genes: list(self.space.decode(genes))  # noqa: E731
        return {
            "config": self._config_key(),
            "space": [list(s) for s in self.space.slots],
            "generation": self.generation,
            "elapsed": elapsed,
            "population": [names(ind) for ind in self.population],
            "memo": [[names(key), f] for key, f in self.memo.items()],
            "top_k": [[names(ind), ind.fitness.values[0]] for ind in self.hof],
            "pareto_front": [[names(ind), *ind.fitness.values] for ind in self.front],
            "rng": rng_to_json(self.rng),
            "history": self.history,
        }

    def restore(self, state: dict[str, Any]) -> None:
        if state["config"] != self._config_key() or state["space"] != [list(s) for s in self.space.slots]:
            raise ValueError("the checkpoint was written by a search with another config or space; "
                             "delete it or pass another state_path")
        encode = self.space.encode
        self.memo = {encode(g): float(f) for g, f in state["memo"]}
        self.population = [self.individual(encode(g)) for g in state["population"]]
        self.evaluate(self.population)
        # HallOfFame.insert puts an equal-fitness item before its peers: insert worst first to rebuild the order.
        for archive, key in ((self.hof, "top_k"), (self.front, "pareto_front")):
            for entry in reversed(state[key]):
                ind = self.individual(encode(entry[0]))
                self.evaluate([ind])
                archive.insert(ind)
        self.rng = rng_from_json(state["rng"])
        self.generation = state["generation"]
        self.history = state["history"]
        self.elapsed = state["elapsed"]

    def result(self) -> EvolutionResult:
        decode = self.space.decode
        top_k = [(decode(ind), ind.fitness.values[0]) for ind in self.hof]
        return EvolutionResult(
            best=top_k[0],
            top_k=top_k,
            pareto_front=[(decode(ind), *ind.fitness.values) for ind in self.front],
            history=self.history,
            unique_evaluations=len(self.memo),
            evaluated=[(decode(key), f) for key, f in self.memo.items()],
            population=[decode(ind) for ind in self.population],
        )
