"""Aggregation over seeds, shared by ``retrain``, ``rank`` and ``cascade``: records grouped per model (first-seen
order) and each metric as its mean and **sample** standard deviation (``statistics.stdev``, n - 1 in the
denominator; 0 for a single seed).

A metric missing from any record of the group is left out of the row (not averaged over the seeds that have it).

Example (hand-computed: mean 0.3; sample std sqrt((0.01 + 0 + 0.01) / 2) = 0.1, where the population std would be
sqrt(0.02 / 3) = 0.0816):
    >>> records = [{"model": "a", "test": {"r": 0.2, "n": 1.0}}, {"model": "b", "test": {"r": 0.5}},
    ...            {"model": "a", "test": {"r": 0.3, "n": 2.0}}, {"model": "a", "test": {"r": 0.4}}]
    >>> groups = group(records, lambda r: r["model"])
    >>> [(name, len(mine)) for name, mine in groups.items()]
    [('a', 3), ('b', 1)]
    >>> {k: round(v, 4) for k, v in over_seeds([r["test"] for r in groups["a"]]).items()}
    {'r': 0.3, 'r_std': 0.1}
    >>> over_seeds([r["test"] for r in groups["b"]], ("r", "n"), prefix="valid/")
    {'valid/r': 0.5, 'valid/r_std': 0.0}
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import TypeVar

K = TypeVar("K", bound=Hashable)
R = TypeVar("R")


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation over seeds (std 0 for one value).

    Example:
        >>> mean_std([1.0, 2.0, 3.0]), mean_std([0.25])
        ((2.0, 1.0), (0.25, 0.0))
    """
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def group(records: Iterable[R], key: Callable[[R], K]) -> dict[K, list[R]]:
    """The records per ``key(record)``, keys in first-seen order, records in input order."""
    out: dict[K, list[R]] = {}
    for record in records:
        out.setdefault(key(record), []).append(record)
    return out


def over_seeds(metrics: Sequence[Mapping[str, float]], names: Iterable[str] | None = None,
               prefix: str = "") -> dict[str, float]:
    """``{prefix + name: mean, prefix + name + '_std': std}`` over the seeds' metric dicts, for every name of
    ``names`` (default: the first dict's keys, in its order) that all of them hold."""
    names = list(metrics[0]) if names is None else names
    out: dict[str, float] = {}
    for name in names:
        if all(name in m for m in metrics):
            out[prefix + name], out[f"{prefix}{name}_std"] = mean_std([m[name] for m in metrics])
    return out
