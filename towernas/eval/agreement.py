"""How well one ranking of architectures predicts another: Kendall's τ-b, its bootstrap interval, precision@k.

Used by the fidelity benchmark (does the supernet's fitness order architectures like retraining does?)
and by the search summary (fitness rank vs retrained rank). Scores are "higher is better" everywhere.

Example:
    >>> kendall_tau([1, 2, 3, 4], [10, 20, 30, 40]), kendall_tau([1, 2, 3], [3, 2, 1])
    (1.0, -1.0)
    >>> precision_at_k([0.9, 0.8, 0.1, 0.2], [0.7, 0.1, 0.9, 0.2], k=2)
    0.5
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np


def kendall_tau(x: Sequence[float], y: Sequence[float]) -> float:
    """Kendall's τ-b of two score lists (ties handled as in τ-b; nan when either side is constant).

    τ-b = (concordant − discordant) / sqrt((n0 − ties_x) (n0 − ties_y)), n0 = n (n − 1) / 2.
    """
    a, b = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"kendall_tau: expected two 1-d sequences of the same length, got {a.shape} and {b.shape}")
    i, j = np.triu_indices(len(a), k=1)
    dx, dy = np.sign(a[i] - a[j]), np.sign(b[i] - b[j])
    pairs_x, pairs_y = np.count_nonzero(dx), np.count_nonzero(dy)
    if pairs_x == 0 or pairs_y == 0:
        return math.nan
    return float((dx * dy).sum() / math.sqrt(pairs_x * pairs_y))


def bootstrap_tau(x: Sequence[float], y: Sequence[float], *, n_boot: int = 2000, level: float = 0.90,
                  seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of τ-b over the items (architectures resampled with replacement)."""
    a, b = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    rng = np.random.default_rng(seed)
    taus = []
    for _ in range(n_boot):
        idx = rng.integers(len(a), size=len(a))
        tau = kendall_tau(a[idx], b[idx])
        if not math.isnan(tau):
            taus.append(tau)
    if not taus:
        return math.nan, math.nan
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(taus, [tail, 100 - tail])
    return float(lo), float(hi)


def precision_at_k(predicted: Sequence[float], true: Sequence[float], k: int = 5) -> float:
    """Share of the true top-``k`` items that are also in the predicted top-``k`` (ties broken by index)."""
    k = min(k, len(true))
    if k == 0:
        return math.nan
    top_p = set(np.argsort(-np.asarray(predicted, dtype=float), kind="stable")[:k].tolist())
    top_t = set(np.argsort(-np.asarray(true, dtype=float), kind="stable")[:k].tolist())
    return len(top_p & top_t) / k


def ranks(scores: Sequence[float]) -> list[int]:
    """1-based rank of each score, best (highest) first; ties get the rank of their first occurrence order."""
    order = np.argsort(-np.asarray(scores, dtype=float), kind="stable")
    out = [0] * len(order)
    for rank, index in enumerate(order, 1):
        out[int(index)] = rank
    return out
