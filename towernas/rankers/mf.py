"""Biased matrix factorization (Koren, Bell & Volinsky 2009): the id-only baseline of the rating task.

    score(u, i) = b + b_u + b_i + <p_u, q_i>

with ``embed``-wide factors p_u, q_i and scalar biases. It reads the user and candidate ids only (no history,
features or pair features), which is what "MF" means in rating-prediction tables (RecBole, AutoRec's
baselines); on the CTR task it is a logistic MF.
"""

from __future__ import annotations

import torch
from torch import nn

from towernas.rankers.base import RANKERS, Ranker
from towernas.rankers.inputs import Catalog

INIT_STD = 0.01  # the factors' initial scale (the biases start at 0: the model starts at the train mean)


def id_table(n: int, dim: int, std: float = INIT_STD) -> nn.Embedding:
    """An (n, dim) embedding table drawn from N(0, std²); for biases (dim 1) pass std 0."""
    table = nn.Embedding(n, dim)
    nn.init.normal_(table.weight, std=std) if std > 0 else nn.init.zeros_(table.weight)
    return table


@RANKERS.register("mf")
class MF(Ranker):
    """Args: catalog; embed: the factor width."""

    id_only = True

    def __init__(self, catalog: Catalog, embed: int = 32) -> None:
        super().__init__(catalog)
        self.user = id_table(catalog.n_users, embed)
        self.item = id_table(catalog.n_items + 1, embed)  # + the padding id
        self.user_bias = id_table(catalog.n_users, 1, std=0.0)
        self.item_bias = id_table(catalog.n_items + 1, 1, std=0.0)
        self.bias = nn.Parameter(torch.zeros(()))

    def forward(self, batch: dict[str, torch.Tensor], items: torch.Tensor) -> torch.Tensor:
        users = batch["user"]
        dot = (self.item(items) * self.user(users).unsqueeze(1)).sum(-1)  # (B, C)
        return dot + self.item_bias(items).squeeze(-1) + self.user_bias(users) + self.bias
