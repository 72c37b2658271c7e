"""Deep & Cross Network (Wang et al. 2017): a cross network and an MLP side by side on x0 = [v_1; ...; v_F].

    x_{l+1} = x0 * (w_l . x_l) + b_l + x_l          (towernas.nn.CrossNet, L layers)
    logit   = w_out . [x_L ; MLP(x0)] + b_out
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from towernas.nn.cross import CrossNet
from towernas.nn.mlp import mlp
from towernas.rankers.base import RANKERS, Ranker, flat, logit
from towernas.rankers.inputs import Catalog, PairFields


@RANKERS.register("dcn")
class DCN(Ranker):
    """Args: catalog; embed: field embedding width; cross_layers: L; hidden: the deep part's widths."""

    def __init__(self, catalog: Catalog, embed: int = 16, cross_layers: int = 3,
                 hidden: Sequence[int] = (256, 128), dropout: float = 0.0) -> None:
        super().__init__(catalog)
        self.fields = PairFields(catalog, embed)
        width = self.fields.n_fields * embed
        self.cross = CrossNet(width, cross_layers)
        self.deep = mlp(width, list(hidden), activate_last=True, dropout=dropout)
        self.out = nn.Linear(width + hidden[-1], 1)

    def forward(self, batch: dict[str, torch.Tensor], items: torch.Tensor) -> torch.Tensor:
        x0 = flat(self.fields(batch, items).stacked())  # (B, C, F*E)
        return logit(self.out(torch.cat([self.cross(x0), self.deep(x0)], -1)))
