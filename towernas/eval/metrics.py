"""Top-K ranking metrics for full-ranking evaluation, vectorized over users.

For one user with ranked list r_1..r_K (``topk_ids`` row) and de-duplicated held-out set T
(``targets`` row, non-empty), hit_i = [r_i in T]:

    Recall@K    = sum_{i<=K} hit_i / |T|
    Precision@K = sum_{i<=K} hit_i / K
    HitRate@K   = [any hit_i, i <= K]
    MRR@K       = 1 / (rank of the first hit) if it is <= K, else 0
    NDCG@K      = DCG@K / IDCG@K,  DCG@K = sum_{i<=K} hit_i / log2(i + 1),
                  IDCG@K = sum_{i<=min(K, |T|)} 1 / log2(i + 1)   (binary relevance)

Duplicate ids inside a targets row are counted once (a user who bought an item twice has one relevant
item). ``topk_ids`` must not repeat an id within a row; -1 marks an empty slot and never hits.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from towernas.data.ragged import Ragged

METRICS = ("recall", "ndcg", "hitrate", "mrr", "precision")


def per_query_metrics(topk_ids: np.ndarray, targets: Ragged, ks: Sequence[int]) -> dict[str, np.ndarray]:
    """Per-user metrics: {"recall@10": (Q,) float64, ...} for every metric in METRICS and K in ks.

    Args:
        topk_ids: (Q, K_max) int ranked item ids, best first; -1 = empty slot.
        targets: Ragged with Q non-empty rows of held-out item ids.
        ks: cut-offs, each in 1..K_max.

    Example:
        >>> per_query_metrics(np.array([[5, 7, 9]]), Ragged.from_lists([[9, 4]]), ks=[3])["recall@3"]
        array([0.5])
    """
    topk_ids = np.asarray(topk_ids, dtype=np.int64)
    hits, n_targets = _hits(topk_ids, targets)  # (Q, K_max) bool, (Q,)
    k_max = topk_ids.shape[1]
    if not ks or min(ks) < 1 or max(ks) > k_max:
        raise ValueError(f"every K in ks={list(ks)} must be in 1..{k_max} (the width of topk_ids)")
    discount = 1.0 / np.log2(np.arange(2, k_max + 2))  # (K_max,) 1/log2(rank+1), rank = 1..K_max
    ideal = np.concatenate([[0.0], np.cumsum(discount)])  # ideal[n] = IDCG with n relevant items
    n_hits = np.cumsum(hits, axis=1)  # (Q, K_max)
    dcg = np.cumsum(hits * discount, axis=1)  # (Q, K_max)
    first = np.where(hits.any(axis=1), hits.argmax(axis=1), k_max)  # 0-based rank of the first hit
    out: dict[str, np.ndarray] = {}
    for k in ks:
        h = n_hits[:, k - 1].astype(np.float64)
        out[f"recall@{k}"] = h / n_targets
        out[f"ndcg@{k}"] = dcg[:, k - 1] / ideal[np.minimum(k, n_targets)]
        out[f"hitrate@{k}"] = (h > 0).astype(np.float64)
        out[f"mrr@{k}"] = np.where(first < k, 1.0 / (first + 1), 0.0)
        out[f"precision@{k}"] = h / k
    return out


def mean_metrics(topk_ids: np.ndarray, targets: Ragged, ks: Sequence[int]) -> dict[str, float]:
    """Means over users of ``per_query_metrics``: {"recall@10": float, ...}."""
    return {name: float(v.mean()) for name, v in per_query_metrics(topk_ids, targets, ks).items()}


def _hits(topk_ids: np.ndarray, targets: Ragged) -> tuple[np.ndarray, np.ndarray]:
    """hits (Q, K_max) bool = topk_ids[q, i] in set(targets[q]); and |set(targets[q])| (Q,)."""
    if topk_ids.ndim != 2:
        raise ValueError(f"topk_ids must be 2-D (Q, K), got shape {topk_ids.shape}")
    n_q = topk_ids.shape[0]
    if len(targets) != n_q:
        raise ValueError(f"targets has {len(targets)} rows but topk_ids has {n_q}")
    if len(targets.values) and targets.values.min() < 0:
        raise ValueError("targets must hold non-negative item ids")
    ranked = np.sort(topk_ids, axis=1)
    if np.any((ranked[:, 1:] == ranked[:, :-1]) & (ranked[:, 1:] >= 0)):
        raise ValueError("topk_ids repeats an item id within a row")
    # one int64 key per (user, item): sorted unique keys de-duplicate targets and allow binary search
    span = max(int(topk_ids.max(initial=-1)), int(targets.values.max(initial=-1))) + 1
    keys = np.unique(targets.row_ids() * span + targets.values)
    n_targets = np.bincount(keys // span, minlength=n_q) if span else np.zeros(n_q, dtype=np.int64)
    if np.any(n_targets == 0):
        raise ValueError(f"{int(np.sum(n_targets == 0))} users have no targets; drop them before evaluating")
    query = np.arange(n_q, dtype=np.int64)[:, None] * span + topk_ids  # (Q, K_max)
    pos = np.minimum(np.searchsorted(keys, query), len(keys) - 1)
    return (keys[pos] == query) & (topk_ids >= 0), n_targets
