"""The two-tower score as a ranker: the no-interaction control.

    logit(u, i) = <f(query fields), g(item fields)> / sqrt(d) + b

f and g are MLPs over the concatenated query-side fields (user id, user features, mean history) and
candidate-side fields (item id, item features). The query and the item never meet before the dot product,
which is what a retriever must accept; every other ranker exists to do better than this. Inside a cascade,
``cascade.stages`` name ``retriever`` to rescore with the retriever itself (its own cosine score).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from towernas.nn.mlp import mlp
from towernas.rankers.base import RANKERS, Ranker, flat
from towernas.rankers.inputs import Catalog, PairFields


@RANKERS.register("two_tower")
class TwoTower(Ranker):
    """The no-interaction control. Args: catalog; embed; hidden: each tower's widths (the last is the output
    width d)."""

    def __init__(self, catalog: Catalog, embed: int = 16, hidden: Sequence[int] = (128, 64), dropout: float = 0.0) -> None:
        super().__init__(catalog)
        self.fields = PairFields(catalog, embed)
        n_item_fields = len(catalog.item_fields) + 1 + (self.fields.pair.width if self.fields.pair else 0)  # pair: item side
        self.user_tower = mlp((self.fields.n_fields - n_item_fields) * embed, list(hidden), dropout=dropout)
        self.item_tower = mlp(n_item_fields * embed, list(hidden), dropout=dropout)
        self.scale = 1.0 / math.sqrt(hidden[-1])
        self.bias = nn.Parameter(torch.zeros(()))

    def forward(self, batch: dict[str, torch.Tensor], items: torch.Tensor) -> torch.Tensor:
        x = self.fields(batch, items)
        user = self.user_tower(x.query.flatten(1))  # (B, d)
        item = self.item_tower(flat(x.items))  # (B, C, d)
        return (item @ user.unsqueeze(-1)).squeeze(-1) * self.scale + self.bias  # (B, C)
