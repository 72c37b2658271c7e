"""Exact full-ranking inner-product top-k with per-query exclusions and a deterministic tie rule.

Pipeline per batch of queries:
  1. a backend (``backends.py``: faiss ``IndexFlatIP`` or torch matmul) returns the L = k + margin best
     non-excluded items by its float32 scores, and a cutoff bounding the score of every item it left out;
  2. the candidates are re-scored canonically and sorted by (-score, item id) (``scoring.py``);
  3. guard: if the k-th canonical score is within the backend's rounding error ``eps`` of the cutoff, an
     item left out could still tie with or beat it (e.g. a tie at the boundary hiding a smaller id). Those
     rare queries are re-ranked exactly over every item whose backend score reaches kth - eps.

So the result is *the* top-k under canonical scores and the (-score, id) rule, identical for any backend,
device and batch size.
"""

from __future__ import annotations

import numpy as np
import torch

from towernas.data.ragged import Ragged
from towernas.eval.backends import BACKENDS, resolve_backend
from towernas.eval.scoring import (
    RESCORE_MARGIN,
    canonical_scores,
    first_k_per_row,
    score_error_bound,
    sort_by_score_then_id,
)

_RERANK_CELLS = 2**25  # max (queries x items) float32 cells per step of the exact re-rank


class ExactTopK:
    """Exact top-k searcher over a fixed item matrix (the index is built once).

    Args:
        items: (N, d) float32 item vectors, numpy array or torch tensor (any device).
        backend: "faiss", "torch", or "auto" (faiss if importable and it can index where ``items`` are: CPU, or a
            GPU with faiss-gpu; else torch).
    """

    def __init__(self, items: np.ndarray | torch.Tensor, *, backend: str = "auto") -> None:
        items = as_float_matrix(items, "items")
        if items.shape[0] == 0:
            raise ValueError("items must contain at least one row")
        self.backend = resolve_backend(backend, items.device)
        self.items_t = items.T.contiguous().cpu().numpy()  # (d, N) CPU copy, for canonical re-scoring
        self.max_norm = float(torch.linalg.vector_norm(items.double(), dim=1).max())
        self.n_items, self.dim = items.shape
        self._candidates = BACKENDS.build(self.backend, items)

    def search(self, queries, k: int, exclude: Ragged | None = None, *, batch_size: int = 4096):
        """Top-k item indices and scores per query; see ``exact_topk``."""
        queries = as_float_matrix(queries, "queries").cpu().numpy()  # (Q, d); backends move batches
        n_q, d = queries.shape
        if d != self.dim:
            raise ValueError(f"queries have dim {d} but items have dim {self.dim}")
        if k < 1 or batch_size < 1:
            raise ValueError(f"k and batch_size must be >= 1, got k={k}, batch_size={batch_size}")
        order, exclude = self._order_by_exclusions(exclude, n_q)
        ids = np.empty((n_q, k), dtype=np.int64)
        scores = np.empty((n_q, k), dtype=np.float32)
        for start in range(0, n_q, batch_size):
            stop = min(start + batch_size, n_q)
            excl = exclude.rows(start, stop) if exclude is not None else Ragged.empty(stop - start)
            rows = order[start:stop]
            ids[rows], scores[rows] = self._search_batch(queries[rows], k, excl.row_ids(), excl.values)
        return ids, scores

    def _order_by_exclusions(self, exclude: Ragged | None, n_q: int) -> tuple[np.ndarray, Ragged | None]:
        """Visit queries by ascending exclusion count, so the faiss over-fetch (k + max exclusions in the
        batch) stays small for most batches. Returns (order, exclusions permuted to that order)."""
        if exclude is None:
            return np.arange(n_q), None
        if len(exclude) != n_q:
            raise ValueError(f"exclude has {len(exclude)} rows but there are {n_q} queries")
        if len(exclude.values) and (exclude.values.min() < 0 or exclude.values.max() >= self.n_items):
            raise ValueError(f"exclude holds item indices outside [0, {self.n_items})")
        lengths = exclude.lengths()
        order = np.argsort(lengths, kind="stable")
        ordered = lengths[order]  # gather the CSR rows in `order`, vectorized
        offsets = np.repeat(exclude.indptr[order] - (np.cumsum(ordered) - ordered), ordered)
        values = exclude.values[offsets + np.arange(len(offsets))]
        return order, Ragged.from_lengths(ordered, values)

    def _search_batch(self, q: np.ndarray, k: int, excl_rows: np.ndarray, excl_vals: np.ndarray):
        cand, cutoff = self._candidates.fetch(q, k + RESCORE_MARGIN, excl_rows, excl_vals)  # (B, L), (B,)
        canon = canonical_scores(q, self.items_t, np.maximum(cand, 0))
        canon[cand < 0] = -np.inf
        ids, scores = sort_by_score_then_id(canon, cand)
        ids, scores = ids[:, :k], scores[:, :k]
        eps = score_error_bound(q, self.max_norm)  # (B,)
        kth = scores[:, k - 1].astype(np.float64)
        unsure = np.isfinite(cutoff) & (kth <= cutoff + eps)
        if unsure.any():
            local = np.cumsum(unsure) - 1  # renumber the unsure queries 0..R-1, keep their exclusions
            sel = unsure[excl_rows]
            excl = (local[excl_rows[sel]], excl_vals[sel])
            ids[unsure], scores[unsure] = self._rerank_exactly(q[unsure], kth[unsure] - eps[unsure], k, *excl)
        return ids, scores

    def _rerank_exactly(self, q, floor, k, excl_rows, excl_vals):
        """Exact top-k for queries ``q`` (R, d), given that every true top-k item has backend score >=
        ``floor`` (R,): re-score that band canonically and order it by (-score, id)."""
        step = max(1, _RERANK_CELLS // self.n_items)
        out_ids, out_scores = [], []
        for s in range(0, len(q), step):
            scores = self._candidates.full_scores(q[s : s + step])  # (r, N) float32
            in_step = (excl_rows >= s) & (excl_rows < s + step)
            scores[excl_rows[in_step] - s, excl_vals[in_step]] = -np.inf
            rows, items = np.nonzero(scores >= floor[s : s + step, None])  # by row, then ascending item
            canon = canonical_scores(q[s : s + step][rows], self.items_t, items[:, None])[:, 0]
            o = np.lexsort((items, -canon, rows))  # by row, then (-score, id)
            i, sc = first_k_per_row(rows[o], len(scores), k, items[o], canon[o])
            out_ids.append(i)
            out_scores.append(sc)
        return np.concatenate(out_ids), np.concatenate(out_scores)


def exact_topk(
    queries: np.ndarray | torch.Tensor,
    items: np.ndarray | torch.Tensor,
    k: int,
    exclude: Ragged | None = None,
    *,
    batch_size: int = 4096,
    backend: str = "auto",
) -> tuple[np.ndarray, np.ndarray]:
    """Exact inner-product top-k of every query over ALL items, skipping per-query excluded items.

    Args:
        queries: (Q, d) float32 (numpy or torch, CPU or CUDA).
        items: (N, d) float32.
        k: number of results per query.
        exclude: optional Ragged with Q rows; row q holds item indices (0..N-1) never to return for q.
        batch_size: queries per step (torch backend peak memory: batch_size x N float32).
        backend: "faiss" (IndexFlatIP), "torch" (matmul + masking + topk) or "auto".

    Returns:
        ids (Q, k) int64 and scores (Q, k) float32 numpy arrays, best first. Scores are canonical
        inner products (float64-accumulated, see ``scoring.py``); equal scores are ordered by smaller item
        index. Rows with fewer than k non-excluded items are padded with id -1 and score -inf.

    Example:
        >>> import numpy as np
        >>> items = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.5, 0.5]], dtype=np.float32)
        >>> ids, scores = exact_topk(np.array([[1.0, 0.0]], dtype=np.float32), items, k=3,
        ...                          exclude=Ragged.from_lists([[0]]))
        >>> ids.tolist(), scores.tolist()
        ([[2, 3, 1]], [[1.0, 0.5, 0.0]])
    """
    return ExactTopK(items, backend=backend).search(queries, k, exclude, batch_size=batch_size)


def as_float_matrix(x: np.ndarray | torch.Tensor, name: str) -> torch.Tensor:
    """A (n, d) float32 contiguous torch tensor view/copy of ``x``; rejects NaN/inf."""
    t = x.detach() if isinstance(x, torch.Tensor) else torch.from_numpy(np.asarray(x))
    t = t.float().contiguous()
    if t.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n, d), got shape {tuple(t.shape)}")
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name} contains NaN or inf")
    return t
