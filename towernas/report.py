"""``python -m towernas.report RUN [RUN …] --out DIR``: the comparison report over retrain runs;
``python -m towernas.report --html OUT RUN [RUN …]``: the static HTML leaderboard.

Each RUN is a retrain run directory (its ``results.json``), typically one per budget with the searched
towers and the human baselines, or a directory of runs (a Hydra multirun or a sweep: every run beneath it).
Writes ``report.md`` and ``report.csv`` (model × budget → test R@50, N@50, params and FLOPs per tower, Δ% R@50
vs the in-budget GoogleDNN of the same budget; in-budget baselines show their size) and ``recall_vs_flops.png``
(R@50 against total FLOPs, with the Pareto front of all points).

``--html OUT`` writes a static site (``towernas.leaderboard``): ``OUT/index.html`` and its PNGs,
openable from disk (no server, no network). There RUN may be any mix of retrain, rank (CTR), cascade and
search run directories, told apart by their files: a sortable dataset × budget × model table (R@50, N@50,
params/FLOPs per tower, Δ R@50 vs the in-budget GoogleDNN, popularity bias when measured), recall vs FLOPs
with its Pareto front, training curves per model, a search's progress per generation and supernet loss, the
rankers' AUC/GAUC/logloss and every cascade stage. The site is built next to OUT and renamed into place (an
existing OUT is replaced only if it is an earlier site). ``--html OUT --out DIR`` writes both; the Markdown
report then reads the retrain runs among RUN. Without ``--out``, ``--html`` writes the site alone.

    python -m towernas.report outputs/retrain/synthetic/L/<run> outputs/retrain/synthetic/M/<run> --out report/
    python -m towernas.report --html leaderboard/ outputs/retrain/synthetic/L/<run> outputs/search/synthetic/L/<run>
    python -m towernas.report --html leaderboard/ multirun/<date>/<time>   # every job of a Hydra multirun
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from towernas.eval.pareto import pareto_front
from towernas.leaderboard import build_site
from towernas.leaderboard.collect import add_reference_deltas, retrain_row
from towernas.leaderboard.kinds import detect, expand
from towernas.leaderboard.plots import plot
from towernas.runs import tables
from towernas.runs.files import atomic_open

__all__ = ["load_rows", "main", "markdown", "pareto_front", "plot", "write_report"]
DEFAULT_OUT = Path("outputs/report")


def retrain_runs(paths: list[Path]) -> list[Path]:
    """The retrain runs of ``paths``: a path naming a run (or a missing one) as itself, a directory of runs (a
    Hydra multirun or a sweep, ``leaderboard.kinds.expand``) as the retrain runs beneath it."""
    out: list[Path] = []
    for path in paths:
        found = expand([path])
        out += [path] if found == [path] else [r.path for r in map(detect, found) if r.kind == "retrain"]
    return out


def load_rows(runs: list[Path]) -> list[dict]:
    """One row per (model, budget) from the runs' ``results.json`` tables (``retrain_runs``: of every retrain run
    beneath a directory of runs)."""
    rows = []
    for run in retrain_runs(runs):
        path = run / "results.json" if run.is_dir() else run
        try:
            results = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise ValueError(f"{path}: cannot read retrain results ({err})") from None
        rows += [retrain_row(results, row) for row in results.get("table", [])]
    if not rows:
        raise ValueError("no retrain results found in " + ", ".join(map(str, runs)))
    add_reference_deltas(rows)
    return rows


def markdown(rows: list[dict]) -> str:
    return tables.markdown(["dataset", "budget", "model", "R@50", "N@50", *tables.COST_HEADER, tables.DELTA_HEADER],
                           [[r["dataset"], r["budget"], tables.model_cell(r), tables.mean_std_cell(r, "recall@50"),
                             tables.mean_std_cell(r, "ndcg@50"), *tables.cost_cells(r),
                             tables.delta_cell(r["delta_recall@50_pct"])] for r in rows]) + "\n"


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
    parser.add_argument("runs", nargs="+", type=Path,
                        help="retrain run directories (or results.json files), or directories of runs (a Hydra "
                             "multirun: every run beneath); with --html also rank, cascade and search runs")
    parser.add_argument("--out", type=Path, default=None,
                        help=f"directory of the Markdown/CSV/PNG report (default {DEFAULT_OUT}; none with --html "
                             "alone)")
    parser.add_argument("--html", type=Path, metavar="OUT", help="write the static HTML leaderboard site to OUT")
    args = parser.parse_args(argv)
    try:
        if args.html is not None:
            site = build_site(args.runs, args.html)
            print(f"leaderboard: {site.out / 'index.html'} ({len(site.rows)} rows from {len(site.runs)} runs)")
        if args.out is not None or args.html is None:
            out = args.out or DEFAULT_OUT
            rows = write_report(args.runs if args.html is None else site.retrain_runs, out)
            print(markdown(rows) + f"\nwritten to {out}/report.md, report.csv, recall_vs_flops.png")
    except ValueError as err:
        sys.exit(f"towernas.report: error: {err}")


if __name__ == "__main__":
    main()
