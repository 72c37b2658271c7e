"""xDeepFM (Lian et al. 2018): linear terms + a compressed interaction network (explicit, vector-wise
interactions of bounded degree) + an MLP (implicit, bit-wise), logits summed.

    logit = b + sum_f w_f[x_f] + w_cin . CIN(V) + MLP([v_1; ...; v_F])        V = (F, E) field embeddings
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from towernas.nn.interactions import CIN
from towernas.nn.mlp import mlp
from towernas.rankers.base import RANKERS, LinearTerms, Ranker, flat, logit
from towernas.rankers.inputs import Catalog, PairFields


@RANKERS.register("xdeepfm")
class XDeepFM(Ranker):
    """Args: catalog; embed; cin_layers: H_1..H_K feature maps; split_half: the paper's halving; hidden."""

    def __init__(self, catalog: Catalog, embed: int = 16, cin_layers: Sequence[int] = (64, 64),
                 split_half: bool = True, hidden: Sequence[int] = (256, 128), dropout: float = 0.0) -> None:
        super().__init__(catalog)
        self.linear = LinearTerms(catalog)
        self.fields = PairFields(catalog, embed)
        self.cin = CIN(self.fields.n_fields, list(cin_layers), split_half=split_half)
        self.cin_out = nn.Linear(self.cin.out_dim, 1)
        self.deep = mlp(self.fields.n_fields * embed, [*hidden, 1], dropout=dropout)

    def forward(self, batch: dict[str, torch.Tensor], items: torch.Tensor) -> torch.Tensor:
        pairs = self.fields(batch, items).stacked()  # (B, C, F, E)
        return (self.linear(batch, items) + logit(self.cin_out(self.cin(pairs)))
                + logit(self.deep(flat(pairs))))
