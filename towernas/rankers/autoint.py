"""AutoInt (Song et al. 2019): stacked multi-head self-attention over the fields, then a linear output.

    E^{(0)} = field embeddings (F, E);  E^{(l+1)} = InteractingLayer(E^{(l)})   (residual, ReLU)
    logit   = w . [e_1^{(L)}; ...; e_F^{(L)}] + b      (+ MLP([v_1; ...; v_F]) if ``hidden``: AutoInt+)
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from towernas.nn.interactions import InteractingLayer
from towernas.nn.mlp import mlp
from towernas.rankers.base import RANKERS, Ranker, flat, logit
from towernas.rankers.inputs import Catalog, PairFields


@RANKERS.register("autoint")
class AutoInt(Ranker):
    """Args: catalog; embed; attention_layers; heads; head_dim; hidden: () = AutoInt, widths = AutoInt+."""

    def __init__(self, catalog: Catalog, embed: int = 16, attention_layers: int = 3, heads: int = 2,
                 head_dim: int = 16, hidden: Sequence[int] = (), dropout: float = 0.0) -> None:
        super().__init__(catalog)
        self.fields = PairFields(catalog, embed)
        widths = [embed] + [heads * head_dim] * attention_layers
        self.attention = nn.Sequential(*(InteractingLayer(w, heads, head_dim) for w in widths[:-1]))
        self.out = nn.Linear(self.fields.n_fields * widths[-1], 1)
        self.deep = mlp(self.fields.n_fields * embed, [*hidden, 1], dropout=dropout) if hidden else None

    def forward(self, batch: dict[str, torch.Tensor], items: torch.Tensor) -> torch.Tensor:
        pairs = self.fields(batch, items).stacked()  # (B, C, F, E)
        out = logit(self.out(flat(self.attention(pairs))))
        return out if self.deep is None else out + logit(self.deep(flat(pairs)))
