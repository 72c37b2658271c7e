"""What one request costs a cascade, in FLOPs (the towers' rule: MACs + one per computed element).

    request = user tower (one forward of the served program, one user, a full history)
            + retrieval (exact search: one inner product with every item, n_items x d MACs; K0-independent)
            + every ranker stage (one forward over the request's whole input list: its query side once, then
              each of its K candidates)

Item towers are excluded: the item vectors are computed once, when the retriever is exported. The user tower and
the ranker stages are counted mechanically (``towernas.complexity.counting.count_ops``) on the real forward of one
request, so fused rankers (the retriever's score as an input) and pair features are counted as they run. Not
counted: the exclusion mask and the top-K selection of the search, and sorting a stage's scores (comparisons, not
arithmetic).

Example:
    >>> cost = RequestCost(user_tower=1_000, retrieval=exact_search_flops(100, 8), stages=(("deepfm", 20, 5_000),))
    >>> cost.flops, cost.to_dict()["stages"]
    (6800, [{'ranker': 'deepfm', 'candidates': 20, 'flops': 5000}])
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from towernas.complexity.counting import count_ops


@dataclass(frozen=True)
class RequestCost:
    """``stages``: one ``(ranker name, candidates it scores, FLOPs of scoring them for one request)`` per stage."""

    user_tower: int
    retrieval: int
    stages: tuple[tuple[str, int, int], ...] = ()

    @property
    def flops(self) -> int:
        return self.user_tower + self.retrieval + sum(flops for _, _, flops in self.stages)

    def to_dict(self) -> dict:
        return {"flops": self.flops, "user_tower": self.user_tower, "retrieval": self.retrieval,
                "stages": [{"ranker": name, "candidates": n, "flops": flops} for name, n, flops in self.stages]}


def exact_search_flops(n_items: int, dim: int, interests: int = 1) -> int:
    """Exact inner-product search of one query: every item's vector against each of the query's ``interests``."""
    return n_items * dim * interests


@torch.no_grad()
def forward_flops(module, *inputs) -> int:
    """FLOPs of one forward of ``module`` (a module in the mode it is in, or a ``torch.export`` program) on
    ``inputs``."""
    return count_ops(module, *inputs).flops
