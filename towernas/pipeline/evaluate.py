"""Stage-wise evaluation of a cascade: every stage's output list scored on the same targets.

Per stage: Recall / NDCG / HitRate @{10, 20, 50} (the cut-offs not above the stage's K), its Recall@K_stage
(the ceiling of the stages after it) and its seconds per 1,000 users.
"""

from __future__ import annotations

from collections.abc import Sequence

from towernas.data.interactions import EvalQueries
from towernas.eval.metrics import mean_metrics
from towernas.pipeline.cascade import StageOutput

REPORTED = ("recall", "ndcg", "hitrate")


def stage_metrics(output: StageOutput, queries: EvalQueries, ks: Sequence[int] = (10, 20, 50)) -> dict[str, float]:
    cuts = sorted({k for k in ks if k <= output.k} | {output.k})
    means = mean_metrics(output.ids, queries.targets, cuts)
    out = {f"{m}@{k}": means[f"{m}@{k}"] for m in REPORTED for k in cuts if k in ks}
    out[f"recall@{output.k}"] = means[f"recall@{output.k}"]
    out["ceiling_recall"] = means[f"recall@{output.k}"]
    out["seconds_per_1000_users"] = 1000.0 * output.seconds / max(1, len(queries.users))
    return out


def evaluate_stages(outputs: list[StageOutput], queries: EvalQueries, ks: Sequence[int] = (10, 20, 50)) -> list[dict]:
    """``[{"name", "k", **metrics}, …]`` in pipeline order."""
    return [{"name": o.name, "k": o.k, **stage_metrics(o, queries, ks)} for o in outputs]
