"""A ranker on top of the retriever's own score: ``logit = ranker(q, i) + a * <u(q), v_i>``.

A cascade's ranker sees what the retriever could not (feature crosses, target attention over the history),
but it is trained on far fewer examples than the retriever (its training queries and their candidates),
so alone it can rank worse than the list it was given. Fed the retriever's score as an input (as
production rankers get the retrieval score as a feature), it learns a correction: with the ranker's
logit near 0 at initialisation the stage starts from the retriever's order. ``a`` is learned, initialised
to 1 / the retriever's training temperature. The retriever's vectors come with the batch
(``batch["retriever_query"]``: (B, d), or (B, K, d) for a multi-interest tower scored by its best interest)
and the item vectors are a non-persistent buffer set from the retriever stage (not saved with the ranker).
An inner ranker with the ``retriever`` pair feature (``towernas.rankers.pair_features``) also receives the score
and the candidate's rank over the whole catalogue as inputs, not only as the fused logit.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from towernas.rankers.pair_features import RANK, SCORE

QUERY = "retriever_query"  # the batch key of the retriever's query vectors
TIE = 1e-5  # retriever scores (inner products of unit vectors) closer than this count as equal in a rank


class RetrieverScoreFusion(nn.Module):
    """Args: ranker: any ``Ranker``; items: (N, d) the retriever's item vectors; temperature: its training
    temperature (``a`` starts at 1 / temperature)."""

    def __init__(self, ranker: nn.Module, items: np.ndarray, temperature: float = 0.05) -> None:
        super().__init__()
        self.ranker, self.catalog = ranker, ranker.catalog
        self.log_scale = nn.Parameter(torch.tensor(math.log(1.0 / temperature)))
        self.register_buffer("items", torch.as_tensor(np.asarray(items, dtype=np.float32)), persistent=False)
        self.reads_score = "retriever" in getattr(ranker.catalog, "pair_features", ())

    def set_items(self, items: np.ndarray) -> None:
        """Point the fusion at another retriever's item vectors (a distilled one)."""
        self.items = torch.as_tensor(np.asarray(items, dtype=np.float32), device=self.items.device)

    def retriever_score(self, batch: dict[str, torch.Tensor], items: torch.Tensor) -> torch.Tensor:
        if QUERY not in batch:
            raise KeyError(f"a fused ranker needs batch[{QUERY!r}], the retriever's query vectors")
        query, vectors = batch[QUERY], self.items[items]  # (B, d) or (B, K, d); (B, C, d)
        if query.dim() == 2:
            return torch.einsum("bd,bcd->bc", query, vectors)
        return torch.einsum("bkd,bcd->bck", query, vectors).amax(-1)

    def retriever_rank(self, batch: dict[str, torch.Tensor], scores: torch.Tensor) -> torch.Tensor:
        """(B, C) ``log(1 + rank) / log(1 + N)`` of each candidate's ``scores`` among every item's (0 = first)."""
        query = batch[QUERY]
        everything = query @ self.items.T if query.dim() == 2 else torch.einsum("bkd,nd->bkn", query, self.items).amax(1)
        ascending = everything.sort(dim=1).values.contiguous()
        # items within TIE of the candidate's score tie with it: float noise (other batch shapes, a served process)
        # never moves a rank
        above = everything.shape[1] - torch.searchsorted(ascending, (scores + TIE).contiguous(), right=True)
        return torch.log1p(above.float()) / math.log1p(everything.shape[1])

    def forward(self, batch: dict[str, torch.Tensor], items: torch.Tensor) -> torch.Tensor:
        score = self.retriever_score(batch, items)
        if self.reads_score:  # a pair feature of the inner ranker (towernas.rankers.pair_features)
            batch = {**batch, SCORE: score, RANK: self.retriever_rank(batch, score)}
        return self.ranker(batch, items) + self.log_scale.exp() * score

    def score(self, batch: dict[str, torch.Tensor], items: torch.Tensor) -> torch.Tensor:
        return self(batch, items)
