"""FiBiNET (Huang et al. 2019): squeeze-excitation reweights the fields, bilinear layers cross both the
original and the reweighted embeddings, and an MLP reads the crosses.

    V' = SENET(V);  P = Bilinear(V), Q = Bilinear(V')           each (F(F-1)/2, E)
    logit = b + sum_f w_f[x_f] + MLP([P; Q])
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from towernas.nn.interactions import BilinearInteraction
from towernas.nn.mlp import mlp
from towernas.nn.squeeze_excitation import SqueezeExcitation
from towernas.rankers.base import RANKERS, LinearTerms, Ranker, flat, logit
from towernas.rankers.inputs import Catalog, PairFields


@RANKERS.register("fibinet")
class FiBiNET(Ranker):
    """Args: catalog; embed; reduction: the SENET squeeze ratio; bilinear_type: "field_all" | "field_each" |
    "field_interaction"; hidden: MLP widths."""

    def __init__(self, catalog: Catalog, embed: int = 16, reduction: int = 3,
                 bilinear_type: str = "field_interaction", hidden: Sequence[int] = (256, 128), dropout: float = 0.0) -> None:
        super().__init__(catalog)
        self.linear = LinearTerms(catalog)
        self.fields = PairFields(catalog, embed)
        n = self.fields.n_fields
        self.senet = SqueezeExcitation(n, reduction)
        self.bilinear = BilinearInteraction(n, embed, bilinear_type)
        self.bilinear_se = BilinearInteraction(n, embed, bilinear_type)
        self.deep = mlp(n * (n - 1) * embed, [*hidden, 1], dropout=dropout)  # two sets of F(F-1)/2 crosses

    def forward(self, batch: dict[str, torch.Tensor], items: torch.Tensor) -> torch.Tensor:
        pairs = self.fields(batch, items).stacked()  # (B, C, F, E)
        b, c, n, e = pairs.shape
        reweighted = self.senet(pairs.reshape(b * c, n, e)).reshape(b, c, n, e)
        crosses = torch.cat([self.bilinear(pairs), self.bilinear_se(reweighted)], dim=2)  # (B, C, F(F-1), E)
        return self.linear(batch, items) + logit(self.deep(flat(crosses)))
