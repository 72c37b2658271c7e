"""``python -m towernas.report RUN [RUN …] --out DIR``: the comparison report over retrain runs.

Each RUN is a retrain run directory (its ``results.json``), typically one per budget with the searched
towers and the human baselines. Writes ``report.md`` and ``report.csv`` (model × budget → test R@50,
N@50, params and FLOPs per tower, Δ% R@50 vs the in-budget GoogleDNN of the same budget; in-budget
baselines show their size) and ``recall_vs_flops.png`` (R@50 against total FLOPs, with the Pareto front
of all points).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from towernas.runs import tables
from towernas.runs.files import atomic_open


def load_rows(runs: list[Path]) -> list[dict]:
    """One row per (model, budget) from the runs' ``results.json`` tables."""
    rows = []
    for run in runs:
        path = run / "results.json" if run.is_dir() else run
        try:
            results = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise ValueError(f"{path}: cannot read retrain results ({err})") from None
        for row in results.get("table", []):
            rows.append({"dataset": results["dataset"], "budget": results["budget"], "model": row["model"],
                         "size": row.get("size"), "seeds": row["seeds"], "recall@50": row["recall@50"],
                         "recall@50_std": row["recall@50_std"], "ndcg@50": row["ndcg@50"],
                         "ndcg@50_std": row["ndcg@50_std"], **tables.flat_cost(row["complexity"])})
    if not rows:
        raise ValueError("no retrain results found in " + ", ".join(map(str, runs)))
    tables.add_deltas(rows, "recall@50", tables.REFERENCE_MODEL, "delta_recall@50_pct", group=("dataset", "budget"))
    return rows


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of points not dominated in (lower cost, higher quality), sorted by cost."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    front, best = [], float("-inf")
    for i in order:
        if points[i][1] > best:
            front.append(i)
            best = points[i][1]
    return front


def markdown(rows: list[dict]) -> str:
    return tables.markdown(["dataset", "budget", "model", "R@50", "N@50", *tables.COST_HEADER, tables.DELTA_HEADER],
                           [[r["dataset"], r["budget"], tables.model_cell(r), tables.mean_std_cell(r, "recall@50"),
                             tables.mean_std_cell(r, "ndcg@50"), *tables.cost_cells(r),
                             tables.delta_cell(r["delta_recall@50_pct"])] for r in rows]) + "\n"


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    flops = [r["user_flops"] + r["item_flops"] for r in rows]
    recall = [r["recall@50"] for r in rows]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for model in dict.fromkeys(r["model"] for r in rows):
        idx = [i for i, r in enumerate(rows) if r["model"] == model]
        ax.scatter([flops[i] for i in idx], [recall[i] for i in idx], label=model, s=36)
        for i in idx:
            ax.annotate(rows[i]["budget"], (flops[i], recall[i]), textcoords="offset points", xytext=(4, 3), fontsize=7)
    front = pareto_front(list(zip(flops, recall)))
    ax.plot([flops[i] for i in front], [recall[i] for i in front], "k--", linewidth=1, label="Pareto front")
    ax.set_xscale("log")
    ax.set_xlabel("FLOPs per user + per item (log scale)")
    ax.set_ylabel("test Recall@50")
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    with atomic_open(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=120)
    plt.close(fig)


def write_report(runs: list[Path], out: Path) -> list[dict]:
    rows = load_rows(runs)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_open(out / "report.md") as fh:
        fh.write(markdown(rows))
    with atomic_open(out / "report.csv") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    plot(rows, out / "recall_vs_flops.png")
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path, help="retrain run directories (or results.json files)")
    parser.add_argument("--out", type=Path, default=Path("outputs/report"))
    args = parser.parse_args(argv)
    try:
        rows = write_report(args.runs, args.out)
    except ValueError as err:
        sys.exit(f"towernas.report: error: {err}")
    print(markdown(rows) + f"\nwritten to {args.out}/report.md, report.csv, recall_vs_flops.png")


if __name__ == "__main__":
    main()
