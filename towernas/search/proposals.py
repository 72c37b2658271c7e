"""Which genome stage 2 short-retrains next: a *proposer* decides, having seen every short-retrain score so far.

- :class:`LeadersThenTop` (``search.propose=leaders``, the default): the supernet's best genome of every
  pooling first, then the supernet's diverse top by fitness. Every pooling gets its best shot at the
  retrains; the rest of the budget follows the supernet's order.
- :class:`TopByFitness` (``search.propose=fitness``, the paper's rule): the supernet's diverse top N.
- :class:`RandomProposals` (the equal-compute control): a fixed first batch, then random feasible genomes
  while the short retrains have used less than a number of seconds.

Both supernet proposers end with the hand-built tower (the in-budget MLP) of the pooling that retrained best.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Protocol

from towernas.runs.registry import Registry

Genome = tuple[str, ...]


class Proposer(Protocol):
    def __call__(self, rows: Sequence[dict]) -> tuple[Genome, float | None, int | None] | None:
        """The next ``(genome, supernet fitness, fitness rank)`` to short-retrain, given the rows retrained so
        far (each with ``genome`` and ``short``, in order), or None to stop."""


def distance(a: Sequence[str], b: Sequence[str]) -> int:
    """Slots in which two genomes differ."""
    return sum(x != y for x, y in zip(a, b))


def best_short_by_pooling(rows: Sequence[dict]) -> dict[str, float]:
    """Each pooling's best short-retrain score so far."""
    best: dict[str, float] = {}
    for row in rows:
        pooling = row["genome"][0]
        best[pooling] = max(best.get(pooling, -float("inf")), row["short"])
    return best


def hand_built_for(rows: Sequence[dict], hand_built: Sequence[Genome]) -> Genome | None:
    """The hand-built tower (one per pooling, e.g. the in-budget MLPs) of the pooling whose best short retrain
    is highest so far (the first one when none of their poolings was tried), unless one was proposed."""
    proposed = {tuple(row["genome"]) for row in rows}
    if not hand_built or proposed & set(hand_built):
        return None
    best = best_short_by_pooling(rows)
    return max(hand_built, key=lambda g: best.get(g[0], -float("inf")))


class TopByFitness:
    """The supernet's diverse top ``n`` by fitness alone, whatever their pooling (``search.propose=fitness``;
    the paper's "top 3 by supernet fitness"), from the queue of every pooling's admitted genomes by fitness.

    Args:
        evaluated: every ``(genome, fitness)`` the evolution scored (lower fitness is better); slot 0 of a
            genome is its pooling.
        n: candidates to propose from ``evaluated``.
        min_distance: every proposal differs from every earlier one in at least this many slots.
        admits: the run's budget (only admitted genomes are proposed).
        hand_built: after the ``n``, the one of these (one per pooling: the in-budget MLPs) whose pooling
            retrained best is proposed too, unless one of them was proposed already.
    """

    def __init__(self, evaluated: Iterable[tuple[Genome, float]], n: int, min_distance: int,
                 admits: Callable[[Genome], bool], hand_built: Sequence[Genome] = ()) -> None:
        ranked = sorted(((tuple(g), f) for g, f in evaluated if admits(tuple(g))), key=lambda gf: (gf[1], gf[0]))
        self.rank = {g: i for i, (g, _) in enumerate(ranked, 1)}  # supernet rank among admitted genomes
        self.fitness = dict(ranked)
        self.queues: dict[str, list[Genome]] = {}
        for genome, _ in ranked:
            self.queues.setdefault(genome[0], []).append(genome)
        self.n, self.min_distance = n, min_distance
        self.hand_built = [tuple(g) for g in hand_built if admits(tuple(g))]

    def _next(self, poolings: Iterable[str], proposed: Sequence[Genome]) -> Genome | None:
        """The best-fitness genome of ``poolings`` that is far enough from every proposal (the ones too close
        are dropped on the way)."""
        poolings = [p for p in poolings if p in self.queues]
        while heads := [p for p in poolings if self.queues[p]]:
            pooling = min(heads, key=lambda p: (self.fitness[self.queues[p][0]], self.queues[p][0]))
            genome = self.queues[pooling].pop(0)
            if all(distance(genome, p) >= self.min_distance for p in proposed):
                return genome
        return None

    def _pick(self, proposed: Sequence[Genome]) -> Genome | None:
        return self._next(self.queues, proposed)

    def __call__(self, rows: Sequence[dict]):
        proposed = [tuple(row["genome"]) for row in rows]
        genome = self._pick(proposed) if len(proposed) < self.n else None
        if genome is None:
            genome = hand_built_for(rows, self.hand_built)
        return None if genome is None else (genome, self.fitness.get(genome), self.rank.get(genome))


class LeadersThenTop(TopByFitness):
    """``search.propose=leaders`` (the default): first the supernet's best genome of every pooling (best
    pooling first), then the supernet's diverse top by fitness. Every pooling gets its best shot at the
    retrains, whatever the supernet thinks of it across poolings; the rest of the budget follows the
    supernet's order, which ranks paths well."""

    def _pick(self, proposed: Sequence[Genome]) -> Genome | None:
        tried = {p[0] for p in proposed}
        leader = self._next([p for p in self.queues if p not in tried], proposed)
        return leader if leader is not None else self._next(self.queues, proposed)


PROPOSERS: Registry[type[TopByFitness]] = Registry("proposer", key="search.propose")
PROPOSERS.register("leaders", LeadersThenTop)
PROPOSERS.register("fitness", TopByFitness)


class RandomProposals:
    """The random-search control's proposer: ``first`` (random feasible genomes), then the hand-built tower of
    the pooling that retrained best among them (as the supernet proposers), then genomes of ``stream`` while the
    short retrains so far have taken less than ``seconds`` in total (each row's ``seconds`` is the cached
    retrain time, so a resumed run spends the same budget)."""

    def __init__(self, first: Sequence[Genome], stream: Iterator[Genome], seconds: float,
                 hand_built: Sequence[Genome] = ()) -> None:
        self.first, self.stream, self.seconds = [tuple(g) for g in first], stream, seconds
        self.hand_built = [tuple(g) for g in hand_built]

    def __call__(self, rows: Sequence[dict]):
        if len(rows) < len(self.first):
            return self.first[len(rows)], None, None
        genome = hand_built_for(rows, self.hand_built)
        if genome is not None:
            return genome, None, None
        if sum(row["seconds"] for row in rows) >= self.seconds:
            return None
        proposed = {tuple(row["genome"]) for row in rows}
        for genome in self.stream:
            if genome not in proposed:
                return genome, None, None
        return None
