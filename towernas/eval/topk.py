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

from towernas.eval.backends import FaissCandidates, TorchCandidates, resolve_backend
from towernas.eval.scoring import canonical_scores, first_k_per_row, score_error_bound, sort_by_score_then_id
from towernas.ragged import Ragged

MARGIN = 16  # extra candidates per query, so the guard in step 3 (almost) never fires on untied data
_REFINE_CELLS = 2**25  # max (queries x items) float32 cells per step of the exact re-rank


class ExactTopK:
    """Exact top-k searcher over a fixed item matrix (the index is built once).

    Args:
        items: (N, d) float32 item vectors, numpy array or torch tensor (any device).
        backend: "faiss", "torch", or "auto" (faiss if importable and ``items`` is on CPU, else torch).
    """

    def __init__(self, items: np.ndarray | torch.Tensor, *, backend: str = "auto") -> None:
        items = as_float_matrix(items, "items")
        if items.shape[0] == 0:
            raise ValueError("items must contain at least one row")
        self.backend = resolve_backend(backend, items.device)
        if self.backend == "faiss":
            items = items.cpu()
        self.items = items  # (N, d)
        self.items_t = items.T.contiguous()  # (d, N), for canonical re-scoring
        self.max_norm = float(torch.linalg.vector_norm(items, dim=1).max())
        self.n_items = items.shape[0]
        cls = FaissCandidates if self.backend == "faiss" else TorchCandidates
        self._candidates = cls(items)

    def search(self, queries, k: int, exclude: Ragged | None = None, *, batch_size: int = 4096):
        """Top-k item indices and scores per query; see ``exact_topk``."""
        queries = as_float_matrix(queries, "queries").to(self.items.device)
        n_q, d = queries.shape
        if d != self.items.shape[1]:
            raise ValueError(f"queries have dim {d} but items have dim {self.items.shape[1]}")
        if k < 1 or batch_size < 1:
            raise ValueError(f"k and batch_size must be >= 1, got k={k}, batch_size={batch_size}")
        order, exclude = self._order_by_exclusions(exclude, n_q)
        ids = torch.full((n_q, k), -1, dtype=torch.int64, device=queries.device)
        scores = torch.full((n_q, k), float("-inf"), device=queries.device)
        for start in range(0, n_q, batch_size):
            stop = min(start + batch_size, n_q)
            rows = order[start:stop]
            excl = exclude.rows(start, stop) if exclude is not None else Ragged.empty(stop - start)
            excl_rows = torch.from_numpy(excl.row_ids()).to(queries.device)
            excl_vals = torch.from_numpy(excl.values).to(queries.device)
            ids[rows], scores[rows] = self._search_batch(queries[rows], k, excl_rows, excl_vals)
        return ids.cpu().numpy(), scores.cpu().numpy()

    def _order_by_exclusions(self, exclude: Ragged | None, n_q: int):
        """Visit queries by ascending exclusion count, so the faiss over-fetch (k + max exclusions in the
        batch) stays small for most batches. Returns (order tensor, exclusions permuted to that order)."""
        device = self.items.device
        if exclude is None:
            return torch.arange(n_q, device=device), None
        if len(exclude) != n_q:
            raise ValueError(f"exclude has {len(exclude)} rows but there are {n_q} queries")
        if len(exclude.values) and (exclude.values.min() < 0 or exclude.values.max() >= self.n_items):
            raise ValueError(f"exclude holds item indices outside [0, {self.n_items})")
        lengths = exclude.lengths()
        order = np.argsort(lengths, kind="stable")
        # gather the rows of `exclude` in `order` (vectorized CSR row gather)
        ordered = lengths[order]
        offsets = np.repeat(exclude.indptr[order] - (np.cumsum(ordered) - ordered), ordered)
        values = exclude.values[offsets + np.arange(len(offsets))]
        return torch.from_numpy(order).to(device), Ragged.from_lengths(lengths[order], values)

    def _search_batch(self, q: torch.Tensor, k: int, excl_rows: torch.Tensor, excl_vals: torch.Tensor):
        cand, _, cutoff = self._candidates.fetch(q, k + MARGIN, excl_rows, excl_vals)  # (B, L), (B,)
        canon = canonical_scores(q, self.items_t, cand.clamp_min(0)).masked_fill(cand < 0, float("-inf"))
        ids, scores = sort_by_score_then_id(canon, cand)
        ids, scores = ids[:, :k].contiguous(), scores[:, :k].contiguous()
        eps = score_error_bound(q, self.max_norm)  # (B,)
        kth = scores[:, k - 1]
        unsure = (cutoff > float("-inf")) & (kth <= cutoff + eps)
        if bool(unsure.any()):
            # keep only the exclusions of the unsure queries, renumbered 0..R-1
            local = torch.cumsum(unsure, 0) - 1
            sel = unsure[excl_rows]
            excl = (local[excl_rows[sel]], excl_vals[sel])
            ids[unsure], scores[unsure] = self._rerank_exactly(q[unsure], kth[unsure] - eps[unsure], k, *excl)
        return ids, scores

    def _rerank_exactly(self, q, floor, k, excl_rows, excl_vals):
        """Exact top-k for queries ``q`` (R, d) given that every true top-k item has backend score >=
        ``floor`` (R,): re-score that band canonically and order it by (-score, id)."""
        step = max(1, _REFINE_CELLS // self.n_items)
        out_ids, out_scores = [], []
        for s in range(0, len(q), step):
            sub = slice(s, s + step)
            scores = q[sub] @ self.items.T  # (r, N) float32, any backend-quality matmul
            in_sub = (excl_rows >= s) & (excl_rows < s + step)
            scores[excl_rows[in_sub] - s, excl_vals[in_sub]] = float("-inf")
            rows, items = (scores >= floor[sub, None]).nonzero(as_tuple=True)  # by row, then item id
            canon = canonical_scores(q[sub][rows], self.items_t, items[:, None])[:, 0]
            o = torch.sort(canon, descending=True, stable=True).indices  # ties keep ascending id
            o = o[torch.sort(rows[o], stable=True).indices]  # group by row, keep (-score, id) inside
            i, sc = first_k_per_row(rows[o], scores.shape[0], k, items[o], canon[o])
            out_ids.append(i)
            out_scores.append(sc)
        return torch.cat(out_ids), torch.cat(out_scores)


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
