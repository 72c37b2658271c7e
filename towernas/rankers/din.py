"""DIN, Deep Interest Network (Zhou et al. 2018): the user's interest in a candidate is a candidate-specific
sum over the history, weighted by an activation unit.

    w_j(t)   = MLP_a([h_j; t; h_j - t; h_j ⊙ t])       unnormalised, 0 on padding (towernas.nn.TargetAttention)
    i(u, t)  = sum_j w_j(t) h_j
    logit    = MLP([user id; user features; i(u, t); t; item features])

h_j are the history's item-id embeddings and t the candidate's; the mean-pooled history field that other
rankers read is replaced by the attended interest.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from towernas.nn.mlp import mlp
from towernas.nn.target_attention import TargetAttention
from towernas.rankers.base import RANKERS, Ranker, flat, logit
from towernas.rankers.inputs import Catalog, PairFields


@RANKERS.register("din")
class DIN(Ranker):
    """Args: catalog; embed; attention_hidden: the activation unit's widths; attention_activation:
    "sigmoid" | "relu" | "prelu"; hidden: the output MLP's widths."""

    def __init__(self, catalog: Catalog, embed: int = 16, attention_hidden: Sequence[int] = (36,), dropout: float = 0.0,
                 attention_activation: str = "prelu", hidden: Sequence[int] = (200, 80)) -> None:
        super().__init__(catalog)
        self.fields = PairFields(catalog, embed)
        self.attention = TargetAttention(embed, list(attention_hidden), attention_activation)
        self.deep = mlp(self.fields.n_fields * embed, [*hidden, 1], dropout=dropout)

    def forward(self, batch: dict[str, torch.Tensor], items: torch.Tensor) -> torch.Tensor:
        x = self.fields(batch, items)
        b, c = items.shape
        interest = self.attention(x.history, x.items[:, :, 0], x.mask)  # (B, C, E): one per candidate
        query = x.query[:, :-1].unsqueeze(1).expand(b, c, -1, -1)  # all but the mean history, (B, C, F_q-1, E)
        pairs = torch.cat([query, interest.unsqueeze(2), x.items], dim=2)  # (B, C, F, E)
        return logit(self.deep(flat(pairs)))
