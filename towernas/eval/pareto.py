"""The Pareto front of (cost, quality) points: the search's, the leaderboard's and a cascade's K0 sweep's.

Example:
    >>> pareto_front([(1, 0.1), (2, 0.3), (3, 0.2), (4, 0.35)])  # (cost, quality)
    [0, 1, 3]
    >>> pareto_front([(2, 0.3), (2, 0.3), (1, 0.3)])  # the cheaper one dominates; twins: the first stays
    [2]
"""

from __future__ import annotations


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of points not dominated in (lower cost, higher quality), sorted by cost."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    front, best = [], float("-inf")
    for i in order:
        if points[i][1] > best:
            front.append(i)
            best = points[i][1]
    return front
