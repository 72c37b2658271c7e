"""Canonical scores and the (-score, id) ordering shared by every top-k backend.

Backends (faiss, torch BLAS) compute inner products in float32 with an implementation-defined summation
order, so the same (query, item) pair can get scores that differ in the last bits between backends,
devices and batch sizes. To make rankings reproducible we re-score the few candidates a backend returns
with one fixed recipe, the *canonical score*:

    s(q, v) = float32( (((q_0 v_0 + q_1 v_1) + q_2 v_2) + ... + q_{d-1} v_{d-1}) )   # in float64

Every product of two float32 numbers is exact in float64, and the additions run in a fixed order, so
``s`` is bit-identical for any batch shape. It is computed here, in numpy on the CPU, for every backend
and device. Rankings then sort by ``(-s, item id)``: equal scores are ordered by the smaller item id.
"""

from __future__ import annotations

import numpy as np
import torch

_UNIT_ROUNDOFF_FP32 = 2.0**-24
# extra candidates fetched per query beyond k (+ its exclusions), so the canonical re-ordering sees past
# float32 near-ties at the boundary (exact top-k: its guard then almost never fires on untied data)
RESCORE_MARGIN = 8


def excluded_mask(ids: np.ndarray, excl_rows: np.ndarray, excl_vals: np.ndarray, n_items: int) -> np.ndarray:
    """(B, m) bool: True where ``ids[r, j]`` (in [0, n_items)) is one of row r's excluded items.

    ``excl_rows`` / ``excl_vals`` are the (row, item) pairs; each candidate is looked up by binary search
    in the sorted keys ``row * n_items + item`` (no (B, n_items) mask is ever built).

    Example:
        >>> excluded_mask(np.array([[0, 2], [2, 1]]), np.array([0, 1]), np.array([2, 2]), n_items=3).tolist()
        [[False, True], [True, False]]
    """
    if len(excl_rows) == 0:
        return np.zeros(ids.shape, dtype=bool)
    excluded = np.sort(np.asarray(excl_rows, dtype=np.int64) * n_items + excl_vals)
    keys = np.arange(len(ids), dtype=np.int64)[:, None] * n_items + ids  # (B, m)
    pos = np.minimum(np.searchsorted(excluded, keys), len(excluded) - 1)
    return excluded[pos] == keys


def canonical_scores(queries: np.ndarray, items_t: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Canonical inner products of each query with its candidate items.

    Args:
        queries: (B, d) float32.
        items_t: (d, N) float32, the item matrix transposed (one contiguous row per dimension).
        ids: (B, L) int64 item indices in [0, N).

    Returns:
        (B, L) float32 canonical scores (see the module docstring).
    """
    q64 = queries.astype(np.float64)  # (B, d)
    acc = np.zeros(ids.shape, dtype=np.float64)  # (B, L)
    prod = np.empty(ids.shape, dtype=np.float64)
    for j in range(items_t.shape[0]):
        np.multiply(items_t[j].take(ids), q64[:, j : j + 1], out=prod)  # exact: float32 x float32
        acc += prod  # one rounding per step, always in the order j = 0, 1, ..., d-1
    return acc.astype(np.float32)


def score_error_bound(queries: np.ndarray, max_item_norm: float) -> np.ndarray:
    """(B,) bound on |backend float32 score - canonical score| for every item of each query.

    Any float32 dot product of length d, in any summation order (BLAS, SIMD, FMA), is within
    d·u/(1-d·u)·Σ|q_i v_i| of the exact value, and Σ|q_i v_i| <= |q|·|v| (Cauchy-Schwarz); the canonical
    score is within u·|q·v| of it. We use 2·(d+2)·u·|q|·max|v|, with u widened when torch is allowed to
    run float32 matmuls in TF32/bfloat16 (``torch.set_float32_matmul_precision``).
    """
    d = queries.shape[1]
    norms = np.linalg.norm(queries.astype(np.float64), axis=1)
    return 2.0 * (d + 2) * _matmul_unit_roundoff() * max_item_norm * norms


def _matmul_unit_roundoff() -> float:
    precision = torch.get_float32_matmul_precision()
    if precision == "medium":  # bfloat16 inputs
        return 2.0**-8
    tf32 = torch.backends.cuda.matmul.allow_tf32 or precision == "high"
    return 2.0**-11 if tf32 else _UNIT_ROUNDOFF_FP32


def sort_by_score_then_id(scores: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sort each row by descending score, equal scores by ascending id; empty slots go last.

    Args:
        scores: (B, L) float32; -inf marks an empty slot.
        ids: (B, L) int64; -1 marks an empty slot.

    Returns:
        (ids, scores), both (B, L), with empty slots as (-1, -inf) at the end of each row.
    """
    keyed = np.where(ids < 0, np.iinfo(np.int64).max, ids)
    order = np.lexsort((keyed, -scores), axis=1)  # last key is primary
    return np.take_along_axis(ids, order, 1), np.take_along_axis(scores, order, 1)


def first_k_per_row(rows: np.ndarray, n_rows: int, k: int, ids: np.ndarray, scores: np.ndarray):
    """Scatter flat (row, id, score) entries, grouped by ascending ``rows`` and already ordered within a
    row, into the first k slots of (n_rows, k) arrays padded with (-1, -inf)."""
    counts = np.bincount(rows, minlength=n_rows)
    pos = np.arange(len(rows)) - np.repeat(np.cumsum(counts) - counts, counts)
    keep = pos < k
    out_ids = np.full((n_rows, k), -1, dtype=np.int64)
    out_scores = np.full((n_rows, k), -np.inf, dtype=np.float32)
    out_ids[rows[keep], pos[keep]] = ids[keep]
    out_scores[rows[keep], pos[keep]] = scores[keep]
    return out_ids, out_scores
