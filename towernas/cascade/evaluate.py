"""Stage-wise evaluation of a cascade: every stage's output list scored on the same targets.

Per stage: Recall / NDCG / HitRate @{10, 20, 50} (the cut-offs not above the stage's K), its Recall@K_stage
(the ceiling of the stages after it) and its seconds per 1,000 users.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from towernas.data.interactions import EvalQueries
from towernas.eval.bias import bias_metrics
from towernas.eval.encode import BIAS_K
from towernas.eval.metrics import mean_metrics
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


def evaluate_stages(outputs: list[StageOutput], queries: EvalQueries, ks: Sequence[int] = (10, 20, 50),
                    item_counts: np.ndarray | None = None) -> list[dict]:
    """``[{"name", "k", **metrics}, …]`` in pipeline order; with the train ``item_counts``, also each stage's
    ``arp@50``, ``coverage@50``, ``tail_share@50`` and ``unbiased/recall@50``, ``unbiased/ndcg@50``
    (``towernas.eval.bias``; at the stage's k when it keeps fewer than 50)."""
    return [{"name": o.name, "k": o.k, **stage_metrics(o, queries, ks, item_counts)} for o in outputs]
