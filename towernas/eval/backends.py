"""Candidate generators for exact top-k: faiss ``IndexFlatIP`` or batched torch matmul.

A backend returns, per query, the ``L`` best non-excluded items by its own float32 scores, plus a cutoff:
an upper bound on the backend score of every non-excluded item it did *not* return. ``topk.py`` then
re-scores and re-orders these candidates canonically (see ``scoring.py``).
"""

from __future__ import annotations

import numpy as np
import torch

try:  # faiss is an optional extra (`towernas[cpu]` / `towernas[gpu]`)
    import faiss
except ImportError:  # pragma: no cover - exercised only without faiss
    faiss = None

BACKENDS = ("auto", "faiss", "torch")


def resolve_backend(backend: str, device: torch.device) -> str:
    """"auto" -> "faiss" when faiss is importable and the data is on CPU, else "torch"."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown top-k backend {backend!r}; expected one of {BACKENDS}")
    if backend == "auto":
        return "faiss" if faiss is not None and device.type == "cpu" else "torch"
    if backend == "faiss" and faiss is None:
        raise ImportError("backend='faiss' needs the faiss module: pip install 'towernas[cpu]'")
    return backend


class FaissCandidates:
    """Exact inner-product search with ``faiss.IndexFlatIP`` (CPU), over-fetching past exclusions.

    Per batch it fetches ``L + max exclusions in the batch`` items, so every query keeps >= L
    non-excluded candidates, then drops the excluded ones.
    """

    def __init__(self, items: torch.Tensor) -> None:
        self.n_items = items.shape[0]
        self.index = faiss.IndexFlatIP(items.shape[1])  # built once, searched per batch
        self.index.add(np.ascontiguousarray(items.numpy(), dtype=np.float32))

    def fetch(self, queries: torch.Tensor, L: int, excl_rows: torch.Tensor, excl_vals: torch.Tensor):
        """Args: queries (B, d) float32 CPU; excl_rows/excl_vals (E,) int64 batch-local (row, item) pairs.

        Returns: ids (B, L) int64 (-1 = none), scores (B, L) float32 (-inf = none), cutoff (B,) float32.
        """
        B = queries.shape[0]
        max_excl = int(torch.bincount(excl_rows, minlength=B).max()) if len(excl_rows) else 0
        m = min(self.n_items, L + max_excl)
        scores, ids = self.index.search(np.ascontiguousarray(queries.numpy()), m)  # (B, m) each
        scores, ids = torch.from_numpy(scores), torch.from_numpy(ids)
        invalid = ids < 0
        if len(excl_rows):
            keys = torch.arange(B).unsqueeze(1) * self.n_items + ids  # (B, m) (row, item) keys
            invalid |= torch.isin(keys, excl_rows * self.n_items + excl_vals)
        # Keep the first L valid columns, in faiss's (descending score) order.
        order = torch.sort(invalid.to(torch.int8), dim=1, stable=True).indices[:, :L]
        ids, scores, invalid = (torch.gather(t, 1, order) for t in (ids, scores, invalid))
        ids = ids.masked_fill(invalid, -1)
        scores = scores.masked_fill(invalid, float("-inf"))
        return _pad(ids, scores, L)


class TorchCandidates:
    """Batched ``queries @ items.T`` with excluded scores set to -inf, then ``torch.topk``.

    Works on any device; peak memory is one (batch_size, n_items) float32 score matrix.
    """

    def __init__(self, items: torch.Tensor) -> None:
        self.items = items  # (N, d)
        self.n_items = items.shape[0]

    def fetch(self, queries: torch.Tensor, L: int, excl_rows: torch.Tensor, excl_vals: torch.Tensor):
        """Same contract as ``FaissCandidates.fetch``."""
        scores = queries @ self.items.T  # (B, N)
        if len(excl_rows):
            scores.index_put_((excl_rows, excl_vals), torch.tensor(float("-inf"), device=scores.device))
        scores, ids = torch.topk(scores, min(L, self.n_items), dim=1)  # (B, <=L)
        ids = ids.masked_fill(scores == float("-inf"), -1)
        return _pad(ids, scores, L)


def _pad(ids: torch.Tensor, scores: torch.Tensor, L: int):
    """Pad to L columns with (-1, -inf); cutoff = score of the L-th candidate (-inf if none)."""
    short = L - ids.shape[1]
    if short > 0:
        ids = torch.nn.functional.pad(ids, (0, short), value=-1)
        scores = torch.nn.functional.pad(scores, (0, short), value=float("-inf"))
    return ids, scores, scores[:, L - 1].clone()
