"""Training a cascade's ranker on the retriever's own candidates.

A batch holds B training queries (``queries.train_queries``): for each, its positive (the interaction that
came next) first, then n negatives of ``mode`` (``negatives.MODES``) drawn from that query's top-K0 list
and/or the catalogue; labels (B, 1 + n) are 1 for the positive. The list is scored in one call and trained
with the listwise softmax (or pointwise BCE). Early stopping reads validation only: the ranker reranks the
retriever's validation candidates and ``select`` (NDCG@10 by default) of the reranked list decides.
"""

from __future__ import annotations

import numpy as np
import torch

from towernas.data.interactions import EvalQueries, InteractionData
from towernas.eval.metrics import mean_metrics
from towernas.cascade.stages import query_batch, rerank
from towernas.cascade.negatives import sample_negatives


def candidate_batches(ranker, data: InteractionData, queries: EvalQueries, candidates: np.ndarray, *, mode: str,
                      n_negatives: int, pool: int, batch_size: int, device="cpu", vectors: np.ndarray | None = None):
    """``batches(rng)`` for ``towernas.train.ranker_loop.fit_ranker`` and the number of batches per epoch.
    ``vectors``: the retriever's query vectors of ``queries`` (for a ranker fused with its score)."""
    positives_all = queries.targets.values  # one target per training query
    if len(positives_all) != len(queries.users):
        raise ValueError("training queries must have exactly one target each")

    def batches(rng: np.random.Generator):
        order = rng.permutation(len(queries.users))
        for start in range(0, len(order), batch_size):
            take = order[start:start + batch_size]
            batch = query_batch(data, queries, take, device, vectors)
            positives = positives_all[take]

            def scorer(items: np.ndarray) -> np.ndarray:  # dns: the ranker's current scores, no gradient
                with torch.no_grad():
                    return ranker.score(batch, torch.as_tensor(items, device=device)).float().cpu().numpy()

            negatives = sample_negatives(mode, rng, positives, candidates[take], n_negatives, data.n_items,
                                         scorer=scorer, pool=pool)
            items = torch.as_tensor(np.concatenate([positives[:, None], negatives], 1), device=device)
            labels = torch.zeros(items.shape, device=device)
            labels[:, 0] = 1.0
            yield batch, items, labels

    return batches, -(-len(queries.users) // batch_size)


def rerank_metrics(ranker, data: InteractionData, queries: EvalQueries, candidates: np.ndarray, k: int,
                   ks=(10, 20, 50), device="cpu", vectors: np.ndarray | None = None) -> dict[str, float]:
    """Mean metrics of ``ranker``'s top ``k`` of ``candidates`` for ``queries`` (validation during training)."""
    ids, _ = rerank(ranker, data, queries, candidates, k, device=device, vectors=vectors)
    return mean_metrics(ids, queries.targets, [c for c in ks if c <= k])
