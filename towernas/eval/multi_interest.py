"""Exact top-k for multi-interest queries (MIND): score(q, v) = max_k <q_k, v>.

Each query is K vectors (Q, K, d). The search runs ``towernas.eval.exact_topk`` once per interest (same
index, same exclusions), takes the union of the K per-interest top-k lists, re-scores every candidate
canonically against all K interests, keeps the max, and orders by (-score, item id) — the tie rule of
``towernas.eval``. Scores are canonical (``towernas.eval.scoring``): the max of K canonical inner products.

Why the union holds the true top-k. Write s_k(v) for the canonical score of interest k and
S(v) = max_k s_k(v). Take v in the true top-k of S under the order (-S, id), and k* with s_{k*}(v) = S(v).
Suppose v is not in interest k*'s top-k under (-s_{k*}, id). Then k items w are ranked before v by
interest k*: s_{k*}(w) > s_{k*}(v), or s_{k*}(w) = s_{k*}(v) and w < v. For each such w,
S(w) >= s_{k*}(w) >= s_{k*}(v) = S(v); and if S(w) = S(v) then s_{k*}(w) = s_{k*}(v), hence w < v. So
all k of them are ranked before v by (-S, id) as well, contradicting v being in the top-k of S. Hence v
is in the top-k of interest k*, which is in the union. Excluded items are excluded from every list, and
every non-excluded item is eligible in every list, so the argument holds per query with exclusions;
when fewer than k items are left, each list holds all of them and so does the union.

Example:
    >>> import numpy as np
    >>> items = np.array([[1, 0], [0, 1], [0.5, 0.5]], dtype=np.float32)
    >>> queries = np.array([[[1, 0], [0, 1]]], dtype=np.float32)  # one user, two interests
    >>> ids, scores = exact_topk_multi(queries, items, k=3)
    >>> ids.tolist(), scores.tolist()
    ([[0, 1, 2]], [[1.0, 1.0, 0.5]])
"""

from __future__ import annotations

import numpy as np
import torch

from towernas.data.ragged import Ragged
from towernas.eval.scoring import canonical_scores, sort_by_score_then_id
from towernas.eval.topk import ExactTopK


def exact_topk_multi(
    queries: np.ndarray | torch.Tensor,
    items: np.ndarray | torch.Tensor,
    k: int,
    exclude: Ragged | None = None,
    *,
    batch_size: int = 4096,
    backend: str = "auto",
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k of every multi-interest query over ALL items, score = max over its interests.

    Args:
        queries: (Q, K, d) float32 interest vectors (numpy or torch, any device).
        items: (N, d) float32 item vectors.
        k: results per query. exclude: optional Ragged with Q rows of item indices never to return.
        batch_size, backend: as in ``towernas.eval.exact_topk`` (per interest).

    Returns:
        ids (Q, k) int64 and scores (Q, k) float32, best first, equal scores by smaller item id; rows
        with fewer than k non-excluded items are padded with (-1, -inf).
    """
    q = queries.detach().float().cpu().numpy() if isinstance(queries, torch.Tensor) else np.asarray(queries)
    q = np.ascontiguousarray(q, dtype=np.float32)
    if q.ndim != 3:
        raise ValueError(f"multi-interest queries must be 3-D (Q, K, d), got shape {q.shape}")
    n_interests = q.shape[1]
    searcher = ExactTopK(items, backend=backend)
    lists = [searcher.search(q[:, j], k, exclude, batch_size=batch_size)[0] for j in range(n_interests)]
    cand = np.concatenate(lists, axis=1)  # (Q, K * k), -1 = empty slot
    safe = np.maximum(cand, 0)
    scores = np.full(cand.shape, -np.inf, dtype=np.float32)
    for j in range(n_interests):
        np.maximum(scores, canonical_scores(q[:, j], searcher.items_t, safe), out=scores)
    scores[cand < 0] = -np.inf
    ids, scores = sort_by_score_then_id(scores, cand)
    # the same item found by several interests has the same max score: its copies are now adjacent
    dup = np.zeros(ids.shape, dtype=bool)
    dup[:, 1:] = (ids[:, 1:] == ids[:, :-1]) & (ids[:, 1:] >= 0)
    ids[dup], scores[dup] = -1, -np.inf
    ids, scores = sort_by_score_then_id(scores, ids)
    return ids[:, :k], scores[:, :k]
