"""Candidate generators for exact top-k: faiss ``IndexFlatIP`` (CPU, or the GPU with faiss-gpu) or batched
torch matmul (any device).

A backend returns, per query, the ``L`` best non-excluded items by its own float32 scores, plus a cutoff:
an upper bound on the backend score of every non-excluded item it did *not* return. ``topk.py`` then
re-scores and re-orders these candidates canonically (see ``scoring.py``).
"""

from __future__ import annotations

import numpy as np
import torch

from towernas.eval.faiss_device import GPU_MAX_K, is_gpu_index, on_gpu, to_device
from towernas.eval.scoring import excluded_mask
from towernas.runs.registry import Registry

try:  # faiss is an optional extra (`towernas[cpu]` / `towernas[gpu]`)
    import faiss
except ImportError:  # pragma: no cover - exercised only without faiss
    faiss = None

BACKENDS: Registry = Registry("top-k backend", key="eval.backend")  # name -> class(items: torch.Tensor)


def resolve_backend(backend: str, device: torch.device) -> str:
    """"auto" -> "faiss" when faiss is importable and can index where the data is (CPU, or a GPU with
    faiss-gpu), else "torch"."""
    if backend == "auto":
        return "faiss" if faiss is not None and (device.type == "cpu" or on_gpu(device)) else "torch"
    BACKENDS.get(backend)  # an unknown name: one line listing the known ones
    if backend == "faiss" and faiss is None:
        raise ImportError("backend='faiss' needs the faiss module: pip install 'towernas[cpu]'")
    return backend


@BACKENDS.register("faiss")
class FaissCandidates:
    """Exact inner-product search with ``faiss.IndexFlatIP``, over-fetching past exclusions.

    Per batch it fetches ``L + max exclusions in the batch`` items, so every query keeps >= L
    non-excluded candidates, then drops the excluded ones. Items on a CUDA device with faiss-gpu installed:
    the index lives on that GPU (``faiss_device``); a batch that would fetch more than the GPU's
    ``GPU_MAX_K`` neighbours (a heavy user's exclusions) goes through ``TorchCandidates`` on the same GPU.
    """

    def __init__(self, items: torch.Tensor, device: torch.device | None = None) -> None:
        self.items = items.cpu().numpy()  # (N, d) float32 CPU
        self.n_items = items.shape[0]
        index = faiss.IndexFlatIP(items.shape[1])  # built once, searched per batch
        index.add(self.items)
        self.index = to_device(index, items.device if device is None else device)
        self.wide = TorchCandidates(items) if is_gpu_index(self.index) else None  # for fetches past GPU_MAX_K

    def fetch(self, queries: np.ndarray, L: int, excl_rows: np.ndarray, excl_vals: np.ndarray):
        """Args: queries (B, d) float32; excl_rows/excl_vals (E,) int64 batch-local (row, item) pairs.

        Returns: ids (B, L) int64 (-1 = none) and cutoff (B,) float32 (-inf = nothing left out).
        """
        B = len(queries)
        max_excl = int(np.bincount(excl_rows, minlength=B).max()) if len(excl_rows) else 0
        m = min(self.n_items, L + max_excl)
        if self.wide is not None and m > GPU_MAX_K:
            return self.wide.fetch(queries, L, excl_rows, excl_vals)
        scores, ids = self.index.search(queries, m)  # (B, m) each, best first
        invalid = ids < 0
        invalid |= excluded_mask(np.maximum(ids, 0), excl_rows, excl_vals, self.n_items)
        # keep the first L valid columns, in faiss's (descending score) order
        order = np.argsort(invalid, axis=1, kind="stable")[:, :L]
        ids, scores, invalid = (np.take_along_axis(a, order, 1) for a in (ids, scores, invalid))
        ids[invalid] = -1
        scores[invalid] = -np.inf
        return _pad(ids, scores, L)

    def full_scores(self, queries: np.ndarray) -> np.ndarray:
        """(R, N) float32 scores of every item (for the rare exact re-rank)."""
        return queries @ self.items.T


@BACKENDS.register("torch")
class TorchCandidates:
    """Batched ``queries @ items.T`` with excluded scores set to -inf, then ``torch.topk``.

    Works on any device; peak memory is one (batch_size, n_items) float32 score matrix.
    """

    def __init__(self, items: torch.Tensor) -> None:
        self.items = items  # (N, d), on its device
        self.n_items = items.shape[0]

    def fetch(self, queries: np.ndarray, L: int, excl_rows: np.ndarray, excl_vals: np.ndarray):
        """Same contract as ``FaissCandidates.fetch``."""
        scores = self._scores(queries)  # (B, N)
        if len(excl_rows):
            rows, vals = (torch.from_numpy(a).to(scores.device) for a in (excl_rows, excl_vals))
            scores.index_put_((rows, vals), torch.tensor(float("-inf"), device=scores.device))
        scores, ids = torch.topk(scores, min(L, self.n_items), dim=1)  # (B, <=L)
        scores, ids = scores.cpu().numpy(), ids.cpu().numpy()
        ids[np.isneginf(scores)] = -1
        return _pad(ids, scores, L)

    def full_scores(self, queries: np.ndarray) -> np.ndarray:
        return self._scores(queries).cpu().numpy()

    def _scores(self, queries: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(queries).to(self.items.device) @ self.items.T


def _pad(ids: np.ndarray, scores: np.ndarray, L: int):
    """Pad to L columns with (-1, -inf); cutoff = backend score of the L-th candidate (-inf if none):
    every non-excluded item not returned scores at most that."""
    short = L - ids.shape[1]
    if short > 0:
        ids = np.pad(ids, ((0, 0), (0, short)), constant_values=-1)
        scores = np.pad(scores, ((0, 0), (0, short)), constant_values=-np.inf)
    return ids, scores[:, L - 1].copy()
