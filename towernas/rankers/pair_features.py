"""Pair features: what a ranker can know about a (query, candidate) pair that its embeddings and the retriever
do not, as numeric fields every ranker reads (``Catalog.pair_features``; ``PairFields`` appends them).

Registered in ``PAIR_FEATURES`` (config: ``cascade.pair_features=[…]``):

- ``retriever``: the retriever's score of the candidate and its rank over the whole catalogue
  (``log(1 + rank) / log(1 + N)``), put in the batch by ``towernas.cascade.fusion`` (a fused ranker only).
- ``popularity``: the candidate's interaction count, ``log(1 + n) / log(1 + max n)``.
- ``cooccurrence``: the candidate's mean cosine co-occurrence with the history's items and with its latest 3
  (``towernas.nn.pair_features.NeighbourAffinity`` over every item's top-50 neighbours).
- ``category``: per item side field, the share of the history carrying the candidate's codes
  (``CodeAffinity``).

Counts and co-occurrences are ``PairStatistics`` of a set of interactions: the train split for validation,
test and serving, and for a ranker trained on out-of-sample lists the same part of train its lists'
retriever was fitted on (``use_statistics``), so a feature never counts the targets it is trained to find.
They are persistent buffers: a saved ranker carries the statistics it was served with.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from towernas.nn.pair_features import CodeAffinity, NeighbourAffinity
from towernas.runs.registry import Registry

NEIGHBOURS = 50
SCORE, RANK = "retriever_score", "retriever_rank"  # batch keys a fused ranker's inner ranker receives
PAIR_FEATURES: Registry[type[nn.Module]] = Registry("pair feature", key="cascade.pair_features")


@dataclass
class PairStatistics:
    """Item counts (N,) and every item's top-M co-occurring items (N, M) with their cosine (-1 = none)."""

    counts: np.ndarray
    neighbours: np.ndarray
    weights: np.ndarray

    @classmethod
    def from_interactions(cls, users: np.ndarray, items: np.ndarray, n_users: int, n_items: int,
                          m: int = NEIGHBOURS) -> PairStatistics:
        """From (user, item) rows: cosine of the items' user sets, ``|U_i ∩ U_j| / sqrt(|U_i| |U_j|)``."""
        pairs = np.unique(np.asarray(users, np.int64) * n_items + np.asarray(items, np.int64))
        u, i = pairs // n_items, pairs % n_items
        counts = np.bincount(i, minlength=n_items)
        x = torch.sparse_coo_tensor(torch.as_tensor(np.stack([u, i])), torch.ones(len(u)), (n_users, n_items),
                                    check_invariants=True).coalesce()
        with warnings.catch_warnings():  # torch marks its sparse product's internals as beta
            warnings.simplefilter("ignore", UserWarning)
            gram = torch.sparse.mm(x.t().coalesce(), x).coalesce()
        (rows, cols), values = gram.indices().numpy(), gram.values().numpy()
        keep = rows != cols
        rows, cols, values = rows[keep], cols[keep], values[keep]
        cosine = values / np.sqrt(counts[rows] * counts[cols])
        order = np.lexsort((-cosine, rows))  # by row, the most similar first
        rows, cols, cosine = rows[order], cols[order], cosine[order]
        rank = np.arange(len(rows)) - np.searchsorted(rows, rows)  # position within its row
        top = rank < m
        neighbours = np.full((n_items, m), -1, np.int64)
        weights = np.zeros((n_items, m), np.float32)
        neighbours[rows[top], rank[top]] = cols[top]
        weights[rows[top], rank[top]] = cosine[top]
        return cls(counts, neighbours, weights)

    @classmethod
    def from_data(cls, data, split: str = "train", m: int = NEIGHBOURS) -> PairStatistics:
        rows = data.rows(split)
        return cls.from_interactions(data.users[rows], data.items[rows], data.n_users, data.n_items, m)


@PAIR_FEATURES.register("retriever")
class RetrieverFeature(nn.Module):
    width = 2

    def __init__(self, catalog) -> None:
        super().__init__()

    def forward(self, batch: dict[str, torch.Tensor], items: torch.Tensor) -> torch.Tensor:
        if SCORE not in batch:
            raise KeyError("pair feature 'retriever' reads the retriever's score: the ranker must be fused with "
                           "the retriever (cascade.fuse_retriever=true)")
        return torch.stack([batch[SCORE], batch[RANK]], -1)


@PAIR_FEATURES.register("popularity")
class PopularityFeature(nn.Module):
    width = 1

    def __init__(self, catalog) -> None:
        super().__init__()
        self.register_buffer("level", torch.zeros(catalog.n_items + 1))

    def use(self, stats: PairStatistics) -> None:
        level = np.log1p(stats.counts) / max(np.log1p(stats.counts.max(initial=0)), 1e-9)
        self.level.copy_(torch.as_tensor(np.r_[level, 0.0], dtype=torch.float32))

    def forward(self, batch: dict[str, torch.Tensor], items: torch.Tensor) -> torch.Tensor:
        return self.level[items].unsqueeze(-1)


@PAIR_FEATURES.register("cooccurrence")
class CooccurrenceFeature(nn.Module):
    width = 2

    def __init__(self, catalog, m: int = NEIGHBOURS) -> None:
        super().__init__()
        n = catalog.n_items
        self.affinity = NeighbourAffinity(torch.full((n + 1, m), n), torch.zeros(n + 1, m))

    def use(self, stats: PairStatistics) -> None:
        n = stats.neighbours.shape[0]
        neighbours = np.where(stats.neighbours >= 0, stats.neighbours, n)
        self.affinity.neighbours.copy_(torch.as_tensor(np.r_[neighbours, np.full((1, neighbours.shape[1]), n)]))
        self.affinity.weights.copy_(torch.as_tensor(np.r_[stats.weights, np.zeros((1, stats.weights.shape[1]))]))

    def forward(self, batch: dict[str, torch.Tensor], items: torch.Tensor) -> torch.Tensor:
        return self.affinity(batch["history"], items)


@PAIR_FEATURES.register("category")
class CategoryFeature(nn.Module):
    def __init__(self, catalog) -> None:
        super().__init__()
        self.parts = nn.ModuleList(CodeAffinity(catalog.codes(f), f.cardinality) for f in catalog.item_fields)
        self.width = len(self.parts)

    def forward(self, batch: dict[str, torch.Tensor], items: torch.Tensor) -> torch.Tensor:
        if not self.parts:
            return items.new_zeros(*items.shape, 0, dtype=torch.float32)
        return torch.stack([part(batch["history"], items) for part in self.parts], -1)


class PairFeatures(nn.Module):
    """The features ``names`` of a catalogue, concatenated: ``(batch, items (B, C)) -> (B, C, width)``."""

    def __init__(self, catalog, names) -> None:
        super().__init__()
        self.names = tuple(names)
        self.features = nn.ModuleList(PAIR_FEATURES.build(name, catalog) for name in self.names)
        self.width = sum(f.width for f in self.features)
        if catalog.pair_statistics is not None:
            self.use(catalog.pair_statistics)

    def use(self, stats: PairStatistics) -> None:
        for feature in self.features:
            if hasattr(feature, "use"):
                feature.use(stats)

    def forward(self, batch: dict[str, torch.Tensor], items: torch.Tensor) -> torch.Tensor:
        return torch.cat([f(batch, items) for f in self.features], -1)


def use_statistics(ranker: nn.Module, stats: PairStatistics) -> None:
    """Point every pair feature of ``ranker`` (any wrapper of it) at ``stats``."""
    for module in ranker.modules():
        if isinstance(module, PairFeatures):
            module.use(stats)
