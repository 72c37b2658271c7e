"""Popularity-bias metrics of top-k lists, and the intervened ("unbiased") test split.

With popularity phi(i) = item i's number of train interactions and L_u a user's top-k list:

- ``arp@k``: average recommendation popularity, mean over users of mean_{i in L_u} phi(i)
  (Abdollahpouri et al. 2019; users with an empty list are left out);
- ``coverage@k``: |union of all L_u| / n_items, the share of the catalogue recommended to anyone;
- ``tail_share@k``: the share of recommended slots holding a *tail* item, the tail being the least popular
  80% of the catalogue (items sorted by phi ascending, ties by id, the first floor(0.8 n_items)).

**Intervened test split** (``intervened_queries``): the test interactions resampled inversely to item
popularity, the stand-in for a randomly exposed test set used by the debiasing literature (Bonner &
Vasile 2018; Zheng et al. 2021 build theirs by sampling test interactions with probability proportional
to 1 / popularity). Each (user, test item) pair is kept with probability

    pi_i = min(1, c / (phi(i) + 1)),      c = the median of phi + 1 over all test pairs,

so pairs of items at or below the median popularity are all kept and more popular items are thinned in
proportion to their popularity; the draw is seeded (``seed``) so every model sees the same subset. Users
left without a test item are dropped; exclusions are the test split's. ``unbiased/recall@k`` and
``unbiased/ndcg@k`` are the usual metrics of the same ranked lists on that subset.
"""

from __future__ import annotations

import numpy as np

from towernas.data.interactions import EvalQueries
from towernas.data.ragged import Ragged
from towernas.eval.metrics import mean_metrics

TAIL_SHARE = 0.8  # the tail is the least popular 80% of items


def tail_items(item_counts: np.ndarray, share: float = TAIL_SHARE) -> np.ndarray:
    """(n_items,) bool: is the item among the least popular ``share`` of the catalogue."""
    order = np.lexsort((np.arange(len(item_counts)), item_counts))  # by count, then id
    tail = np.zeros(len(item_counts), dtype=bool)
    tail[order[: int(np.floor(share * len(item_counts)))]] = True
    return tail


def popularity_bias(topk_ids: np.ndarray, item_counts: np.ndarray, k: int = 50) -> dict[str, float]:
    """``arp@k``, ``coverage@k``, ``tail_share@k`` of (Q, >= k) ranked ids (-1 = empty slot, ignored).

    Example:
        >>> out = popularity_bias(np.array([[0, 1], [0, 2]]), np.array([10, 1, 0, 0, 5]), k=2)
        >>> out["arp@2"], out["coverage@2"], out["tail_share@2"]
        (5.25, 0.6, 0.5)
    """
    ids = np.asarray(topk_ids)[:, :k]
    real = ids >= 0
    phi = np.where(real, item_counts[np.maximum(ids, 0)], 0).astype(np.float64)
    listed = real.any(1)  # users with at least one recommended item (an empty list has no popularity)
    per_user = phi.sum(1)[listed] / real.sum(1)[listed]
    tail = tail_items(item_counts)
    n_real = max(int(real.sum()), 1)
    return {f"arp@{k}": float(per_user.mean()) if len(per_user) else 0.0,
            f"coverage@{k}": float(len(np.unique(ids[real])) / len(item_counts)),
            f"tail_share@{k}": float((tail[np.maximum(ids, 0)] & real).sum() / n_real)}


def intervened_rows(queries: EvalQueries, item_counts: np.ndarray, seed: int = 0) -> tuple[np.ndarray, Ragged]:
    """The query rows kept by the intervened split and their kept targets (see the module docstring)."""
    targets = queries.targets
    phi = item_counts[targets.values].astype(np.float64) + 1.0
    c = float(np.median(phi)) if len(phi) else 1.0
    keep = np.random.default_rng(seed).random(len(phi)) < np.minimum(1.0, c / phi)
    row_of = targets.row_ids()
    kept_rows = np.unique(row_of[keep])
    lists = [[] for _ in range(len(targets))]
    for r, item in zip(row_of[keep], targets.values[keep]):
        lists[r].append(int(item))
    return kept_rows, Ragged.from_lists(lists[r] for r in kept_rows)


def intervened_queries(queries: EvalQueries, item_counts: np.ndarray, seed: int = 0) -> EvalQueries:
    """The intervened subset of ``queries`` (users without a kept target dropped)."""
    rows, targets = intervened_rows(queries, item_counts, seed)
    return EvalQueries(queries.users[rows], queries.positions[rows], targets,
                       Ragged.from_lists(queries.exclude[i] for i in rows))


def bias_metrics(topk_ids: np.ndarray, queries: EvalQueries, item_counts: np.ndarray, k: int,
                 ks=None, seed: int = 0) -> dict[str, float]:
    """``popularity_bias`` at ``k`` plus ``unbiased_metrics`` at ``ks`` (default ``[k]``) of the same lists."""
    return {**popularity_bias(topk_ids, item_counts, k),
            **unbiased_metrics(topk_ids, queries, item_counts, [k] if ks is None else ks, seed)}


def unbiased_metrics(topk_ids: np.ndarray, queries: EvalQueries, item_counts: np.ndarray, ks,
                     seed: int = 0) -> dict[str, float]:
    """``unbiased/recall@k`` and ``unbiased/ndcg@k`` (and the kept ``unbiased/n_users``) of ranked lists
    computed for every row of ``queries``, scored on the intervened subset."""
    rows, targets = intervened_rows(queries, item_counts, seed)
    metrics = mean_metrics(np.asarray(topk_ids)[rows], targets, ks)
    out = {f"unbiased/{name}": value for name, value in metrics.items() if name.split("@")[0] in ("recall", "ndcg")}
    out["unbiased/n_users"] = len(rows)
    return out
