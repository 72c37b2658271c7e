"""InteractionData: the one in-memory representation every dataset is turned into.

Interactions are stored sorted by (user, time), CSR-style: user ``u`` owns rows
``user_indptr[u]:user_indptr[u + 1]``. Each row carries its split code (TRAIN / VALID / TEST).
An optional ``ratings`` array keeps the explicit feedback of each row (the label source of the CTR
task, ``towernas.data.ctr``). Histories are not stored: the history of the interaction at row ``p`` is the ``max_len`` items of the
same user right before ``p`` (right-aligned, left-padded with ``pad_item == n_items``), computed on
demand, so memory stays O(interactions).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from towernas.data.features import FeatureTable
from towernas.data.ragged import Ragged

TRAIN, VALID, TEST = 0, 1, 2
SPLIT_NAMES = {"train": TRAIN, "valid": VALID, "test": TEST}


@dataclass
class EvalQueries:
    """The users evaluated on one split and what they are asked about.

    Args:
        users: (Q,) user ids with at least one interaction in the split.
        positions: (Q,) row of each user's first interaction of the split: the query sees the
            ``max_len`` items before it (``InteractionData.histories(positions)``).
        targets: row q = the user's items in the split (to be retrieved).
        exclude: row q = the user's items of earlier splits (masked from the ranking).
    """

    users: np.ndarray
    positions: np.ndarray
    targets: Ragged
    exclude: Ragged


@dataclass
class InteractionData:
    """A preprocessed dataset: re-indexed ids, timestamps, side features, splits.

    Args:
        name: dataset name (from the config).
        n_users, n_items: ids are ``0..n-1``; ``pad_item == n_items`` pads histories.
        users, items, timestamps: (N,) int64, sorted by user then time (file order breaks ties).
        user_indptr: (n_users + 1,) row offsets per user.
        split: (N,) int8 split code per interaction (TRAIN / VALID / TEST).
        user_features, item_features: encoded categorical side features.
        user_ids, item_ids: original ids (as strings) of the re-indexed users / items.
        max_len: history length used by ``histories``.
        ratings: (N,) float32 explicit rating of each row (aligned with ``users``/``items``), or None when
            the reader gives no ``rating`` column (implicit feedback only).
    """

    name: str
    n_users: int
    n_items: int
    users: np.ndarray
    items: np.ndarray
    timestamps: np.ndarray
    user_indptr: np.ndarray
    split: np.ndarray
    user_features: FeatureTable
    item_features: FeatureTable
    user_ids: np.ndarray
    item_ids: np.ndarray
    max_len: int = 20
    ratings: np.ndarray | None = None

    @property
    def pad_item(self) -> int:
        return self.n_items

    @property
    def n_interactions(self) -> int:
        return len(self.items)

    def rows(self, split: str) -> np.ndarray:
        """Row indices of the interactions in ``split`` ("train", "valid" or "test")."""
        return np.flatnonzero(self.split == SPLIT_NAMES[split])

    def histories(self, positions: np.ndarray, max_len: int | None = None) -> np.ndarray:
        """Items right before each row in ``positions``: (len(positions), max_len) int64.

        Right-aligned (most recent last); slots before the user's first interaction hold ``pad_item``.
        """
        idx, valid = self._history_rows(positions, max_len)
        return np.where(valid, self.items[idx], self.pad_item)

    def _history_rows(self, positions: np.ndarray, max_len: int | None) -> tuple[np.ndarray, np.ndarray]:
        """(B, L) rows of the items right before ``positions`` (right-aligned; clipped to 0 where ``valid`` is
        False, before the user's first interaction) and ``valid``."""
        max_len = self.max_len if max_len is None else max_len
        positions = np.asarray(positions, dtype=np.int64)
        start = self.user_indptr[self.users[positions]]  # (B,) first row of each user
        idx = positions[:, None] - max_len + np.arange(max_len)[None, :]  # (B, L)
        valid = idx >= start[:, None]
        return np.maximum(idx, 0), valid

    def train_ratings(self) -> np.ndarray:
        """``ratings`` with every non-train row's set to NaN: the feedback a model may read as an input. The
        ratings of validation and test rows are the labels of the CTR task (and the targets' feedback), so no
        input ever carries them, even for a later query."""
        return self._train_feedback[0]

    @cached_property
    def _rated_train_rows(self) -> np.ndarray:
        """The rows with a train rating, in row order (``rated_history`` indexes them by ``_train_feedback``'s
        prefix counts), computed once."""
        return np.flatnonzero(np.isfinite(self._train_feedback[0]))

    @cached_property
    def _train_feedback(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``train_ratings`` and their prefix sums and counts over rows (index p: the rows before p), computed once:
        every batch reads them (``dataclasses.replace`` with another split gives a new object, a new cache)."""
        if self.ratings is None:
            raise ValueError(f"dataset {self.name} has no ratings")
        ratings = np.where(self.split == TRAIN, self.ratings, np.nan).astype(np.float32)
        known = np.isfinite(ratings)
        return ratings, np.r_[0.0, np.cumsum(np.where(known, ratings, 0.0))], np.r_[0, np.cumsum(known)]

    def history_ratings(self, positions: np.ndarray, max_len: int | None = None) -> np.ndarray:
        """The train-split ratings (``train_ratings``) of ``histories(positions)``'s items: (len(positions),
        max_len) float32, 0.0 on padding, for a missing (NaN) rating and for a validation or test row's."""
        idx, valid = self._history_rows(positions, max_len)
        ratings = np.where(valid, self.train_ratings()[idx], 0.0)
        return np.nan_to_num(ratings, nan=0.0).astype(np.float32)

    def rated_history(self, positions: np.ndarray, max_len: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The user's latest ``max_len`` rated train rows before each of ``positions`` (not only the history
        window's: for a validation or test query these are the last ratings the train split holds): their items
        (len(positions), max_len) int64, right-aligned, ``pad_item`` on padding, and ratings float32 (0 there)."""
        max_len = self.max_len if max_len is None else max_len
        ratings, _, counts = self._train_feedback
        rated = self._rated_train_rows
        positions = np.asarray(positions, dtype=np.int64)
        first = counts[self.user_indptr[self.users[positions]]]  # rated rows before the user's first row
        k = counts[positions][:, None] - max_len + np.arange(max_len)[None, :]  # indices into ``rated``
        valid = k >= first[:, None]
        rows = rated[np.clip(k, 0, max(len(rated) - 1, 0))] if len(rated) else np.zeros(k.shape, np.int64)
        return (np.where(valid, self.items[rows], self.pad_item),
                np.where(valid, ratings[rows] if len(rated) else 0.0, 0.0).astype(np.float32))

    def mean_rating_before(self, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Over all of each user's train rows before ``positions`` (not only the last ``max_len``): the mean rating
        (0.0 with none) and how many ratings it averages, (len(positions),) float32 each (``train_ratings``)."""
        _, sums, counts = self._train_feedback
        positions = np.asarray(positions, dtype=np.int64)
        start = self.user_indptr[self.users[positions]]
        n = counts[positions] - counts[start]
        total = sums[positions] - sums[start]
        return (np.where(n > 0, total / np.maximum(n, 1), 0.0).astype(np.float32), n.astype(np.float32))

    def item_popularity(self, split: str = "train") -> np.ndarray:
        """(n_items,) interaction counts within ``split``."""
        return np.bincount(self.items[self.rows(split)], minlength=self.n_items)

    def queries(self, split: str) -> EvalQueries:
        """Evaluation queries for "valid" (excluding train items) or "test" (excluding train+valid)."""
        code = SPLIT_NAMES[split]
        if code == TRAIN:
            raise ValueError("queries() is for 'valid' or 'test'; train examples are rows('train')")
        in_split = self.split == code
        users = np.unique(self.users[in_split])
        counts = np.bincount(self.users[in_split], minlength=self.n_users)[users]
        # rows of a user are time-ordered and splits are contiguous: the first split row is the query point
        boundary = np.r_[True, (self.split[1:] != self.split[:-1]) | (self.users[1:] != self.users[:-1])]
        first_rows = np.flatnonzero(in_split & boundary)
        first_rows = first_rows[np.isin(self.users[first_rows], users)]
        targets = Ragged.from_lengths(counts, self.items[in_split])
        earlier = self.split < code
        exclude_counts = np.bincount(self.users[earlier], minlength=self.n_users)[users]
        keep = earlier & np.isin(self.users, users)
        exclude = Ragged.from_lengths(exclude_counts, self.items[keep])
        return EvalQueries(users=users, positions=first_rows, targets=targets, exclude=exclude)

    def summary(self) -> dict[str, float | int]:
        """Sizes and shape statistics, for logs and READMEs."""
        counts = np.diff(self.user_indptr)
        pop = np.sort(np.bincount(self.items, minlength=self.n_items))[::-1]
        top = max(1, self.n_items // 10)
        return {
            "users": self.n_users,
            "items": self.n_items,
            "interactions": self.n_interactions,
            "density": self.n_interactions / max(1, self.n_users * self.n_items),
            "mean_per_user": float(counts.mean()) if len(counts) else 0.0,
            "top10pct_item_share": float(pop[:top].sum() / max(1, pop.sum())),
            "train": int((self.split == TRAIN).sum()),
            "valid": int((self.split == VALID).sum()),
            "test": int((self.split == TEST).sum()),
        }
