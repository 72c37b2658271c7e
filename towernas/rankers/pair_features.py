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
- ``item_rating``: the candidate's mean rating before the query time (centred; 0 without ratings) and how many
  interactions it had before then.
- ``trend``: the candidate's consumption in the last twentieth of the log's time span before the query, and
  that share of all its consumption before it.
- ``neighbour_rating``: how this user rated the candidate's neighbours before the query (item-based
  collaborative filtering): the similarity-weighted mean of their ratings, centred on the user's mean, and how
  much similarity it rests on (``towernas.nn.pair_features.NeighbourRating``). All of the user's train ratings
  count, not only the history window, so a validation or test query (whose recent history is unrated) still
  reads them.

Time-aware features count only rows before the query's time (``batch["time"]``), so a training query never
counts its own target; served without a time they count everything.

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

from towernas.data.batches import RATING_BEFORE, TIME
from towernas.nn.pair_features import CodeAffinity, NeighbourAffinity, NeighbourRating
from towernas.runs.registry import Registry

NEIGHBOURS = 50
SCORE, RANK = "retriever_score", "retriever_rank"  # batch keys a fused ranker's inner ranker receives
PAIR_FEATURES: Registry[type[nn.Module]] = Registry("pair feature", key="cascade.pair_features")


@dataclass
class TimedRows:
    """Rows sorted by (item, time): ``keys = item * span + time``, every item's first row ``starts`` (N + 1,),
    cumulative ratings ``rating_sums`` (R + 1,) (0 without ratings); ``window``: the trend's time window."""

    keys: np.ndarray
    starts: np.ndarray
    rating_sums: np.ndarray
    span: int
    window: int

    @classmethod
    def from_rows(cls, items: np.ndarray, times: np.ndarray, ratings: np.ndarray | None, n_items: int) -> TimedRows:
        times = np.asarray(times, np.int64)
        low = int(times.min(initial=0))
        times = times - low
        span = int(times.max(initial=0)) + 2  # one past any query time clipped into range
        order = np.lexsort((times, items))
        keys = np.asarray(items, np.int64)[order] * span + times[order]
        values = np.zeros(len(order)) if ratings is None else np.nan_to_num(np.asarray(ratings, np.float64)[order])
        starts = np.searchsorted(keys, np.arange(n_items + 1, dtype=np.int64) * span)
        window = max(1, (span - 2) // 20)  # the last twentieth of the log's time span
        return cls(keys, starts, np.r_[0.0, np.cumsum(values)], span, window)


@dataclass
class UserRatings:
    """Rated rows sorted by ``keys = user * n_items + item`` (a pair rated twice keeps its latest row), with their
    ``ratings`` and ``times``."""

    keys: np.ndarray
    ratings: np.ndarray
    times: np.ndarray

    @classmethod
    def from_rows(cls, users: np.ndarray, items: np.ndarray, times: np.ndarray, ratings: np.ndarray,
                  n_items: int) -> UserRatings:
        ratings = np.asarray(ratings, np.float64)
        rated = np.isfinite(ratings)
        keys = np.asarray(users, np.int64)[rated] * n_items + np.asarray(items, np.int64)[rated]
        times = np.asarray(times, np.int64)[rated]
        order = np.lexsort((times, keys))
        keys, times, ratings = keys[order], times[order], ratings[rated][order]
        last = np.r_[keys[1:] != keys[:-1], True]  # the latest row of each (user, item)
        return cls(keys[last], ratings[last], times[last])


@dataclass
class PairStatistics:
    """Item counts (N,), every item's top-M co-occurring items (N, M) with their cosine (-1 = none), the rows
    by item and time (``TimedRows``) with the time offset ``t0`` their keys start from, and the rated rows by
    user (``UserRatings``, None without ratings)."""

    counts: np.ndarray
    neighbours: np.ndarray
    weights: np.ndarray
    timed: TimedRows | None = None
    t0: int = 0
    user_ratings: UserRatings | None = None

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
        stats = cls.from_interactions(data.users[rows], data.items[rows], data.n_users, data.n_items, m)
        ratings = None if data.ratings is None else data.ratings[rows]
        stats.timed = TimedRows.from_rows(data.items[rows], data.timestamps[rows], ratings, data.n_items)
        stats.t0 = int(data.timestamps[rows].min(initial=0))
        if ratings is not None:
            stats.user_ratings = UserRatings.from_rows(data.users[rows], data.items[rows], data.timestamps[rows],
                                                       ratings, data.n_items)
        return stats


def neighbour_table(stats: PairStatistics) -> tuple[torch.Tensor, torch.Tensor]:
    """(N + 1, M) every item's neighbours and their cosine, with a padding row; an unused slot holds item N."""
    n, m = stats.neighbours.shape
    neighbours = np.where(stats.neighbours >= 0, stats.neighbours, n)
    return (torch.as_tensor(np.r_[neighbours, np.full((1, m), n)]),
            torch.as_tensor(np.r_[stats.weights, np.zeros((1, m))], dtype=torch.float32))


def _load_sized(module: nn.Module, names: tuple[str, ...], state_dict, prefix: str) -> None:
    """Resize the buffers ``names`` of ``module`` to a saved state's (they are sized by its statistics)."""
    for name in names:
        if prefix + name in state_dict:
            saved = state_dict[prefix + name]
            setattr(module, name, torch.empty_like(saved, device=getattr(module, name).device))


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
        neighbours, weights = neighbour_table(stats)
        self.affinity.neighbours.copy_(neighbours)
        self.affinity.weights.copy_(weights)

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


class _Timed(nn.Module):
    """Buffers of ``TimedRows`` and the counts of each candidate's rows before the query time (``batch["time"]``;
    without it, all of them). Their length is the statistics' row count: a saved ranker's are taken as saved."""

    def __init__(self, catalog) -> None:
        super().__init__()
        self.register_buffer("keys", torch.zeros(0, dtype=torch.long))
        self.register_buffer("starts", torch.zeros(catalog.n_items + 2, dtype=torch.long))
        self.register_buffer("rating_sums", torch.zeros(1, dtype=torch.float64))
        self.register_buffer("scalars", torch.tensor([2, 1, 0]))  # span, window, t0
        self.register_buffer("norm", torch.ones(()))  # log(1 + the largest item count): counts' scale

    def use(self, stats: PairStatistics) -> None:
        t = stats.timed
        if t is None:
            raise ValueError("time-aware pair features need statistics with timestamps (PairStatistics.from_data)")
        device = self.keys.device
        self.keys = torch.as_tensor(t.keys, device=device)
        self.starts = torch.as_tensor(np.r_[t.starts, t.starts[-1]], device=device)
        self.rating_sums = torch.as_tensor(t.rating_sums, device=device)
        self.scalars = torch.tensor([t.span, t.window, stats.t0], device=device)
        self.norm.fill_(float(np.log1p(stats.counts.max(initial=1))))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        _load_sized(self, ("keys", "rating_sums"), state_dict, prefix)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def before(self, batch: dict[str, torch.Tensor], items: torch.Tensor, back: int = 0) -> torch.Tensor:
        """(B, C) the index of each candidate's first row at or after (query time - ``back``)."""
        span, _, t0 = self.scalars.tolist()
        if "time" in batch:
            t = (batch["time"].long() - t0 - back).clamp(0, span - 1).unsqueeze(1)
        else:  # served without a time: everything counted
            t = torch.full((items.shape[0], 1), span - 1, dtype=torch.long, device=items.device)
        return torch.searchsorted(self.keys, items.long() * span + t)


class _TimedFeature(nn.Module):
    """A feature over ``_Timed`` rows: ``use`` points them at new statistics."""

    def __init__(self, catalog) -> None:
        super().__init__()
        self.timed = _Timed(catalog)

    def use(self, stats: PairStatistics) -> None:
        self.timed.use(stats)


@PAIR_FEATURES.register("item_rating")
class ItemRatingFeature(_TimedFeature):
    """The candidate's mean rating before the query time, centred on the train mean (0 with none), and how many
    ratings it averages (``log(1 + n) / log(1 + max n)``): the item bias of a rating model, counted honestly."""

    width = 2

    def __init__(self, catalog) -> None:
        super().__init__(catalog)
        self.mean = catalog.rating_mean or 0.0  # without ratings the mean part is 0: only the count is read
        self.rated = catalog.rating_mean is not None

    def forward(self, batch: dict[str, torch.Tensor], items: torch.Tensor) -> torch.Tensor:
        end = self.timed.before(batch, items)
        start = self.timed.starts[items]
        n = (end - start).double()
        total = self.timed.rating_sums[end] - self.timed.rating_sums[start]
        mean = torch.where((n > 0) & self.rated, total / n.clamp_min(1) - self.mean, 0.0)
        return torch.stack([mean, torch.log1p(n) / self.timed.norm], -1).float()


@PAIR_FEATURES.register("trend")
class TrendFeature(_TimedFeature):
    """How many times the candidate was consumed in the last twentieth of the log's time span before the query,
    ``log(1 + n) / log(1 + max count)``, and that share of all its consumption before the query (rising or
    fading)."""

    width = 2

    def forward(self, batch: dict[str, torch.Tensor], items: torch.Tensor) -> torch.Tensor:
        window = int(self.timed.scalars[1])
        end = self.timed.before(batch, items)
        recent = (end - self.timed.before(batch, items, back=window)).float()
        total = (end - self.timed.starts[items]).float()
        return torch.stack([torch.log1p(recent) / self.timed.norm, recent / total.clamp_min(1)], -1)


@PAIR_FEATURES.register("neighbour_rating")
class NeighbourRatingFeature(nn.Module):
    """The user's ratings, before the query time, of the candidate's top-M co-occurring items, similarity-weighted
    and centred on the user's mean rating so far (``batch["rating_before"]``; the train mean without it), and the
    similarity they rest on (``NeighbourRating``). 0 without ratings or rated neighbours."""

    width = 2

    def __init__(self, catalog, m: int = NEIGHBOURS) -> None:
        super().__init__()
        n = catalog.n_items
        self.n_items = n
        self.mean = catalog.rating_mean or 0.0
        self.register_buffer("neighbours", torch.full((n + 1, m), n))
        self.register_buffer("weights", torch.zeros(n + 1, m))
        self.register_buffer("keys", torch.zeros(0, dtype=torch.long))  # UserRatings, sized by the statistics
        self.register_buffer("ratings", torch.zeros(0))
        self.register_buffer("times", torch.zeros(0, dtype=torch.long))
        self.rating = NeighbourRating()

    def use(self, stats: PairStatistics) -> None:
        device = self.neighbours.device
        neighbours, weights = neighbour_table(stats)
        self.neighbours.copy_(neighbours)
        self.weights.copy_(weights)
        rows = stats.user_ratings or UserRatings(np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.int64))
        self.keys = torch.as_tensor(rows.keys, device=device)
        self.ratings = torch.as_tensor(rows.ratings, dtype=torch.float32, device=device)
        self.times = torch.as_tensor(rows.times, device=device)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        _load_sized(self, ("keys", "ratings", "times"), state_dict, prefix)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, batch: dict[str, torch.Tensor], items: torch.Tensor) -> torch.Tensor:
        if self.keys.numel() == 0:
            return items.new_zeros(*items.shape, self.width, dtype=torch.float32)
        neighbours = self.neighbours[items]  # (B, C, M)
        wanted = batch["user"].long().view(-1, 1, 1) * self.n_items + neighbours
        at = torch.searchsorted(self.keys, wanted).clamp_max(self.keys.numel() - 1)
        found = (self.keys[at] == wanted) & (neighbours < self.n_items)
        if TIME in batch:  # only ratings given before the query
            found = found & (self.times[at] < batch[TIME].long().view(-1, 1, 1))
        centre = batch.get(RATING_BEFORE)
        centre = (torch.full(items.shape[:1], self.mean, device=items.device) if centre is None
                  else torch.where(centre != 0, centre.float(), self.mean))  # 0: no rating yet, as in PairFields
        return self.rating(self.ratings[at], found, self.weights[items], centre.unsqueeze(1).expand(items.shape))


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
