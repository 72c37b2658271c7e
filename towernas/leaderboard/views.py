"""The leaderboard's tables, as data (``html.Table``): which columns, how each cell reads and sorts.

Numbers show as the run files' Markdown tables do (``towernas.runs.tables``: mean ± std over seeds, costs in
thousands, Δ% signed) and sort by their raw value.

Example:
    >>> row = {"dataset": "d", "budget": "L", "model": "google_dnn", "size": "[64]", "seeds": 2, "run": "a",
    ...        "recall@50": 0.2, "recall@50_std": 0.01, "ndcg@50": 0.1, "ndcg@50_std": 0.0,
    ...        "delta_recall@50_pct": 0.0}
    >>> t = leaderboard_table([row])
    >>> [(c.text, c.sort) for c in t.rows[0][2:6]]
    [('google_dnn [64]', None), ('a', None), ('2', 2), ('0.2000 ± 0.0100', 0.2)]
    >>> t.rows[0][-1].text, t.row_classes
    ('+0.0%', ['reference'])
"""

from __future__ import annotations

from towernas.leaderboard.collect import BIAS, DELTA, stage_metric
from towernas.leaderboard.html import Cell, Column, Table
from towernas.runs import tables
from towernas.runs.fitness_view import FitnessView

NA = Cell("–", numeric=True)  # a number the run does not have: sorts last

COST = [Column("up", "user params", "user-tower parameters"), Column("uf", "user FLOPs", "user-tower FLOPs per user"),
        Column("ip", "item params", "item-tower parameters"), Column("if", "item FLOPs", "item-tower FLOPs per item")]
BIAS_COLUMNS = [Column("arp", "ARP@50", "average popularity (train interactions) of the top-50 items"),
                Column("tail", "tail share@50", "share of top-50 slots holding a tail (least popular) item"),
                Column("ur50", "unbiased R@50", "Recall@50 on the intervened (popularity-debiased) test users")]
CASCADE_METRICS = [("r10", "recall@10", "R@10"), ("n10", "ndcg@10", "N@10"), ("hr10", "hitrate@10", "HR@10"),
                   ("r50", "recall@50", "R@50"), ("n50", "ndcg@50", "N@50"), ("arp", "arp@50", "ARP@50"),
                   ("ur50", "unbiased/recall@50", "unbiased R@50"), ("ceil", "ceiling_recall", "Recall@k")]


def number(value, fmt: str = ".4f") -> Cell:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    return Cell(format(value, fmt), value) if ok else NA


def mean_std(row: dict, metric: str, fmt: str = ".4f") -> Cell:
    """``mean ± std`` (the mean alone for one seed or a zero std), sorted by the mean; '–' when absent."""
    if not isinstance(row.get(metric), (int, float)):
        return NA
    std = row.get(f"{metric}_std")
    text = format(row[metric], fmt)
    if std and row.get("seeds", 2) != 1:
        text += f" ± {std:{fmt}}"
    return Cell(text, row[metric])


def count(value) -> Cell:
    return Cell(tables.thousands(value), value) if isinstance(value, (int, float)) else NA


def delta(value) -> Cell:
    return Cell(tables.delta_cell(value), value) if value is not None else NA


def leaderboard_table(rows: list[dict]) -> Table:
    """dataset × budget × model: test R@50, N@50, costs per tower, Δ R@50 vs the in-budget GoogleDNN, and the
    popularity-bias columns when any row has them."""
    bias = any(m in r for r in rows for m in BIAS)
    columns = [Column("dataset", "dataset"), Column("budget", "budget"), Column("model", "model",
               "model (in-budget baselines with their size)"), Column("run", "run", "run directory"),
               Column("seeds", "seeds"), Column("r50", "R@50", "test Recall@50, mean ± std over seeds"),
               Column("n50", "N@50", "test NDCG@50, mean ± std over seeds"), *COST,
               Column("delta", "Δ R@50", tables.DELTA_HEADER + " of the same dataset and budget"),
               *(BIAS_COLUMNS if bias else [])]
    out = []
    for r in rows:
        cells = [Cell(r["dataset"]), Cell(r["budget"]), Cell(tables.model_cell(r)),
                 Cell(r["run"], title=r.get("path", "")),
                 number(r["seeds"], "d"), mean_std(r, "recall@50"), mean_std(r, "ndcg@50"),
                 *(count(r.get(k)) for k in tables.COST_COLUMNS), delta(r.get(DELTA))]
        if bias:
            cells += [mean_std(r, "arp@50", ".1f"), mean_std(r, "tail_share@50", ".3f"),
                      mean_std(r, "unbiased/recall@50")]
        out.append(cells)
    classes = ["reference" if r["model"] == tables.REFERENCE_MODEL else "" for r in rows]
    return Table("leaderboard", columns, out, row_classes=classes)


def rank_table(rows: list[dict]) -> Table:
    """Rankers on the CTR task: test AUC, GAUC, logloss (mean ± std over seeds) and cost."""
    columns = [Column("dataset", "dataset"), Column("ranker", "ranker"), Column("run", "run"), Column("seeds", "seeds"),
               Column("auc", "AUC", "test AUC"), Column("gauc", "GAUC", "test GAUC (pair-weighted per-user AUC)"),
               Column("logloss", "logloss", "test logloss (lower is better)"), Column("params", "params"),
               Column("emb", "embedding params"), Column("flops", "FLOPs/pair", "FLOPs per scored pair")]
    out = [[Cell(r["dataset"]), Cell(r["model"]), Cell(r["run"]), number(r["seeds"], "d"), mean_std(r, "auc"),
            mean_std(r, "gauc"), mean_std(r, "logloss"), count(r.get("params")), count(r.get("embedding_params")),
            count(r.get("flops_per_pair"))] for r in rows]
    return Table("rank", columns, out)


def ranker_finalists_table(table_id: str, finalists: list[dict], metric: str) -> Table:
    """A ranker search's finalists (its ``summary.json``): genome, fitness, validation and test ``metric``, cost."""
    columns = [Column("genome", "genome"), Column("hand", "hand-built"), Column("fitness", f"fitness {metric}"),
               Column("valid", f"valid {metric}"), Column("test", f"test {metric}"),
               Column("flops", "FLOPs / candidate"), Column("params", "params")]
    rows = [[Cell(" ".join(f["genome"])), Cell("yes" if f.get("hand_built") else ""), number(f.get("supernet")),
             number(f["valid"].get(metric)), number(f["test"].get(metric)), number(f["cost"]["flops"], ",d"),
             number(f["cost"]["params"], ",d")] for f in finalists]
    return Table(table_id, columns, rows, caption="trained as python -m towernas.rank trains them; test read once",
                 row_classes=["best" if i == 0 else "" for i in range(len(rows))])


def searched_cascade_table(winners: list[dict]) -> Table:
    """The joint searches' cascades (``collect.searched_cascades``): budget, K0, ranker path, cost, N@10."""
    columns = [Column("run", "run"), Column("dataset", "dataset"), Column("budget", "budget", "FLOPs per request"),
               Column("k0", "K0"), Column("path", "ranker path"), Column("flops", "FLOPs / request"),
               Column("valid", "valid N@10"), Column("test", "test N@10")]
    rows = [[Cell(w["run"]), Cell(str(w["dataset"])), number(w["budget"], ",d"), number(w["k0"], "d"),
             Cell(" ".join(w["path"]) + (" (hand-built)" if w["hand_built"] else "")),
             number(w["cost"]["flops"], ",d"), number(w["valid"]["ndcg@10"], ".4f"),
             number(w["test"]["ndcg@10"], ".4f")] for w in winners]
    return Table("cascade-search", columns, rows, caption="each search's cascade, chosen on validation within its "
                 "budget; test read once")


def cascade_table(table_id: str, stages: list[dict]) -> Table:
    """Every stage of every pipeline on test (the retriever alone first), Δ N@10 vs the retriever alone and
    the stage's time; the pipeline chosen on validation highlighted."""
    base = stages[0]["test"].get("ndcg@10")
    columns = [Column("pipeline", "pipeline"), Column("stage", "stage"), Column("k", "k", "items the stage keeps"),
               Column("seeds", "seeds"), *(Column(key, header, name) for key, name, header in CASCADE_METRICS),
               Column("delta", "Δ N@10", "vs the retriever alone"), Column("ms", "ms / 1k users", "stage time")]
    out = []
    for s in stages:
        test = s["test"]
        metric_cells = []
        for _, name, _ in CASCADE_METRICS:
            read, value = stage_metric(test, name, s["k"])
            cell = mean_std({"m": value, "m_std": test.get(f"{read}_std"), "seeds": s["seeds"] or 1}, "m",
                            ".2f" if name.startswith("arp") else ".4f")
            metric_cells.append(Cell(cell.text, cell.sort, title=read if read != name else "", numeric=True))
        n10 = test.get("ndcg@10")
        seconds = test.get("seconds_per_1000_users")
        out.append([Cell(s["pipeline"] + (" ★" if s["best"] else "")), Cell(s["stage"]), number(s["k"], "d"),
                    number(s["seeds"], "d"), *metric_cells,
                    delta(tables.delta_pct(n10, base) if n10 is not None and s["seeds"] is not None else None),
                    number(None if seconds is None else 1000 * seconds, ".0f")])
    return Table(table_id, columns, out, caption="★ the pipeline chosen on validation; test metrics",
                 row_classes=["best" if s["best"] else "" for s in stages])


def selection_table(table_id: str, rows: list[dict], fitness: FitnessView) -> Table:
    """A search's final selection: ops, the supernet's score as shown (``fitness``: R@50 positive, or the loss)
    and its rank, short / full retrain R@50, costs; the caption says once which direction is better."""
    columns = [Column("rank", "#", "order of the final selection (archs/top<i>.json)"), Column("pooling", "pooling"),
               Column("user", "user ops"), Column("item", "item ops"),
               Column("fitness", fitness.header, fitness.note()),
               Column("frank", f"{fitness.header} rank", "rank among the architectures the search scored (1: best)"),
               Column("short", "short R@50", "validation R@50 after a short retrain"),
               Column("full", "retrained R@50", "validation R@50 of the full retrains, mean ± std"), *COST]
    out = [[number(r["rank"], "d"), Cell(r["pooling"] or tables.MISSING), Cell(r["user"]), Cell(r["item"]),
            number(fitness.shown(r.get("fitness"))), number(r.get("fitness_rank"), "d"), number(r.get("short")),
            mean_std({**r, "seeds": 2}, "retrained"), *(count(r.get(k)) for k in tables.COST_COLUMNS)]
           for r in rows]
    return Table(table_id, columns, out, caption=f"{fitness.note()} R@50 columns: higher is better.")
