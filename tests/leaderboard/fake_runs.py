"""Small run directories in the formats the commands write (``towernas.retrain``, ``towernas.search``,
``towernas.rank``, ``towernas.cascade`` and their ``towernas.runs.tracking`` JSONL logs), for the leaderboard's
tests. Shapes follow real runs (``bench_results/compare-runs``) and the commands' code (``results_table``,
``aggregate``); numbers are made up."""

from __future__ import annotations

import json
from pathlib import Path

EVIL = '<img src=x onerror="alert(1)">&'  # a model name no page may render as markup


def _write(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))


def _jsonl(path: Path, records: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def _cost(user_flops: int, item_flops: int) -> dict:
    return {"user": {"params": user_flops - 1000, "flops": user_flops},
            "item": {"params": item_flops - 1000, "flops": item_flops}}


def table_row(model: str, recall: float, user_flops: int, item_flops: int, size: str | None = None,
              seeds: int = 2, bias: bool = False) -> dict:
    """A row of a retrain ``results.json`` table (``towernas.retrain.aggregate``)."""
    row = {"model": model, "size": size, "seeds": seeds, "complexity": _cost(user_flops, item_flops),
           "recall@20": recall * 0.6, "recall@20_std": 0.002, "recall@50": recall, "recall@50_std": 0.004,
           "ndcg@50": recall * 0.8, "ndcg@50_std": 0.003}
    if bias:
        row.update({"arp@50": 60.0 + 100 * recall, "arp@50_std": 0.5, "coverage@50": 0.7, "coverage@50_std": 0.0,
                    "tail_share@50": 0.45, "tail_share@50_std": 0.01, "unbiased/recall@50": recall * 0.85,
                    "unbiased/recall@50_std": 0.002, "unbiased/ndcg@50": recall / 2, "unbiased/ndcg@50_std": 0.0})
    return row


def retrain_run(path: Path, budget: str, rows: list[dict], dataset: str = "synthetic") -> Path:
    """``results.json`` and a ``retrain.jsonl`` with 3 epochs per model and seed (the first model's seed 0
    logged twice: a rerun appended to the log, whose curve replaces the first)."""
    _write(path / "results.json", {"dataset": dataset, "budget": budget, "records": [], "table": rows,
                                   "sizing": {}})
    log = []
    for i, row in enumerate(rows):
        for seed in range(row["seeds"]):
            runs = 2 if i == 0 and seed == 0 else 1
            for rerun in range(runs):
                log += [{"model": row["model"], "seed": seed, "epoch": e, "train_loss": 6.0 - e - rerun,
                         "valid/recall@50": row["recall@50"] - 0.01 * (3 - e), "seconds": 1.0} for e in (1, 2, 3)]
    _jsonl(path / "retrain.jsonl", log)
    return path


def search_run(path: Path) -> Path:
    """An evolutionary search: summary, per-generation log, supernet log (one step re-logged by a resume),
    evolution state, selection cache and the selection's first architecture file."""
    genome = ["avg", "MLP-32", "EW-ip", "MLP-64", "EW-max", "skip", "MLP-16", "SA-1", "EW-sum", "EW-avg", "MLP-32"]
    selection = [{"genome": genome, "fitness": -0.31, "fitness_rank": 2, "short": 0.30, "seconds": 10.0,
                  "short_rank": 1, "retrained": 0.304, "retrained_std": 0.0037},
                 {"genome": ["recency", *genome[1:]], "fitness": -0.30, "fitness_rank": 7, "short": 0.29,
                  "seconds": 9.0, "short_rank": 2}]
    history = [{"generation": g, "best_fitness": -0.30 - 0.004 * g, "median_fitness": -0.28 - 0.005 * g,
                "feasible_count": 8, "unique_evaluations": 8 * (g + 1), "best_genome": genome, "elapsed": 1.0 * g,
                "repaired": 1, "parent_fallbacks": 0} for g in range(4)]
    _write(path / "summary.json", {
        "run_dir": str(path), "resumed": False, "dataset": {"users": 100}, "budget": "budget L (params <= 240000)",
        "space": "towernas", "strategy": "evolution", "fitness": "recall",
        "supernet": {"steps": 200, "final_train_loss": 4.1, "best_step": 150, "best_val_loss": -0.29,
                     "stopped_early": False, "seconds": 9.0},
        "search": {"mode": "single", "unique_evaluations": 32, "mlp_seeds": 4, "generations_run": 3,
                   "seconds_this_call": 4.0},
        "selection": selection,
        "best": {"schema": 1, "space": "towernas", "pooling": "avg", "user": genome[1:6], "item": genome[6:],
                 "complexity": _cost(60000, 48000)}})
    _jsonl(path / "search.jsonl", history)
    steps = [{"step": s, "loss": 7.0 - s / 50, "lr": 0.002, "elapsed": s / 10} for s in (50, 100, 150, 200)]
    steps += [{"step": s, "val_loss": -0.1 - s / 1000, "best_val_loss": -0.25, "best_step": s} for s in (100, 200)]
    steps.append({"step": 200, "loss": 3.0, "lr": 0.002, "elapsed": 20.0})  # re-logged after a resume
    _jsonl(path / "supernet.jsonl", steps)
    _write(path / "evolution_state.json", {"format": "towernas-evolution", "version": 1, "generation": 3,
                                           "history": history})
    _write(path / "selection.json", {})
    _write(path / "archs" / "top1.json", {"pooling": "avg", "user": genome[1:6], "item": genome[6:],
                                          "complexity": _cost(60000, 48000)})
    return path


def rank_run(path: Path) -> Path:
    """A CTR run (``towernas.rank``): two rankers, AUC/GAUC/logloss and cost."""
    table = [{"model": name, "seeds": 2, "cost": {"params": p, "embedding_params": p // 6, "flops_per_pair": p + 500,
                                                  "flops_per_candidate": p + 300},
              "auc": auc, "auc_std": 0.01, "gauc": auc - 0.02, "gauc_std": 0.01, "logloss": 0.7, "logloss_std": 0.0}
             for name, auc, p in (("deepfm", 0.71, 86530), ("din", 0.74, 120000))]
    _write(path / "results.json", {"dataset": "synthetic-tiny", "ranker": {"name": "deepfm"}, "label": {},
                                   "pairs": {}, "records": [], "table": table})
    _jsonl(path / "rank.jsonl", [{"ranker": t["model"], "seed": 0, "epoch": e, "train_loss": 0.7 - 0.02 * e,
                                  "valid/auc": t["auc"] - 0.01 * (3 - e)} for t in table for e in (1, 2, 3)])
    return path


def _stage_metrics(base: float, k: int, std: bool) -> dict:
    m = {"recall@10": base, "recall@20": base * 1.5, "recall@50": base * 2.5, "ndcg@10": base * 0.8,
         "ndcg@20": base * 0.9, "ndcg@50": base * 1.2, "hitrate@10": base * 3, "hitrate@20": base * 4,
         "hitrate@50": base * 5, "ceiling_recall": base * 2.8, "seconds_per_1000_users": 0.08,
         "arp@50": 10.3, "coverage@50": 0.9, "tail_share@50": 0.55, "unbiased/recall@50": base * 2.2,
         "unbiased/ndcg@50": base}
    if k < 50:  # a stage keeping fewer than 50 items: no @50 metrics; its bias at its k
        for name in ("recall@50", "ndcg@50", "hitrate@50"):
            del m[name]
        for name in ("arp@50", "coverage@50", "tail_share@50", "unbiased/recall@50", "unbiased/ndcg@50"):
            m[name.replace("@50", f"@{k}")] = m.pop(name)
    return {**m, **({f"{n}_std": 0.001 for n in list(m)} if std else {})}


def cascade_run(path: Path) -> Path:
    """A cascade (``towernas.cascade``): the retriever alone, two pipelines retriever (k0=60) -> ranker (k1=20)."""
    def stages(base: float) -> list[dict]:
        return [{"name": "retriever", "k": 60, "valid": _stage_metrics(0.15, 60, True),
                 "test": _stage_metrics(0.13, 60, True)},
                {"name": "din", "k": 20, "valid": _stage_metrics(base + 0.01, 20, True),
                 "test": _stage_metrics(base, 20, True)}]

    pipelines = [{"name": f"din ({mode})", "ranker": "din", "negatives": mode, "joint": "none", "seeds": 2,
                  "stages": stages(base)} for mode, base in (("uniform", 0.14), ("top", 0.12))]
    alone = [{"name": "retriever", "k": 60, "valid": _stage_metrics(0.15, 60, False),
              "test": _stage_metrics(0.13, 60, False)}]

    def point(name: str, k0: int, flops: int, ndcg: float, front: bool) -> dict:  # towernas.cascade.sweep's
        split = {"ndcg@10": ndcg, "recall@10": ndcg / 2, "hitrate@10": 2 * ndcg, "ms_per_request": 0.5}
        return {"name": name, "k0": k0, "seeds": 2, "cost": {"flops": flops}, "valid": split, "test": split,
                "front": front}

    sweep = [point("retriever alone", 10, 1000, 0.13, True), point("din (uniform)", 20, 5000, 0.14, True),
             point("din (uniform)", 60, 13000, 0.135, False)]
    _write(path / "results.json", {"dataset": "synthetic-tiny", "budget": "L", "retriever_dir": "x", "k0": 60,
                                   "retriever": alone, "pipelines": pipelines, "records": [],
                                   "best": "din (uniform)", "stages": pipelines[0]["stages"], "sweep": sweep})
    _jsonl(path / "cascade.jsonl", [{"ranker": "din", "negatives": "uniform", "seed": 0, "epoch": e,
                                     "train_loss": 0.9 - 0.1 * e, "valid/ndcg@10": 0.13 + 0.001 * e}
                                    for e in (0, 1, 2)])
    return path


def all_runs(root: Path) -> dict[str, Path]:
    """Two retrain runs of budget L (the baselines with the in-budget GoogleDNN, the winners with bias metrics and
    an HTML-hostile model name), one of budget M, one of another dataset without a GoogleDNN, and a search, a
    rank and a cascade run."""
    return {
        "baselines_L": retrain_run(root / "L" / "baselines", "L", [
            table_row("google_dnn", 0.25, 57000, 57000, size="[128,128]"),
            table_row("google_dnn_paper", 0.24, 157000, 156000), table_row("searched", 0.28, 60000, 81000)]),
        "winners_L": retrain_run(root / "L" / "winners", "L", [
            table_row("searched", 0.30, 60000, 48000, bias=True), table_row(EVIL, 0.20, 9000, 104000, bias=True)]),
        "baselines_M": retrain_run(root / "M" / "baselines", "M", [
            table_row("google_dnn", 0.26, 116000, 115000, size="[256,128]"),
            table_row("searched", 0.286, 34000, 227000)]),
        "other": retrain_run(root / "other", "L", [table_row("searched", 0.1, 1000, 1000, seeds=1)],
                             dataset="ml-1m"),
        "search": search_run(root / "L" / "search"),
        "rank": rank_run(root / "rank"),
        "cascade": cascade_run(root / "cascade"),
    }
