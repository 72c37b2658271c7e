"""What samplers and add-ons may know about the training data: counts of the train split only.

Nothing here reads validation or test rows, so fitting a sampler or an add-on can never leak held-out
interactions into training.

Example:
    >>> import numpy as np
    >>> stats = TrainStats(item_counts=np.array([3, 1, 0]), user_counts=np.array([2, 2]),
    ...                    recent_item_counts=np.array([1, 1, 0]), pair_keys=np.array([0, 1, 4]))
    >>> stats.n_items, stats.n_users, stats.popularity().round(3).tolist()
    (3, 2, [0.571, 0.286, 0.143])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from towernas.data.interactions import InteractionData


@dataclass(frozen=True)
class TrainStats:
    """Train-split counts.

    Attributes:
        item_counts: (n_items,) train interactions per item.
        user_counts: (n_users,) train interactions per user.
        recent_item_counts: (n_items,) train interactions per item within the latest ``recent_share`` of
            the train rows by time (PDA's "recent popularity" at inference).
        pair_keys: sorted distinct ``user * n_items + item`` keys of the train interactions (membership tests
            such as "is this negative one of the user's known positives").
        successors: (n_items,) each item's most frequent next item in the train sequences (itself if none):
            the item correlation of CoSeRec's substitute / insert; None if not computed.
    """

    item_counts: np.ndarray
    user_counts: np.ndarray
    recent_item_counts: np.ndarray
    pair_keys: np.ndarray
    successors: np.ndarray | None = None

    @property
    def n_items(self) -> int:
        return len(self.item_counts)

    @property
    def n_users(self) -> int:
        return len(self.user_counts)

    def popularity(self, smoothing: float = 1.0) -> np.ndarray:
        """(n_items,) share of train interactions per item, add-``smoothing`` (never 0): sums to 1."""
        counts = self.item_counts.astype(np.float64) + smoothing
        return counts / counts.sum()

    @classmethod
    def from_data(cls, data: InteractionData, recent_share: float = 0.1) -> "TrainStats":
        """The counts of ``data``'s train split; "recent" = the latest ``recent_share`` of train rows by time."""
        if not 0.0 < recent_share <= 1.0:
            raise ValueError(f"recent_share={recent_share}: expected 0 < recent_share <= 1")
        rows = data.rows("train")
        items, users = data.items[rows], data.users[rows]
        times = data.timestamps[rows]
        cut = np.quantile(times, 1.0 - recent_share) if len(rows) else 0
        recent = items[times >= cut]
        return cls(item_counts=np.bincount(items, minlength=data.n_items),
                   user_counts=np.bincount(users, minlength=data.n_users),
                   recent_item_counts=np.bincount(recent, minlength=data.n_items),
                   pair_keys=np.unique(users.astype(np.int64) * data.n_items + items),
                   successors=successor_items(items, users, data.n_items))


def successor_items(items: np.ndarray, users: np.ndarray, n_items: int) -> np.ndarray:
    """(n_items,) for each item its most frequent successor in the users' train sequences (itself when it
    has none): CoSeRec's item correlation, from train rows only (``items``/``users`` time-ordered per user)."""
    same = users[1:] == users[:-1]
    a, b = items[:-1][same].astype(np.int64), items[1:][same].astype(np.int64)
    out = np.arange(n_items, dtype=np.int64)
    if len(a) == 0:
        return out
    keys, counts = np.unique(a * n_items + b, return_counts=True)
    src, dst = keys // n_items, keys % n_items
    order = np.lexsort((-counts, src))  # by source, most frequent successor first
    first = np.r_[True, src[order][1:] != src[order][:-1]]
    out[src[order][first]] = dst[order][first]
    return out

