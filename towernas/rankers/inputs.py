"""What every ranker sees of a (query, candidate) pair: field embeddings, shared by all ranker files.

A ranker scores C candidates per query at once (``Ranker.score(batch, items)``, items (B, C)). The query
side is the batch of ``towernas.data.batches.user_inputs`` (``user``, ``history``, ``user:<field>``); the
candidate side is only item ids: ``PairFields`` keeps the catalogue's item features as buffers and looks
them up, so a candidate list from a retriever (or sampled negatives) needs no feature gathering outside.

Fields of one pair, in order (F = F_q + F_c, F_q = 1 + F_u + 3 (+ 1 with ratings), F_c = 1 + F_i + the pair
features' width):

    user id | user side features | [mean rating] | history length | latest item | mean of the history | item id |
    item features | [pair features]

The query side carries the order of the history: its latest item (an embedding of the item-id table; what
comes next follows what came last: sequels, sessions) and its length (the number of real items, 0..L, its
own table: how far into their sequence the user is). The history is also returned unpooled (B, L, E) with
its mask, for target attention (DIN). Every
embedding table has width ``dim``; ``dim=1`` gives the first-order ("linear") terms of LR, FM and Wide.

Example:
    >>> import numpy as np, torch
    >>> from towernas.data.features import Field
    >>> catalog = Catalog(n_users=5, n_items=7, max_len=3, user_fields=(Field("age", 4),),
    ...                   item_fields=(Field("genre", 3),), item_values={"genre": np.arange(7) % 3})
    >>> fields = PairFields(catalog, dim=8)
    >>> batch = {"user": torch.tensor([0, 4]), "history": torch.tensor([[7, 1, 2], [3, 4, 5]]),
    ...          "user:age": torch.tensor([1, 3])}
    >>> fields(batch, torch.tensor([[1, 2, 3], [6, 0, 5]])).stacked().shape  # (B, C, F, E)
    torch.Size([2, 3, 7, 8])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from towernas.data.features import Field
from towernas.data.interactions import InteractionData
from towernas.data.batches import RATED, RATED_RATINGS, RATING_BEFORE, RATINGS
from towernas.nn.embeddings import FieldEmbeddings
from towernas.nn.pair_features import NumericFields
from towernas.nn.pooling import masked_mean


@dataclass
class PairInputs:
    """Embedded inputs of B queries × C candidates (``E`` = the tables' width).

    Args:
        query: (B, F_q, E) user id, user features, [mean rating,] history length, latest item, mean-pooled
            history (F_q = F_u + 4, + 1 with ratings; the mean is last).
        history: (B, L, E) the history's item embeddings (padding rows are zero).
        mask: (B, L) True where the history holds an item.
        items: (B, C, F_c, E) candidate item id and item features (F_c = F_i + 1).
    """

    query: torch.Tensor
    history: torch.Tensor
    mask: torch.Tensor
    items: torch.Tensor

    def stacked(self) -> torch.Tensor:
        """(B, C, F, E): every field of every pair, the query's repeated over the C candidates."""
        b, c = self.items.shape[:2]
        query = self.query.unsqueeze(1).expand(b, c, *self.query.shape[1:])
        return torch.cat([query, self.items], dim=2)

    @property
    def n_fields(self) -> int:
        return self.query.shape[1] + self.items.shape[2]


RATING_INPUTS = ("none", "mean", "history", "rated")  # what rankers read of explicit ratings (Catalog.ratings)


@dataclass(frozen=True)
class Catalog:
    """What a ranker is built for: id ranges, side fields and every item's feature codes.

    Args:
        n_users, n_items: id ranges; history padding is item id ``n_items``.
        max_len: L, the longest history a query holds (the history-length field has L + 1 values).
        user_fields, item_fields: the dataset's categorical side fields.
        item_values: ``{field: (n_items,) or (n_items, width) int codes}`` (``data.item_features.values``).
            Left empty when a saved ranker is rebuilt: its checkpoint holds the codes (buffers).
        pair_features: names of ``towernas.rankers.pair_features.PAIR_FEATURES`` every pair also gets, as
            numeric fields after the item's fields (none by default).
        pair_statistics: the ``PairStatistics`` they read (None when rebuilt: the checkpoint holds them).
        ratings: what a ranker reads of explicit ratings (``RATING_INPUTS``): "none"; "mean": the query gets the
            user's mean centred rating so far (``batch["rating_before"]``, else the history's: how generously
            this user rates); "history": also every history item's embedding carries its rating (centred;
            ``batch["history_rating"]``, a missing one counts as the mean); "rated": "mean", and a ranker that
            attends over the history (DIN) also attends over the user's latest L rated train items with their
            ratings (``batch["rated_history"]``; ``PairFields.rated_history``), which are the same kind of input
            for a training query and for a validation or test one (whose recent history is unrated).
        rating_mean: the train split's mean rating (the centre), None without ratings.
    """

    n_users: int
    n_items: int
    max_len: int = 20
    user_fields: tuple[Field, ...] = ()
    item_fields: tuple[Field, ...] = ()
    item_values: dict[str, np.ndarray] = field(default_factory=dict, compare=False, repr=False)
    pair_features: tuple[str, ...] = ()
    pair_statistics: Any = field(default=None, compare=False, repr=False)
    ratings: str = "none"
    rating_mean: float | None = None

    def __post_init__(self) -> None:
        if self.ratings not in RATING_INPUTS:
            raise ValueError(f"ratings={self.ratings!r}: expected one of {list(RATING_INPUTS)}")
        if self.ratings != "none" and self.rating_mean is None:
            raise ValueError(f"ratings={self.ratings!r} needs the ratings' mean (a dataset with explicit ratings)")

    @classmethod
    def from_data(cls, data: InteractionData, pair_features: Sequence[str] = (), statistics: Any = None,
                  ratings: str = "none") -> Catalog:
        """``data``'s catalogue; with ``pair_features``, their ``statistics`` (default: of ``data``'s train split);
        ``ratings`` (``RATING_INPUTS``) applies to a dataset with explicit ratings ("none" for any other)."""
        from towernas.rankers.pair_features import PairStatistics

        stats = (statistics or PairStatistics.from_data(data)) if pair_features else None
        mean = None
        if data.ratings is not None:
            train = data.ratings[data.rows("train")]
            mean = float(np.nanmean(train)) if np.isfinite(train).any() else 0.0
        return cls(data.n_users, data.n_items, data.max_len, tuple(data.user_features.fields),
                   tuple(data.item_features.fields), dict(data.item_features.values), tuple(pair_features), stats,
                   ratings if mean is not None else "none", mean)

    def codes(self, f: Field) -> torch.Tensor:
        """(n_items + 1, ...) codes of ``f``; the last row (the padding id) is 0 = missing. Zeros if not given."""
        if f.name in self.item_values:
            codes = torch.as_tensor(np.asarray(self.item_values[f.name]), dtype=torch.long)
            if codes.shape[0] != self.n_items:
                raise ValueError(f"item field {f.name}: {codes.shape[0]} rows of codes for {self.n_items} items")
        else:
            codes = torch.zeros(self.n_items, *(() if not f.multi else (f.width,)), dtype=torch.long)
        return torch.cat([codes, codes.new_zeros(1, *codes.shape[1:])])


class PairFields(nn.Module):
    """Embedding tables of a ranker and the catalogue's item features (buffers); see the module docstring.

    Args:
        catalog: ids, fields and item feature codes. dim: width of every table.
    """

    def __init__(self, catalog: Catalog, dim: int) -> None:
        super().__init__()
        self.n_items, self.dim = catalog.n_items, dim
        # row n_users stands for a user unknown at training (served from raw features): all zeros, never trained
        self.user_ids = nn.Embedding(catalog.n_users + 1, dim, padding_idx=catalog.n_users)
        self.lengths = nn.Embedding(catalog.max_len + 1, dim)  # 0..L real items in the history
        nn.init.normal_(self.lengths.weight, std=0.05)
        self.item_ids = nn.Embedding(catalog.n_items + 1, dim, padding_idx=catalog.n_items)
        for table in (self.user_ids, self.item_ids):
            nn.init.normal_(table.weight, std=0.05)
        with torch.no_grad():
            self.item_ids.weight[catalog.n_items].zero_()
            self.user_ids.weight[catalog.n_users].zero_()
        self.rating_inputs, self.rating_mean = catalog.ratings, catalog.rating_mean
        if self.rating_inputs != "none":  # the user's mean rating (and with "history" each history item's)
            self.user_rating = NumericFields(1, dim)
        if self.rating_inputs == "history":
            self.item_rating = NumericFields(1, dim)
        self.pair = None
        if catalog.pair_features:  # numeric fields of the pair, after the item's own
            from towernas.rankers.pair_features import PairFeatures

            self.pair = PairFeatures(catalog, catalog.pair_features)
            self.pair_fields = NumericFields(self.pair.width, dim)
        self.user_fields = FieldEmbeddings(list(catalog.user_fields), dim, "user")
        self.item_fields = FieldEmbeddings(list(catalog.item_fields), dim, "item")
        for f in catalog.item_fields:
            self.register_buffer(f"item_codes__{f.name}", catalog.codes(f))

    @property
    def n_fields(self) -> int:
        """F, the number of fields of a pair."""
        return (len(self.user_fields.fields) + len(self.item_fields.fields) + 5 + (self.pair.width if self.pair else 0)
                + (self.rating_inputs != "none"))

    def history_ratings(self, batch: dict[str, torch.Tensor], mask: torch.Tensor) -> torch.Tensor | None:
        """(B, L, E) the rating part of every history item's embedding (0 on padding), or None without them."""
        if self.rating_inputs != "history":
            return None
        return self.item_rating(self._centred(batch, mask).unsqueeze(-1))[..., 0, :] * mask.unsqueeze(-1)

    def rated_history(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None:
        """With ``ratings="rated"``: the user's latest rated train items, (B, L, E) their id embeddings, (B, L)
        their ratings centred on the train mean (0 on padding) and their mask; None otherwise (a ranker that reads
        them embeds the ratings itself, so the other rankers' parameters are those of ``mean``). Served without
        ``rated_history`` in the batch, the history's own rated items are read (``history_rating`` != 0)."""
        if self.rating_inputs != "rated":
            return None
        if RATED in batch:
            items, ratings = batch[RATED], batch[RATED_RATINGS]
        else:
            ratings = batch.get(RATINGS, torch.zeros(batch["history"].shape, device=batch["history"].device))
            items = torch.where(ratings != 0, batch["history"], self.n_items)
        mask = items != self.n_items
        return self.item_ids(items), torch.where(mask, ratings.float() - self.rating_mean, 0.0), mask

    def _centred(self, batch: dict[str, torch.Tensor], mask: torch.Tensor) -> torch.Tensor:
        ratings = batch.get(RATINGS)
        if ratings is None:  # served without ratings: every item at the mean
            return torch.zeros(mask.shape, device=mask.device)
        return torch.where(mask & (ratings != 0), ratings.float() - self.rating_mean, 0.0)

    def forward(self, batch: dict[str, torch.Tensor], items: torch.Tensor) -> PairInputs:
        history = batch["history"]  # (B, L)
        mask = history != self.n_items
        seq = self.item_ids(history)  # (B, L, E)
        parts = [self.user_ids(batch["user"]).unsqueeze(1)]  # (B, 1, E)
        if self.user_fields.fields:
            parts.append(self.user_fields(batch))  # (B, F_u, E)
        if self.rating_inputs == "history":
            seq = seq + self.history_ratings(batch, mask)
        if self.rating_inputs != "none":
            if RATING_BEFORE in batch:  # all the user's ratings so far, not only the window's
                before = batch[RATING_BEFORE].float()
                generosity = torch.where(before != 0, before - self.rating_mean, 0.0)
            else:
                generosity = self._centred(batch, mask).sum(1) / mask.sum(1).clamp_min(1)  # the window's mean
            parts.append(self.user_rating(generosity[:, None]))  # (B, 1, E)
        length = mask.sum(1).clamp_max(self.lengths.num_embeddings - 1)  # (B,)
        parts += [self.lengths(length).unsqueeze(1), seq[:, -1:],  # right-aligned: the latest item is last
                  masked_mean(seq, mask).unsqueeze(1)]
        candidates = self.candidates(items)
        if self.pair is not None:
            candidates = torch.cat([candidates, self.pair_fields(self.pair(batch, items))], dim=2)
        return PairInputs(query=torch.cat(parts, dim=1), history=seq, mask=mask, items=candidates)

    def candidates(self, items: torch.Tensor) -> torch.Tensor:
        """(B, C) item ids -> (B, C, 1 + F_i, E)."""
        b, c = items.shape
        flat = items.reshape(-1)
        parts = [self.item_ids(flat).unsqueeze(1)]
        if self.item_fields.fields:
            codes = {f"item:{f.name}": getattr(self, f"item_codes__{f.name}")[flat] for f in self.item_fields.fields}
            parts.append(self.item_fields(codes))
        return torch.cat(parts, dim=1).reshape(b, c, -1, self.dim)
