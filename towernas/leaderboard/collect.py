"""Read run directories into rows: the retrieval leaderboard, rank (CTR) rows, cascade stages, and the JSONL
logs behind the curves (``towernas.runs.tracking`` streams).

Retrieval rows carry test R@50 and N@50 (mean and std over seeds), the ``flat_cost`` columns, the
popularity-bias metrics when the run has them (``BIAS``) and ``delta_recall@50_pct``: Δ% R@50 vs the
in-budget GoogleDNN (``tables.REFERENCE_MODEL``) of the same dataset and budget, from whichever run holds it.

Example:
    >>> results = {"dataset": "d", "budget": "L", "table": [
    ...     {"model": "google_dnn", "size": "[64]", "seeds": 1, "recall@50": 0.2, "recall@50_std": 0.0,
    ...      "ndcg@50": 0.1, "ndcg@50_std": 0.0, "complexity": None},
    ...     {"model": "searched L #1", "seeds": 1, "recall@50": 0.25, "recall@50_std": 0.0, "ndcg@50": 0.1,
    ...      "ndcg@50_std": 0.0, "complexity": None, "arp@50": 12.5}]}
    >>> rows = [retrain_row(results, r, bias=True) for r in results["table"]]
    >>> add_reference_deltas(rows)
    >>> [(r["model"], round(r["delta_recall@50_pct"], 1), r.get("arp@50")) for r in rows]
    [('google_dnn', 0.0, None), ('searched L #1', 25.0, 12.5)]
"""

from __future__ import annotations

import json
from pathlib import Path

from towernas.runs import tables
from towernas.runs.records import read_lines

BIAS = ("arp@50", "tail_share@50", "unbiased/recall@50")  # towernas.eval.bias, in retrain tables when computed
DELTA = "delta_recall@50_pct"
# the log of each kind of run: its stream, the keys naming one curve, and the validation metric plotted
STREAMS = {"retrain": ("retrain.jsonl", ("model",), "recall@50"), "rank": ("rank.jsonl", ("ranker",), "auc"),
           "cascade": ("cascade.jsonl", ("ranker", "negatives"), "ndcg@10"),
           "cascade-search": ("cascade.jsonl", ("ranker", "negatives"), "ndcg@10"),
           "ranker-search": ("rank.jsonl", ("ranker",), "auc")}  # its finalists' trainings


def retrain_row(results: dict, row: dict, bias: bool = False) -> dict:
    """One leaderboard row from a retrain ``results.json`` table row (with ``BIAS`` columns if ``bias``)."""
    out = {"dataset": results["dataset"], "budget": results["budget"], "model": row["model"],
           "size": row.get("size"), "seeds": row["seeds"], "recall@50": row["recall@50"],
           "recall@50_std": row["recall@50_std"], "ndcg@50": row["ndcg@50"], "ndcg@50_std": row["ndcg@50_std"],
           **tables.flat_cost(row["complexity"])}
    if bias:
        for metric in BIAS:
            if metric in row:
                out[metric], out[f"{metric}_std"] = row[metric], row.get(f"{metric}_std", 0.0)
    return out


def add_reference_deltas(rows: list[dict]) -> None:
    """``DELTA`` of every row vs the in-budget GoogleDNN of its dataset and budget (None without one)."""
    tables.add_deltas(rows, "recall@50", tables.REFERENCE_MODEL, DELTA, group=("dataset", "budget"))


def rank_rows(results: dict) -> list[dict]:
    """The rows of a rank run's table: AUC, GAUC, logloss (mean, std) and the ranker's cost."""
    return [{"dataset": results["dataset"], "model": row["model"], "seeds": row["seeds"],
             **{k: row[k] for m in ("auc", "gauc", "logloss") for k in (m, f"{m}_std") if k in row},
             **{k: row.get("cost", {}).get(k) for k in ("params", "embedding_params", "flops_per_pair")}}
            for row in results["table"]]


BIAS_AT_K = ("arp@", "coverage@", "tail_share@", "unbiased/")  # a stage keeping < 50 items reports these at its k


def stage_metric(metrics: dict, name: str, k: int) -> tuple[str, float | None]:
    """(the key read, its value) of a cascade stage's ``name``: a popularity-bias or unbiased ``@50`` metric of a
    stage keeping fewer than 50 items is read at the stage's k (``towernas.cascade.evaluate``); its Recall or
    NDCG@50 does not exist (None)."""
    if name not in metrics and name.endswith("@50") and name.startswith(BIAS_AT_K):
        name = f"{name[:-3]}@{k}"
    return name, metrics.get(name)


def cascade_stages(results: dict) -> list[dict]:
    """Test metrics of the retriever alone, then of every stage of every pipeline (``pipeline``, ``stage``,
    ``k``, ``seeds``, ``best``: the pipeline chosen on validation, ``test``: the stage's metrics)."""
    alone = results["retriever"][0]
    out = [{"pipeline": "retriever alone", "stage": alone["name"], "k": alone["k"], "seeds": None, "best": False,
            "test": alone["test"]}]
    for p in results["pipelines"]:
        out += [{"pipeline": p["name"], "stage": s["name"], "k": s["k"], "seeds": p.get("seeds"),
                 "best": p["name"] == results.get("best"), "test": s["test"]} for s in p["stages"]]
    return out


def searched_cascades(runs) -> list[dict]:
    """The cascade each joint search (``python -m towernas.search task=cascade``) chose on validation: ``run``,
    ``dataset``, ``seed``, ``budget``, ``k0``, ``path``, ``cost``, ``valid``, ``test`` (the point's metrics)."""
    out = []
    for run in runs:
        s, best = run.data, run.data["best"]
        out.append({"run": run.label, "dataset": s.get("dataset"), "seed": s.get("seed"),
                    "budget": s["budget"]["flops_per_request"], "k0": best["k0"], "path": best["path"],
                    "hand_built": best.get("hand_built", False), "cost": best["cost"], "valid": best["valid"],
                    "test": best["test"]})
    return out


def read_jsonl(path: Path) -> list[dict]:
    """The records of a JSONL log (``runs.records.read_lines``: a missing file is empty, a line cut by a crash
    skipped), keeping the objects only."""
    return [record for record in read_lines(path) if isinstance(record, dict)]


def curves(records: list[dict], keys: tuple[str, ...]) -> dict[str, list[tuple[int, dict]]]:
    """Per-epoch records grouped into curves, ``"<key values>\\tseed <s>"`` -> [(epoch, record)]. A group
    whose epoch goes back (a rerun appended to the log) starts over: the latest run's curve is kept."""
    out: dict[str, list[tuple[int, dict]]] = {}
    for r in records:
        if not isinstance(r.get("epoch"), int) or any(k not in r for k in keys):
            continue
        key = " ".join(str(r[k]) for k in keys) + f"\tseed {r.get('seed', '?')}"
        points = out.setdefault(key, [])
        if points and r["epoch"] <= points[-1][0]:
            points.clear()
        points.append((r["epoch"], r))
    return out


def by_last(records: list[dict], key: str) -> list[dict]:
    """One record per ``record[key]`` (the last one logged: a resumed run re-logs), sorted by it."""
    latest = {r[key]: r for r in records if isinstance(r.get(key), (int, float))}
    return [latest[k] for k in sorted(latest)]


def search_history(run: Path) -> list[dict]:
    """Per-generation evolution records: ``search.jsonl``, else ``evolution_state.json``'s ``history``."""
    history = read_jsonl(run / "search.jsonl")
    if not history and (run / "evolution_state.json").exists():
        try:
            history = json.loads((run / "evolution_state.json").read_text()).get("history", [])
        except (OSError, json.JSONDecodeError, AttributeError):
            history = []
    return by_last([h for h in history if isinstance(h, dict) and "best_fitness" in h], "generation")


def supernet_losses(run: Path) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
    """(step, train loss) and (step, validation loss) of ``supernet.jsonl``."""
    records = read_jsonl(run / "supernet.jsonl")
    train = by_last([r for r in records if isinstance(r.get("loss"), (int, float))], "step")
    valid = by_last([r for r in records if isinstance(r.get("val_loss"), (int, float))], "step")
    return [(r["step"], r["loss"]) for r in train], [(r["step"], r["val_loss"]) for r in valid]


def selection_rows(run: Path, summary: dict) -> list[dict]:
    """The search's final selection in order (``archs/top<i>.json`` is the i-th): genome split into pooling /
    user ops / item ops, supernet fitness and rank, short and full retrain R@50, cost when the arch file has it."""
    depth = len(summary.get("best", {}).get("user", [])) or None
    rows = []
    for i, entry in enumerate(summary["selection"], 1):
        genome = [str(g) for g in entry.get("genome", [])]
        row = {"rank": i, "pooling": genome[0] if genome else None,
               "user": " ".join(genome[1:1 + depth] if depth else genome[1:]),
               "item": " ".join(genome[1 + depth:]) if depth else "",
               **{k: entry.get(k) for k in ("fitness", "fitness_rank", "short", "retrained", "retrained_std")}}
        arch = run / "archs" / f"top{i}.json"
        try:
            row.update(tables.flat_cost(json.loads(arch.read_text()).get("complexity")))
        except (OSError, json.JSONDecodeError, AttributeError, KeyError, TypeError):
            pass
        rows.append(row)
    return rows
