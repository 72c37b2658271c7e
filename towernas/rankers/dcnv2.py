"""DCN-V2 (Wang et al. 2021): matrix-valued cross layers, stacked before or beside an MLP.

    x_{l+1} = x0 ⊙ (W_l x_l + b_l) + x_l            (towernas.nn.CrossNetV2; W_l = U_l V_l^T if ``rank``)
    stacked:  logit = w . MLP(x_L) + b
    parallel: logit = w . [x_L ; MLP(x0)] + b
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

import torch
from torch import nn

from towernas.nn.cross import CrossNetV2
from towernas.nn.mlp import mlp
from towernas.rankers.base import RANKERS, Ranker, flat, logit
from towernas.rankers.inputs import Catalog, PairFields

STRUCTURES = ("stacked", "parallel")


@RANKERS.register("dcnv2")
class DCNv2(Ranker):
    """Args: catalog; embed; cross_layers: L; rank: None = full-rank W_l, r = low rank; hidden: MLP widths;
    structure: "stacked" or "parallel"."""

    def __init__(self, catalog: Catalog, embed: int = 16, cross_layers: int = 3, rank: Optional[int] = None,
                 hidden: Sequence[int] = (256, 128), dropout: float = 0.0, structure: str = "stacked") -> None:
        super().__init__(catalog)
        if structure not in STRUCTURES:
            raise ValueError(f"ranker.structure={structure!r}: expected one of {list(STRUCTURES)}")
        self.structure = structure
        self.fields = PairFields(catalog, embed)
        width = self.fields.n_fields * embed
        self.cross = CrossNetV2(width, cross_layers, rank=rank)
        self.deep = mlp(width, list(hidden), activate_last=True, dropout=dropout)
        self.out = nn.Linear(hidden[-1] + (width if structure == "parallel" else 0), 1)

    def forward(self, batch: dict[str, torch.Tensor], items: torch.Tensor) -> torch.Tensor:
        x0 = flat(self.fields(batch, items).stacked())  # (B, C, F*E)
        crossed = self.cross(x0)
        if self.structure == "stacked":
            return logit(self.out(self.deep(crossed)))
        return logit(self.out(torch.cat([crossed, self.deep(x0)], -1)))
