"""CTR metrics over labelled (user, item) pairs: AUC, GAUC and logloss.

For scores s_i (logits or probabilities: AUC only needs their order) and labels y_i in {0, 1}:

    AUC     = P(s_pos > s_neg) + 0.5 P(s_pos = s_neg)
            = (sum of the positives' mid-ranks - n_pos (n_pos + 1) / 2) / (n_pos n_neg)   (Mann-Whitney U)
    GAUC    = sum_u n_u AUC_u / sum_u n_u   over users u whose pairs hold both classes; n_u = the user's
              number of pairs. Users with one class only have no AUC and are skipped (and counted in
              ``gauc_users_skipped``), as in DIN (Zhou et al. 2018).
    logloss = -mean_i [y_i log p_i + (1 - y_i) log(1 - p_i)],  p_i = sigmoid(logit_i), computed from the
              logits with log-sigmoid so a confident wrong prediction costs a large but finite loss.

Ties get mid-ranks, so a constant scorer has AUC 0.5 exactly.

Example:
    >>> import numpy as np
    >>> round(auc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1])), 4)
    0.75
"""

from __future__ import annotations

import numpy as np


def _mid_ranks(scores: np.ndarray, groups: np.ndarray | None = None) -> np.ndarray:
    """1-based ranks of ``scores`` ascending within each group (one group if None), ties given the mean of
    the ranks they span."""
    groups = np.zeros(len(scores), dtype=np.int64) if groups is None else groups
    order = np.lexsort((scores, groups))
    s, g = scores[order], groups[order]
    new_group = np.r_[True, g[1:] != g[:-1]]
    starts = new_group | np.r_[True, s[1:] != s[:-1]]  # a tie run ends at a group's end too
    run = np.cumsum(starts) - 1
    first = np.flatnonzero(starts)
    last = np.r_[first[1:], len(scores)] - 1
    group_start = np.maximum.accumulate(np.where(new_group, np.arange(len(scores)), 0))
    mid = (first + last) / 2.0 + 1.0 - group_start[first]
    ranks = np.empty(len(scores))
    ranks[order] = mid[run]
    return ranks


def _check(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scores, labels = np.asarray(scores, dtype=np.float64).ravel(), np.asarray(labels).ravel()
    if scores.shape != labels.shape:
        raise ValueError(f"scores {scores.shape} and labels {labels.shape} must have the same length")
    if not np.isin(labels, (0, 1)).all():
        raise ValueError("labels must be 0 or 1")
    return scores, labels.astype(np.float64)


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve of ``scores`` for binary ``labels``; NaN if one class is absent."""
    scores, labels = _check(scores, labels)
    n_pos = labels.sum()
    n_neg = len(labels) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    rank_sum = _mid_ranks(scores)[labels == 1].sum()
    return float((rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def gauc(scores: np.ndarray, labels: np.ndarray, users: np.ndarray) -> tuple[float, int]:
    """Pair-weighted mean of per-user AUC and the number of users skipped for having one class only."""
    scores, labels = _check(scores, labels)
    _, users = np.unique(np.asarray(users).ravel(), return_inverse=True)
    n = np.bincount(users).astype(np.float64)
    n_pos = np.bincount(users, weights=labels, minlength=len(n))
    n_neg = n - n_pos
    rank_sum = np.bincount(users, weights=_mid_ranks(scores, users) * labels, minlength=len(n))
    both = (n_pos > 0) & (n_neg > 0)
    if not both.any():
        return float("nan"), len(n)
    per_user = (rank_sum[both] - n_pos[both] * (n_pos[both] + 1) / 2) / (n_pos[both] * n_neg[both])
    return float((n[both] * per_user).sum() / n[both].sum()), int((~both).sum())


def logloss(logits: np.ndarray, labels: np.ndarray) -> float:
    """Mean binary cross-entropy of ``sigmoid(logits)`` against ``labels``."""
    logits, labels = _check(logits, labels)
    # -log sigmoid(z) = softplus(-z); -log(1 - sigmoid(z)) = softplus(z)
    return float(np.mean(labels * np.logaddexp(0.0, -logits) + (1 - labels) * np.logaddexp(0.0, logits)))


def ctr_metrics(logits: np.ndarray, labels: np.ndarray, users: np.ndarray) -> dict[str, float]:
    """``{"auc", "gauc", "logloss", "gauc_users_skipped", "pairs", "positive_rate"}`` of one split."""
    value, skipped = gauc(logits, labels, users)
    labels = np.asarray(labels)
    return {"auc": auc(logits, labels), "gauc": value, "logloss": logloss(logits, labels),
            "gauc_users_skipped": skipped, "pairs": int(labels.size), "positive_rate": float(labels.mean())}
