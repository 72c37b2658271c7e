"""One call from embeddings to full-ranking metrics (the default protocol of DESIGN.md)."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from towernas.data.ragged import Ragged
from towernas.eval.metrics import mean_metrics
from towernas.eval.multi_interest import exact_topk_multi
from towernas.eval.topk import exact_topk


def evaluate(
    query_vectors: np.ndarray | torch.Tensor,
    item_vectors: np.ndarray | torch.Tensor,
    targets: Ragged,
    exclude: Ragged | None,
    ks: Sequence[int] = (10, 20, 50),
    *,
    batch_size: int = 4096,
    backend: str = "auto",
) -> dict[str, float]:
    """Rank ALL items for every user, mask ``exclude`` (train items on validation, train+validation on
    test), and average Recall/NDCG/HitRate/MRR/Precision@K over users.

    Args:
        query_vectors: (Q, d) user embeddings, or (Q, K, d) for multi-interest users (an item scores the
            max over the K interests); item_vectors: (N, d) item embeddings (row = item index).
        targets: Q non-empty rows of held-out item indices. exclude: Q rows of item indices, or None.
        ks: cut-offs; the top max(ks) is computed once.

    Returns:
        {"recall@10": ..., "ndcg@10": ..., ..., "n_users": Q} (see ``metrics.py`` for definitions).

    Example:
        >>> import numpy as np
        >>> items = np.eye(3, dtype=np.float32)
        >>> out = evaluate(items[[0]], items, Ragged.from_lists([[1]]), Ragged.from_lists([[0]]), ks=[1])
        >>> out["recall@1"], out["n_users"]
        (1.0, 1)
    """
    ids = ranked_ids(query_vectors, item_vectors, max(ks), exclude, batch_size=batch_size, backend=backend)
    result: dict[str, float] = mean_metrics(ids, targets, ks)
    result["n_users"] = len(ids)
    return result


def ranked_ids(query_vectors, item_vectors, k: int, exclude: Ragged | None, *, batch_size: int = 4096,
               backend: str = "auto") -> np.ndarray:
    """(Q, k) exact top-k item ids per user after masking ``exclude`` (multi-interest: max over interests)."""
    topk = exact_topk_multi if query_vectors.ndim == 3 else exact_topk
    ids, _ = topk(query_vectors, item_vectors, k, exclude, batch_size=batch_size, backend=backend)
    return ids
