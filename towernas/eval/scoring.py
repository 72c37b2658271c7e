"""Canonical scores and the (-score, id) ordering shared by every top-k backend.

Backends (faiss, torch BLAS) compute inner products in float32 with an implementation-defined summation
order, so the same (query, item) pair can get scores that differ in the last bits between backends,
devices and batch sizes. To make rankings reproducible we re-score the few candidates a backend returns
with one fixed recipe, the *canonical score*:

    s(q, v) = float32( (((q_0 v_0 + q_1 v_1) + q_2 v_2) + ... + q_{d-1} v_{d-1}) )   # in float64

Every product of two float32 numbers is exact in float64, and the additions run in a fixed order, so
``s`` is bit-identical wherever IEEE float64 is (CPU or CUDA, any batch shape). Rankings then sort by
``(-s, item id)``: equal scores are ordered by the smaller item id.
"""

from __future__ import annotations

import torch

_UNIT_ROUNDOFF_FP32 = 2.0**-24


def canonical_scores(queries: torch.Tensor, items_t: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """Canonical inner products of each query with its candidate items.

    Args:
        queries: (B, d) float32.
        items_t: (d, N) float32, the item matrix transposed (one contiguous row per dimension).
        ids: (B, L) int64 item indices in [0, N).

    Returns:
        (B, L) float32 canonical scores (see the module docstring).
    """
    q64 = queries.double()  # (B, d)
    acc = torch.zeros(ids.shape, dtype=torch.float64, device=ids.device)  # (B, L)
    for j in range(items_t.shape[0]):
        # float32 * float32 is exact in float64, so mul+add and a fused multiply-add agree bit for bit.
        acc.addcmul_(items_t[j][ids].double(), q64[:, j : j + 1])
    return acc.float()


def score_error_bound(queries: torch.Tensor, max_item_norm: float) -> torch.Tensor:
    """(B,) float32 bound on |backend float32 score - canonical score| for every item of each query.

    Any float32 dot product of length d, in any summation order (BLAS, SIMD, FMA), is within
    d·u/(1-d·u)·Σ|q_i v_i| of the exact value, and Σ|q_i v_i| <= |q|·|v| (Cauchy-Schwarz); the canonical
    score is within u·|q·v| of it. We use 2·(d+2)·u·|q|·max|v|, with u widened when torch is allowed to
    run float32 matmuls in TF32/bfloat16 (``torch.set_float32_matmul_precision``).
    """
    d = queries.shape[1]
    u = _matmul_unit_roundoff()
    return (2.0 * (d + 2) * u * max_item_norm) * torch.linalg.vector_norm(queries.float(), dim=1)


def _matmul_unit_roundoff() -> float:
    precision = torch.get_float32_matmul_precision()
    if precision == "medium":  # bfloat16 inputs
        return 2.0**-8
    tf32 = torch.backends.cuda.matmul.allow_tf32 or precision == "high"
    return 2.0**-11 if tf32 else _UNIT_ROUNDOFF_FP32


def sort_by_score_then_id(scores: torch.Tensor, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Sort each row by descending score, equal scores by ascending id; -inf entries (ids -1) go last.

    Args:
        scores: (B, L) float32; -inf marks an empty slot.
        ids: (B, L) int64; -1 marks an empty slot.

    Returns:
        (ids, scores), both (B, L), with empty slots as (-1, -inf) at the end of each row.
    """
    empty = scores == float("-inf")
    sentinel = torch.iinfo(torch.int64).max
    keyed = torch.where(empty, torch.full_like(ids, sentinel), ids)
    keyed, by_id = torch.sort(keyed, dim=1)  # ties later resolved by this order
    scores = torch.gather(scores, 1, by_id)
    scores, by_score = torch.sort(scores, dim=1, descending=True, stable=True)
    keyed = torch.gather(keyed, 1, by_score)
    return torch.where(keyed == sentinel, torch.full_like(keyed, -1), keyed), scores


def first_k_per_row(rows: torch.Tensor, n_rows: int, k: int, *columns: torch.Tensor) -> list[torch.Tensor]:
    """Scatter flat entries, grouped by ``rows`` (ascending) and already ordered within a row, into the
    first k slots of (n_rows, k) arrays. Returns one array per column, padded with -1 (int) / -inf."""
    counts = torch.bincount(rows, minlength=n_rows)
    starts = torch.cumsum(counts, 0) - counts
    pos = torch.arange(len(rows), device=rows.device) - starts[rows]
    keep = pos < k
    out = []
    for col in columns:
        fill = float("-inf") if col.is_floating_point() else -1
        dense = torch.full((n_rows, k), fill, dtype=col.dtype, device=col.device)
        dense[rows[keep], pos[keep]] = col[keep]
        out.append(dense)
    return out
