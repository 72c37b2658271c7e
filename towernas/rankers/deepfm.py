"""DeepFM (Guo et al. 2017): FM and an MLP reading the same embeddings, their logits summed.

    logit(u, i) = b + sum_f w_f[x_f] + sum_{f<g} <v_f, v_g> + MLP([v_1; ...; v_F])
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from towernas.nn.interactions import FactorizationMachine
from towernas.nn.mlp import mlp
from towernas.rankers.base import RANKERS, LinearTerms, Ranker, flat, logit
from towernas.rankers.inputs import Catalog, PairFields


@RANKERS.register("deepfm")
class DeepFM(Ranker):
    """Args: catalog; embed: the shared embedding width; hidden: the deep part's hidden widths."""

    def __init__(self, catalog: Catalog, embed: int = 16, hidden: Sequence[int] = (256, 128), dropout: float = 0.0) -> None:
        super().__init__(catalog)
        self.linear = LinearTerms(catalog)
        self.fields = PairFields(catalog, embed)
        self.fm = FactorizationMachine()
        self.deep = mlp(self.fields.n_fields * embed, [*hidden, 1], dropout=dropout)

    def forward(self, batch: dict[str, torch.Tensor], items: torch.Tensor) -> torch.Tensor:
        pairs = self.fields(batch, items).stacked()  # (B, C, F, E)
        return self.linear(batch, items) + logit(self.fm(pairs)) + logit(self.deep(flat(pairs)))
