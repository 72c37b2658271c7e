"""The retrieval interface later stages use: item embeddings in, top-k item ids per query out."""

from __future__ import annotations

import numpy as np
import torch

from towernas.data.ragged import Ragged
from towernas.eval.topk import ExactTopK


class Retriever:
    """Exact maximum-inner-product retrieval over a fixed set of item vectors.

    Args:
        item_vectors: (N, d) float32 item embeddings (numpy or torch, CPU or CUDA).
        item_ids: optional (N,) unique int64 ids of the rows; results (and ``exclude``) then use these
            ids instead of row indices. Ties are still broken by the smaller *row index*.
        backend: "faiss", "torch" or "auto" (see ``exact_topk``).

    Example:
        >>> import numpy as np
        >>> items = np.array([[1.0, 0.0], [0.0, 1.0], [0.7, 0.7]], dtype=np.float32)
        >>> r = Retriever(items, item_ids=np.array([10, 20, 30]))
        >>> ids, scores = r.search(np.array([[1.0, 0.2]], dtype=np.float32), k=2,
        ...                        exclude=Ragged.from_lists([[10]]))
        >>> ids.tolist()
        [[30, 20]]
    """

    def __init__(
        self,
        item_vectors: np.ndarray | torch.Tensor,
        *,
        item_ids: np.ndarray | None = None,
        backend: str = "auto",
    ) -> None:
        self._topk = ExactTopK(item_vectors, backend=backend)
        self.item_ids = None
        if item_ids is not None:
            item_ids = np.asarray(item_ids, dtype=np.int64)
            if item_ids.shape != (self._topk.n_items,):
                raise ValueError(f"item_ids must have shape ({self._topk.n_items},), got {item_ids.shape}")
            self._sorted = np.argsort(item_ids, kind="stable")  # row indices ordered by id
            if np.any(np.diff(item_ids[self._sorted]) == 0):
                raise ValueError("item_ids must be unique")
            self.item_ids = item_ids

    @property
    def backend(self) -> str:
        return self._topk.backend

    def search(
        self, query_vectors: np.ndarray | torch.Tensor, k: int, exclude: Ragged | None = None, *, batch_size: int = 4096
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (ids (Q, k) int64, scores (Q, k) float32), best first; -1 / -inf pad missing results.

        ``exclude`` row q lists ids (item_ids if given, else row indices) never returned for query q.
        """
        if exclude is not None and self.item_ids is not None:
            exclude = Ragged(exclude.indptr, self._rows_of(exclude.values))
        ids, scores = self._topk.search(query_vectors, k, exclude, batch_size=batch_size)
        if self.item_ids is not None:
            ids = np.where(ids >= 0, self.item_ids[np.maximum(ids, 0)], -1)
        return ids, scores

    def _rows_of(self, ids: np.ndarray) -> np.ndarray:
        """Row index of each item id; unknown ids are an error."""
        sorted_ids = self.item_ids[self._sorted]
        pos = np.minimum(np.searchsorted(sorted_ids, ids), len(sorted_ids) - 1)
        if len(ids) and np.any(sorted_ids[pos] != ids):
            raise ValueError("exclude holds ids that are not in item_ids")
        return self._sorted[pos]
