"""A trained cascade at several list lengths K0, each with what one request costs: its quality-vs-cost curve.

``cascade.k0_sweep=[20,50,100]``: every pipeline (with the exported retriever) is also served with the
retriever's top-K0 for each K0 of the list, its rankers as trained (a stage keeps at most its input: at K0 below
``k1`` the ranker only reorders). A point is ``{"k0", "cost", "valid", "test"}``: ``cost`` is the request's
FLOPs (``towernas.complexity.cascade``, counted on one real request), and each split holds the last stage's
Recall / NDCG / HitRate@10 and the measured milliseconds per request (batches of 256 queries on this machine).
The retriever alone is the point of cost ``user tower + retrieval``. ``front`` marks the points no other point
beats on validation at no more FLOPs: the choice per budget is made on validation, test is reported beside it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from towernas.cascade.evaluate import stage_metrics
from towernas.cascade.retriever_stage import RetrieverStage
from towernas.cascade.stages import Cascade, RankerStage, query_batch
from towernas.complexity.cascade import RequestCost, exact_search_flops, forward_flops
from towernas.data.interactions import EvalQueries, InteractionData
from towernas.eval.pareto import pareto_front
from towernas.runs import seeds, tables

POINT_METRICS = ("ndcg@10", "recall@10", "hitrate@10")


def request_cost(cascade: Cascade, data: InteractionData, queries: EvalQueries, device="cpu") -> RequestCost:
    """FLOPs of serving the first query of ``queries`` through ``cascade``: its retriever's top ``k0``, then each
    ranker stage over the list the one before it kept."""
    retriever, one = cascade.retriever, slice(0, 1)
    users, positions = queries.users[one], queries.positions[one]
    user = forward_flops(retriever.program, *retriever.inputs(data, users, positions))
    vectors = retriever.encode(data, users, positions)
    retrieval = exact_search_flops(len(retriever.items), retriever.items.shape[1],
                                   vectors.shape[1] if vectors.ndim == 3 else 1)
    batch = query_batch(data, queries, one, device, vectors)
    counted, n = [], cascade.k0
    for stage in cascade.rankers:
        items = torch.arange(n, device=device).remainder(data.n_items).view(1, n)
        was = stage.ranker.training
        stage.ranker.eval()
        try:
            counted.append((stage.name, n, forward_flops(stage.ranker, batch, items)))
        finally:
            stage.ranker.train(was)
        n = stage.k  # what this stage passes on (Cascade checked it keeps at most its input)
    return RequestCost(user, retrieval, tuple(counted))


def cascade_at(retriever: RetrieverStage, stages: Sequence[RankerStage], k0: int, device="cpu") -> Cascade:
    """``stages`` served on the top ``k0``: each keeps at most what it receives."""
    kept, n = [], k0
    for stage in stages:
        n = min(stage.k, n)
        kept.append(RankerStage(stage.name, stage.ranker, n))
    return Cascade(retriever, k0, kept, device=device)


def point(outputs, queries: EvalQueries) -> dict:
    """The last stage's metrics at 10 and the milliseconds per request of the whole cascade."""
    metrics = stage_metrics(outputs[-1], queries, (10,))
    seconds = sum(o.seconds for o in outputs)
    return {**{m: metrics[m] for m in POINT_METRICS}, "ms_per_request": 1000.0 * seconds / max(1, len(queries.users))}


def sweep_k0(retriever: RetrieverStage, stages: Sequence[RankerStage], ks: Sequence[int], data: InteractionData,
             queries: dict[str, EvalQueries], device="cpu") -> list[dict]:
    """One point per K0 of ``ks`` (module docstring); validation, then test."""
    out = []
    for k0 in ks:
        cascade = cascade_at(retriever, stages, k0, device)
        out.append({"k0": k0, "cost": request_cost(cascade, data, queries["valid"], device).to_dict(),
                    **{split: point(cascade.topk(data, queries[split]), queries[split])
                       for split in ("valid", "test")}})
    return out


def retriever_point(retriever: RetrieverStage, data: InteractionData, queries: dict[str, EvalQueries],
                    device="cpu") -> dict:
    """The retriever alone (its top 10): the sweep's cheapest point."""
    cascade = Cascade(retriever, 10, [], device=device)
    return {"k0": 10, "cost": request_cost(cascade, data, queries["valid"], device).to_dict(),
            **{split: point(cascade.topk(data, queries[split]), queries[split]) for split in ("valid", "test")}}


def front(points: Sequence[dict], metric: str = "ndcg@10") -> list[bool]:
    """Per point: on the Pareto front of (FLOPs per request, validation ``metric``)."""
    on = set(pareto_front([(p["cost"]["flops"], p["valid"][metric]) for p in points]))
    return [i in on for i in range(len(points))]


def aggregate_sweep(records: Sequence[dict], alone: dict) -> list[dict]:
    """The quality-vs-cost points of a run: the retriever ``alone`` (a ``retriever_point``), then every pipeline's
    sweep (records of the exported retriever) with each split's metrics as mean and std over seeds; each point
    marked ``front`` (on validation)."""
    points = [{"name": "retriever alone", "k0": alone["k0"], "seeds": 1, "cost": alone["cost"],
               **{split: dict(alone[split]) for split in ("valid", "test")}}]
    swept = [r for r in records if r.get("sweep")]
    for (ranker, negatives), mine in seeds.group(swept, lambda r: (r["ranker"], r["negatives"])).items():
        for i, first in enumerate(mine[0]["sweep"]):
            points.append({"name": f"{ranker} ({negatives})", "k0": first["k0"], "seeds": len(mine),
                           "cost": first["cost"],
                           **{split: seeds.over_seeds([r["sweep"][i][split] for r in mine])
                              for split in ("valid", "test")}})
    for p, on in zip(points, front(points)):
        p["front"] = on
    return sorted(points, key=lambda p: (p["cost"]["flops"], p["name"]))


def sweep_table(points: Sequence[dict]) -> str:
    """Markdown: every point by FLOPs per request, with its validation and test N@10 and milliseconds."""
    rows = [[p["name"], str(p["k0"]), f"{p['cost']['flops']:,}", _cell(p["valid"], "ndcg@10"),
             _cell(p["test"], "ndcg@10"), f"{p['test']['ms_per_request']:.2f}", "yes" if p["front"] else ""]
            for p in points]
    return tables.markdown(["cascade", "K0", "FLOPs / request", "valid N@10", "test N@10", "ms / request (test)",
                            "on the front (valid)"], rows)


def _cell(metrics: dict, name: str) -> str:
    return tables.mean_std_text(metrics[name], metrics.get(f"{name}_std") or None)
