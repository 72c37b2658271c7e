"""Stage-wise evaluation of a cascade: every stage's output list scored on the same targets.

Per stage: Recall / NDCG / HitRate @{10, 20, 50} (the cut-offs not above the stage's K), its Recall@K_stage
(the ceiling of the stages after it) and its seconds per 1,000 users. What limits a cascade, per stage:
``reachable_ndcg@10``, the NDCG@10 over the queries whose stage-1 list holds at least one target (a ranker can
only reorder: on the other queries every stage scores 0), and on stage 1 ``reachable_share`` (the share of such
queries) and ``oracle_ndcg@10`` (its list with every target moved to the front: what a perfect ranker would
reach). A ranker's failure with a high oracle is the ranker's; a low oracle is the candidates'.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from towernas.data.interactions import EvalQueries
from towernas.eval.bias import bias_metrics
from towernas.eval.encode import BIAS_K
from towernas.eval.metrics import mean_metrics, per_query_metrics
from towernas.cascade.stages import StageOutput

REPORTED = ("recall", "ndcg", "hitrate")


def stage_metrics(output: StageOutput, queries: EvalQueries, ks: Sequence[int] = (10, 20, 50),
                  item_counts: np.ndarray | None = None) -> dict[str, float]:
    cuts = sorted({k for k in ks if k <= output.k} | {output.k})
    means = mean_metrics(output.ids, queries.targets, cuts)
    out = {f"{m}@{k}": means[f"{m}@{k}"] for m in REPORTED for k in cuts if k in ks}
    out[f"recall@{output.k}"] = means[f"recall@{output.k}"]
    out["ceiling_recall"] = means[f"recall@{output.k}"]
    out["seconds_per_1000_users"] = 1000.0 * output.seconds / max(1, len(queries.users))
    if item_counts is not None:  # popularity bias and the intervened test at 50 (or the stage's k if shorter)
        bias = bias_metrics(output.ids, queries, item_counts, min(BIAS_K, output.k))
        out.update({m: v for m, v in bias.items() if m != "unbiased/n_users"})
    return out


def limits(outputs: list[StageOutput], queries: EvalQueries, k: int = 10) -> list[dict[str, float]]:
    """Per stage: ``reachable_ndcg@k``; on stage 1 also ``reachable_share`` and ``oracle_ndcg@k`` (module
    docstring)."""
    first = outputs[0].ids
    hits = per_query_metrics(first, queries.targets, [first.shape[1]])[f"hitrate@{first.shape[1]}"] > 0
    out = []
    for i, output in enumerate(outputs):
        per_query = per_query_metrics(_padded(output.ids, k), queries.targets, [k])[f"ndcg@{k}"]
        entry = {f"reachable_ndcg@{k}": float(per_query[hits].mean()) if hits.any() else 0.0}
        if i == 0:
            in_list = np.zeros(first.shape, bool)
            for q in range(len(first)):
                in_list[q] = np.isin(first[q], queries.targets[q]) & (first[q] >= 0)
            oracle = np.take_along_axis(first, np.argsort(~in_list, axis=1, kind="stable"), 1)
            entry.update({"reachable_share": float(hits.mean()),
                          f"oracle_ndcg@{k}": float(per_query_metrics(_padded(oracle, k), queries.targets,
                                                                       [k])[f"ndcg@{k}"].mean())})
        out.append(entry)
    return out


def _padded(ids: np.ndarray, k: int) -> np.ndarray:
    """``ids`` (Q, K) with -1 columns (never a hit) up to width ``k``."""
    return ids if ids.shape[1] >= k else np.pad(ids, ((0, 0), (0, k - ids.shape[1])), constant_values=-1)


def evaluate_stages(outputs: list[StageOutput], queries: EvalQueries, ks: Sequence[int] = (10, 20, 50),
                    item_counts: np.ndarray | None = None) -> list[dict]:
    """``[{"name", "k", **metrics, **limits}, …]`` in pipeline order; with the train ``item_counts``, also each
    stage's ``arp@50``, ``coverage@50``, ``tail_share@50`` and ``unbiased/recall@50``, ``unbiased/ndcg@50``
    (``towernas.eval.bias``; at the stage's k when it keeps fewer than 50)."""
    return [{"name": o.name, "k": o.k, **stage_metrics(o, queries, ks, item_counts), **limit}
            for o, limit in zip(outputs, limits(outputs, queries))]
