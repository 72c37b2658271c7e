"""DIN, Deep Interest Network (Zhou et al. 2018): the user's interest in a candidate is a candidate-specific
sum over the history, weighted by an activation unit.

    k_j      = h_j + p_{L-j}                           p: a learned embedding per recency (0 = latest)
    w_j(t)   = MLP_a([k_j; t; k_j - t; k_j ⊙ t])       unnormalised, 0 on padding (towernas.nn.TargetAttention)
    i(u, t)  = sum_j w_j(t) h_j
    logit    = MLP([user id; user features; i(u, t); t; item features])

h_j is the j-th history item and t the candidate, each the sum of its id embedding and its side-feature
embeddings (``item_features``; DIN's goods id + category), h_j also of its rating's where the data has explicit
ratings (``PairFields``), so the unit weighs what the user thought of each similar item; the mean-pooled history field that other rankers
read is replaced by the attended interest. ``recency`` adds p to the attention keys only, so the unit can
weigh the latest items more for the same item (time-aware DIN variants and BST do the same with positions);
``item_features=false, recency=false`` is the paper's id-only unit. With ``ratings="rated"`` (``Catalog``) a
second activation unit attends over the user's latest rated train items, each embedded with its rating, and its
interest is one more field: a learned item-based collaborative filtering that reads the same kind of input for
a training query as for a validation or test one.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from towernas.nn.mlp import mlp
from towernas.nn.pair_features import NumericFields
from towernas.nn.target_attention import TargetAttention
from towernas.rankers.base import RANKERS, Ranker, flat, logit
from towernas.rankers.inputs import Catalog, PairFields


@RANKERS.register("din")
class DIN(Ranker):
    """Args: catalog; embed; attention_hidden: the activation unit's widths; attention_activation:
    "sigmoid" | "relu" | "prelu"; hidden: the output MLP's widths; item_features: history items and the
    candidate include their side features; recency: a learned recency embedding in the attention keys."""

    def __init__(self, catalog: Catalog, embed: int = 16, attention_hidden: Sequence[int] = (36,), dropout: float = 0.0,
                 attention_activation: str = "prelu", hidden: Sequence[int] = (200, 80), item_features: bool = True,
                 recency: bool = True) -> None:
        super().__init__(catalog)
        self.fields = PairFields(catalog, embed)
        self.item_features = item_features
        # one row per history slot, right-aligned like the history: the last row is the latest item's
        self.recency = nn.Parameter(torch.zeros(catalog.max_len, embed)) if recency else None
        self.attention = TargetAttention(embed, list(attention_hidden), attention_activation)
        # ratings="rated": a second unit over the user's latest rated items, their ratings in the keys and values
        self.rated_attention = None
        if catalog.ratings == "rated":
            self.rated_attention = TargetAttention(embed, list(attention_hidden), attention_activation)
            self.rated_rating = NumericFields(1, embed)  # a rated item is its id embedding + its rating's
        extra = self.rated_attention is not None
        self.deep = mlp((self.fields.n_fields + extra) * embed, [*hidden, 1], dropout=dropout)

    def forward(self, batch: dict[str, torch.Tensor], items: torch.Tensor) -> torch.Tensor:
        x = self.fields(batch, items)
        b, c = items.shape
        if self.item_features:  # id + side features (+ the item's rating, with ratings), summed per item
            history, target = self.fields.candidates(batch["history"]).sum(2), x.items.sum(2)
            rated = self.fields.history_ratings(batch, x.mask)
            history = history if rated is None else history + rated
        else:
            history, target = x.history, x.items[:, :, 0]
        keys = history
        if self.recency is not None:  # the latest m slots; a longer (padded) history's older slots get none
            m = min(history.shape[1], self.recency.shape[0])
            keys = torch.cat([history[:, :-m], history[:, -m:] + self.recency[-m:]], 1)
        weights = self.attention.weights(keys, target, x.mask)  # (B, C, L)
        interest = weights @ history  # (B, C, E): one per candidate
        query = x.query[:, :-1].unsqueeze(1).expand(b, c, -1, -1)  # all but the mean history, (B, C, F_q-1, E)
        parts = [query, interest.unsqueeze(2)]
        if self.rated_attention is not None:  # what the user thought of the rated items most like the candidate
            rated, centred, rated_mask = self.fields.rated_history(batch)
            rated = rated + self.rated_rating(centred.unsqueeze(-1))[..., 0, :] * rated_mask.unsqueeze(-1)
            rated_weights = self.rated_attention.weights(rated, target, rated_mask)
            parts.append((rated_weights @ rated).unsqueeze(2))
        pairs = torch.cat([*parts, x.items], dim=2)  # (B, C, F, E)
        return logit(self.deep(flat(pairs)))
