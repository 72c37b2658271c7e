"""Logistic regression: the first-order baseline of every CTR comparison.

    logit(u, i) = b + sum_f w_f[x_f]

one learned scalar per value of every field of the pair (user id, user features, the mean of the history's
item scalars, item id, item features); no interactions at all.
"""

from __future__ import annotations

import torch

from towernas.rankers.base import RANKERS, LinearTerms, Ranker
from towernas.rankers.inputs import Catalog


@RANKERS.register("lr")
class LR(Ranker):
    """Logistic regression over the pair's fields (no hyperparameters)."""

    def __init__(self, catalog: Catalog) -> None:
        super().__init__(catalog)
        self.linear = LinearTerms(catalog)

    def forward(self, batch: dict[str, torch.Tensor], items: torch.Tensor) -> torch.Tensor:
        return self.linear(batch, items)
