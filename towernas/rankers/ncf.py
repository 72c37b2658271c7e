"""Neural collaborative filtering, NeuMF (He et al. 2017): the id-only neural baseline.

    score(u, i) = h^T [ p_u ⊙ q_i  ∥  MLP([p'_u, q'_i]) ] + b

a GMF branch (the element-wise product of ``embed``-wide factors) beside an MLP over separately embedded ids,
fused by one linear output. Like ``mf`` it reads the user and candidate ids only.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from towernas.nn.mlp import mlp
from towernas.rankers.base import RANKERS, Ranker
from towernas.rankers.inputs import Catalog
from towernas.rankers.mf import id_table


@RANKERS.register("ncf")
class NCF(Ranker):
    """Args: catalog; embed: the GMF factor width and each id's MLP embedding width; hidden: the MLP's widths;
    dropout: after each hidden ReLU."""

    id_only = True

    def __init__(self, catalog: Catalog, embed: int = 16, hidden: Sequence[int] = (64, 32, 16),
                 dropout: float = 0.0) -> None:
        super().__init__(catalog)
        self.gmf_user, self.gmf_item = id_table(catalog.n_users, embed), id_table(catalog.n_items + 1, embed)
        self.mlp_user, self.mlp_item = id_table(catalog.n_users, embed), id_table(catalog.n_items + 1, embed)
        self.mlp = mlp(2 * embed, list(hidden), activate_last=True, dropout=dropout)
        self.out = nn.Linear(embed + hidden[-1], 1)

    def forward(self, batch: dict[str, torch.Tensor], items: torch.Tensor) -> torch.Tensor:
        users = batch["user"]
        c = items.shape[1]
        gmf = self.gmf_user(users).unsqueeze(1) * self.gmf_item(items)  # (B, C, E)
        user = self.mlp_user(users).unsqueeze(1).expand(-1, c, -1)
        deep = self.mlp(torch.cat([user, self.mlp_item(items)], dim=-1))  # (B, C, H)
        return self.out(torch.cat([gmf, deep], dim=-1)).squeeze(-1)
