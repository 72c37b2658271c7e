"""Labelled pairs of the ranker tasks, per split: CTR labels (which interactions are positives; the CTR protocol of
DESIGN.md) and explicit ratings (the rating task).

Two kinds of label (``dataset.ctr.label``):

- ``rating``: explicit feedback. Row ``p`` is positive (1.0) when ``data.ratings[p] >= threshold``, else
  negative (0.0); a missing (NaN) rating counts as negative. Needs a reader that gives ratings.
- ``implicit``: every interaction is positive (1.0); the trainer samples the negatives.

The rating task (``rating_pairs``) labels every rated row with its rating centred on the train split's mean
(``RatingScale``): a ranker then predicts ``mean + score``, and starts at the mean.

The pairs of a split are the rows of that split of the dataset's own per-user chronological split
(``InteractionData.split``), so the CTR task and retrieval share train/valid/test. A ranker scoring row
``p`` sees the history ``data.histories(rows)``, the items right before it.

Example:
    >>> import numpy as np, pandas as pd
    >>> from towernas.data import RawDataset
    >>> from towernas.data.preprocess import Preprocessing, preprocess
    >>> df = pd.DataFrame({"user": [1] * 4, "item": [1, 2, 3, 4], "timestamp": [1, 2, 3, 4],
    ...                    "rating": [5.0, 2.0, 4.0, 3.0]})
    >>> data = preprocess(RawDataset(df), Preprocessing(), "toy", max_len=2)
    >>> ctr_labels(data, "rating", 4.0).tolist()
    [1.0, 0.0, 1.0, 0.0]
    >>> pairs = ctr_pairs(data, "rating", 4.0)
    >>> pairs["train"].rows.tolist(), pairs["test"].labels.tolist()
    ([0, 1], [0.0])
    >>> scale = RatingScale.of(data)
    >>> scale.mean, scale.low, scale.high, rating_pairs(data, scale)["test"].labels.tolist()
    (3.5, 2.0, 5.0, [-0.5])
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from towernas.data.errors import DataError
from towernas.data.interactions import SPLIT_NAMES, InteractionData

LABELS = ("rating", "implicit")


def check_ctr(label: str, threshold: float) -> None:
    """Raise a one-line DataError naming ``dataset.ctr.*`` if ``label`` or ``threshold`` is invalid."""
    if label not in LABELS:
        raise DataError(f"dataset.ctr.label={label!r}: expected one of {list(LABELS)}")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not math.isfinite(threshold):
        raise DataError(f"dataset.ctr.threshold={threshold!r}: expected a finite number")


def ctr_labels(data: InteractionData, label: str = "rating", threshold: float = 4.0) -> np.ndarray:
    """(N,) float32 0/1 label of every row of ``data`` (see the module docstring).

    Raises DataError if ``label="rating"`` and ``data`` has no ratings, or on an invalid label/threshold.
    """
    check_ctr(label, threshold)
    if label == "implicit":
        return np.ones(data.n_interactions, dtype=np.float32)
    if data.ratings is None:
        raise DataError(f"dataset {data.name} has no ratings; set dataset.ctr.label=implicit "
                        "or use a reader that gives ratings")
    return (data.ratings >= threshold).astype(np.float32)


@dataclass
class CtrPairs:
    """The labelled (user, item) pairs of one split, in row order (by user, then time).

    Args:
        rows: (P,) int64 rows of the InteractionData (``data.histories(rows)`` gives their histories).
        users, items: (P,) int64 ids of each pair.
        labels: (P,) float32: 0/1 (CTR) or a centred rating (``rating_pairs``).
    """

    rows: np.ndarray
    users: np.ndarray
    items: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def positive_rate(self) -> float:
        """Share of positive pairs (nan for an empty split)."""
        return float(self.labels.mean()) if len(self.labels) else math.nan


def ctr_pairs(data: InteractionData, label: str = "rating", threshold: float = 4.0) -> dict[str, CtrPairs]:
    """``{"train" | "valid" | "test": CtrPairs}`` of ``data`` with ``ctr_labels(data, label, threshold)``."""
    labels = ctr_labels(data, label, threshold)
    out = {}
    for split in SPLIT_NAMES:
        rows = data.rows(split)
        out[split] = CtrPairs(rows=rows, users=data.users[rows], items=data.items[rows], labels=labels[rows])
    return out


def with_sampled_negatives(pairs: CtrPairs, n_items: int, per_positive: int, seed: int) -> CtrPairs:
    """Implicit labels: ``pairs`` (all positive) plus ``per_positive`` uniform negatives per pair, each negative
    sharing its positive's query (same row, so the same history and user). Uniform over the catalogue, a
    sampled item may be one the user interacted with elsewhere (probability ≈ |history| / n_items).

    Example:
        >>> p = CtrPairs(np.array([3, 4]), np.array([0, 0]), np.array([5, 6]), np.ones(2, np.float32))
        >>> out = with_sampled_negatives(p, n_items=10, per_positive=2, seed=0)
        >>> out.rows.tolist(), out.labels.tolist()
        ([3, 4, 3, 3, 4, 4], [1.0, 1.0, 0.0, 0.0, 0.0, 0.0])
    """
    if per_positive < 1:
        raise DataError(f"rank.negatives={per_positive}: implicit labels need at least 1 sampled negative per pair")
    rng = np.random.default_rng(seed)
    rows = np.repeat(pairs.rows, per_positive)
    negatives = rng.integers(0, n_items, len(rows))
    return CtrPairs(rows=np.concatenate([pairs.rows, rows]), users=np.concatenate([pairs.users, np.repeat(pairs.users, per_positive)]),
                    items=np.concatenate([pairs.items, negatives]),
                    labels=np.concatenate([pairs.labels, np.zeros(len(rows), np.float32)]))


@dataclass(frozen=True)
class RatingScale:
    """The train split's ratings: their mean (the centre every rating label is taken from) and range (where a
    predicted rating is clipped)."""

    mean: float
    low: float
    high: float

    @classmethod
    def of(cls, data: InteractionData) -> RatingScale:
        """``data``'s train ratings; a one-line DataError if it has none (a missing, NaN, rating is skipped)."""
        train = data.ratings[data.rows("train")] if data.ratings is not None else np.zeros(0)
        train = train[np.isfinite(train)]
        if not len(train):
            raise DataError(f"rank.task=rating: dataset {data.name} has no explicit ratings in its train split; "
                            "use rank.task=ctr or a reader that gives ratings")
        return cls(float(train.mean()), float(train.min()), float(train.max()))


def rating_pairs(data: InteractionData, scale: RatingScale) -> dict[str, CtrPairs]:
    """``{"train" | "valid" | "test": CtrPairs}`` of every rated row of each split, labelled ``rating -
    scale.mean`` (float32); rows without a rating (NaN) are left out."""
    if data.ratings is None:
        raise DataError(f"rank.task=rating: dataset {data.name} has no ratings")
    out = {}
    for split in SPLIT_NAMES:
        rows = data.rows(split)
        rows = rows[np.isfinite(data.ratings[rows])]
        out[split] = CtrPairs(rows=rows, users=data.users[rows], items=data.items[rows],
                              labels=(data.ratings[rows] - scale.mean).astype(np.float32))
    return out
