"""Factorization machine (Rendle 2010): first-order terms plus every pairwise field interaction.

    logit(u, i) = b + sum_f w_f[x_f] + sum_{f<g} <v_f, v_g>

with v_f the ``embed``-wide embedding of field f's value; the pairwise sum is computed in O(F E)
(``towernas.nn.FactorizationMachine``).
"""

from __future__ import annotations

import torch

from towernas.nn.interactions import FactorizationMachine
from towernas.rankers.base import RANKERS, LinearTerms, Ranker, logit
from towernas.rankers.inputs import Catalog, PairFields


@RANKERS.register("fm")
class FM(Ranker):
    """Args: catalog; embed: the factor width k."""

    def __init__(self, catalog: Catalog, embed: int = 16) -> None:
        super().__init__(catalog)
        self.linear = LinearTerms(catalog)
        self.fields = PairFields(catalog, embed)
        self.fm = FactorizationMachine()

    def forward(self, batch: dict[str, torch.Tensor], items: torch.Tensor) -> torch.Tensor:
        pairs = self.fields(batch, items).stacked()  # (B, C, F, E)
        return self.linear(batch, items) + logit(self.fm(pairs))
