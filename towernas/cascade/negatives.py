"""Which negatives a cascade's ranker trains on (``cascade.negatives``), given each training query's positive
and the retriever's top-K0 candidates for it.

- ``uniform``: n items uniform over the catalogue, independent of the retriever (the common default).
- ``top``: the retriever's n best candidates (the hardest the ranker will meet at serving time).
- ``top_random``: half from the retriever's candidates (uniform over its K0 list), half uniform over the
  catalogue: the ranker sees both its input distribution and easy contrast.
- ``dns``: dynamic negative sampling (Zhang et al. 2013) over the retriever's list: a pool of ``pool``
  candidates drawn uniformly from the K0 list, scored by the ranker being trained, the n highest kept.

The positive is never a negative: a candidate equal to it is replaced by the next one of the list (``top``),
or by a uniform draw other than it (the rest). Rows are (Q, n) int64 item ids.

**Known positives are not negatives** (``without_later_train_items``, ``cascade.mask_known_positives``): a
training query sits inside the user's train window, and the retriever's best candidates for it are often
items the same user consumes later in that window (56% of the top 8 on the embedded dataset, against 7% of
uniform draws). Those are labelled positives of the training data, so the retriever-list modes draw from
the list without them. Only train-split items are removed: validation and test stay unseen.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from towernas.runs.registry import Registry

Scorer = Callable[[np.ndarray], np.ndarray]  # items (B, C) of the batch's queries -> the ranker's scores (B, C)
MODES: Registry[Callable] = Registry("negative mode", key="cascade.negatives")


def _not_positive(rng: np.random.Generator, items: np.ndarray, positives: np.ndarray, n_items: int) -> np.ndarray:
    """``items`` (B, n) with every entry equal to its row's positive redrawn uniformly among the other items."""
    clash = items == positives[:, None]
    if clash.any():
        shift = rng.integers(1, n_items, int(clash.sum()))  # never 0: never the positive again
        items = items.copy()
        items[clash] = (positives[:, None].repeat(items.shape[1], 1)[clash] + shift) % n_items
    return items


def _without_positive(candidates: np.ndarray, positives: np.ndarray) -> np.ndarray:
    """Each row of ``candidates`` with its positive removed, still in rank order and left-packed (-1 pads)."""
    ranked = np.where(candidates == positives[:, None], -1, candidates)
    order = np.argsort(ranked < 0, axis=1, kind="stable")  # valid first, in rank order
    return np.take_along_axis(ranked, order, 1)


def _from_candidates(rng, candidates: np.ndarray, n: int) -> np.ndarray:
    """n draws per row, uniform over the row's valid (>= 0) candidates (with replacement)."""
    valid = np.maximum((candidates >= 0).sum(1), 1)  # candidates are left-packed: -1 pads the tail
    picks = (rng.random((len(candidates), n)) * valid[:, None]).astype(np.int64)
    return np.take_along_axis(candidates, picks, 1)


@MODES.register("uniform")
def uniform(rng, positives, candidates, n, n_items, scorer=None, pool=0) -> np.ndarray:
    return _not_positive(rng, rng.integers(0, n_items, (len(positives), n)), positives, n_items)


@MODES.register("top")
def top(rng, positives, candidates, n, n_items, scorer=None, pool=0) -> np.ndarray:
    best = _without_positive(candidates, positives)[:, :n]
    short = best < 0  # fewer than n candidates: fill uniformly
    best[short] = rng.integers(0, n_items, int(short.sum()))
    return _not_positive(rng, best, positives, n_items)


@MODES.register("top_random")
def top_random(rng, positives, candidates, n, n_items, scorer=None, pool=0) -> np.ndarray:
    hard = _from_candidates(rng, _without_positive(candidates, positives), n - n // 2)
    easy = rng.integers(0, n_items, (len(positives), n // 2))
    both = np.concatenate([hard, easy], 1)
    both[both < 0] = rng.integers(0, n_items, int((both < 0).sum()))
    return _not_positive(rng, both, positives, n_items)


@MODES.register("dns")
def dns(rng, positives, candidates, n, n_items, scorer: Scorer | None = None, pool: int = 0) -> np.ndarray:
    if scorer is None:
        raise ValueError("cascade.negatives=dns needs the ranker's scores")
    drawn = _from_candidates(rng, _without_positive(candidates, positives), max(pool, n))
    drawn[drawn < 0] = rng.integers(0, n_items, int((drawn < 0).sum()))
    drawn = _not_positive(rng, drawn, positives, n_items)
    scores = scorer(drawn)  # (B, pool)
    hardest = np.argsort(-scores, axis=1, kind="stable")[:, :n]
    return np.take_along_axis(drawn, hardest, 1)


def without_later_train_items(data, rows: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """``candidates`` (Q, K) of the training queries at interaction ``rows`` with every item the same user
    consumes later in the train split set to -1 and the rest left-packed in rank order."""
    from towernas.data.interactions import TRAIN

    users = data.users[rows]
    train_count = np.bincount(data.users[data.split == TRAIN], minlength=data.n_users)
    train_end = data.user_indptr[users] + train_count[users]  # train rows come first in each user's rows
    out = candidates.copy()
    for i, (row, end) in enumerate(zip(rows.tolist(), train_end.tolist())):
        if end > row + 1:
            out[i, np.isin(out[i], data.items[row + 1:end])] = -1
    order = np.argsort(out < 0, axis=1, kind="stable")
    return np.take_along_axis(out, order, 1)


def sample_negatives(mode: str, rng: np.random.Generator, positives: np.ndarray, candidates: np.ndarray, n: int,
                     n_items: int, scorer: Scorer | None = None, pool: int = 0) -> np.ndarray:
    """(B, n) negatives of ``mode`` (see the module docstring) for positives (B,) and candidates (B, K0)."""
    return MODES.get(mode)(rng, positives, candidates, n, n_items, scorer=scorer, pool=pool)
