"""Wide & Deep (Cheng et al. 2016): a linear "wide" part plus an MLP over the concatenated embeddings.

    logit(u, i) = b + sum_f w_f[x_f] + MLP([v_1; ...; v_F])

The wide part here is first-order over every field (the paper's hand-made cross features have no
counterpart in a generic library; DeepFM, DCN and xDeepFM learn those crosses).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from towernas.nn.mlp import mlp
from towernas.rankers.base import RANKERS, LinearTerms, Ranker, flat, logit
from towernas.rankers.inputs import Catalog, PairFields


@RANKERS.register("wide_deep")
class WideDeep(Ranker):
    """Args: catalog; embed: width of every field embedding; hidden: the deep part's hidden widths."""

    def __init__(self, catalog: Catalog, embed: int = 16, hidden: Sequence[int] = (256, 128), dropout: float = 0.0) -> None:
        super().__init__(catalog)
        self.linear = LinearTerms(catalog)
        self.fields = PairFields(catalog, embed)
        self.deep = mlp(self.fields.n_fields * embed, [*hidden, 1], dropout=dropout)

    def forward(self, batch: dict[str, torch.Tensor], items: torch.Tensor) -> torch.Tensor:
        pairs = self.fields(batch, items).stacked()  # (B, C, F, E)
        return self.linear(batch, items) + logit(self.deep(flat(pairs)))
