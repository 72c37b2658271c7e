"""The sections of the leaderboard page, each from the runs of its kind; figures are written into ``site``
(the staging directory) as they are made. A run whose files lack what its kind must hold is a one-line
``ValueError`` naming its directory.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from towernas.leaderboard import collect, plots, views
from towernas.leaderboard.html import Cell, Column, Table, esc, facts, figure, render_table, section
from towernas.leaderboard.kinds import RunDir
from towernas.runs import fitness_view


@contextmanager
def reading(run: RunDir) -> Iterator[None]:
    """Missing keys or wrong types in a run's files as one line naming the run."""
    try:
        yield
    except (KeyError, TypeError, IndexError, AttributeError) as err:
        raise ValueError(f"{run.path}: malformed {run.kind} run files ({type(err).__name__}: {err})") from None


def _scroll(table: Table) -> str:
    return f'<div class="scroll">{render_table(table)}</div>'


def leaderboard_rows(runs: list[RunDir]) -> list[dict]:
    """Every retrain run's table rows, with Δ vs the in-budget GoogleDNN of the same dataset and budget (from
    any of the runs), grouped by dataset and budget (first-seen order), best R@50 first."""
    rows = []
    for run in runs:
        with reading(run):
            rows += [{**collect.retrain_row(run.data, r, bias=True), "run": run.label, "path": str(run.path)}
                     for r in run.data["table"]]
    collect.add_reference_deltas(rows)
    groups = list(dict.fromkeys((r["dataset"], r["budget"]) for r in rows))
    return sorted(rows, key=lambda r: (groups.index((r["dataset"], r["budget"])), -r["recall@50"]))


def retrieval(rows: list[dict], site: Path) -> list[str]:
    """The leaderboard table and one recall-vs-FLOPs figure (with its Pareto front) per dataset."""
    note = ("Test metrics, mean ± std over seeds. Δ R@50: vs the in-budget GoogleDNN (google_dnn, italic) of the "
            "same dataset and budget. Click a header to sort.")
    out = [section("retrieval", "Retrieval leaderboard", _scroll(views.leaderboard_table(rows)), note)]
    figures = []
    for i, dataset in enumerate(dict.fromkeys(r["dataset"] for r in rows), 1):
        points = [r for r in rows if r["dataset"] == dataset and "user_flops" in r and "item_flops" in r]
        if points:
            plots.plot(points, site / f"pareto-{i}.png")
            figures.append(figure(f"pareto-{i}.png", f"test R@50 vs FLOPs, {dataset}",
                                  f"{dataset}: test R@50 vs FLOPs per user + per item; dashed: the Pareto front"))
    if figures:
        out.append(section("pareto", "Pareto front: recall vs FLOPs", f'<div class="figures">{"".join(figures)}</div>'))
    return out


def rank(runs: list[RunDir]) -> list[str]:
    rows = []
    for run in runs:
        with reading(run):
            rows += [{**r, "run": run.label} for r in collect.rank_rows(run.data)]
    return [section("rankers", "Rankers (CTR task)", _scroll(views.rank_table(rows)),
                    "Test AUC / GAUC / logloss, mean ± std over seeds.")]


def cascade(runs: list[RunDir], site: Path, searched: list[RunDir] = ()) -> list[str]:
    """Per cascade run: its stages on test and, with a K0 sweep (``cascade.k0_sweep``), test N@10 against FLOPs per
    request with the front chosen on validation, and the cascades the joint search (``searched``, runs of
    ``python -m towernas.search task=cascade``) chose on the same dataset; then those searches' table."""
    parts = []
    winners = collect.searched_cascades(searched)
    for i, run in enumerate(runs, 1):
        with reading(run):
            stages = collect.cascade_stages(run.data)
            info = facts([("dataset", run.data.get("dataset")), ("budget", run.data.get("budget")),
                          ("retriever k0", run.data.get("k0")), ("chosen on validation", run.data.get("best"))])
            parts.append(f"<h3>{esc(run.label)}</h3>{info}{_scroll(views.cascade_table(f'cascade-{i}', stages))}")
            if run.data.get("sweep"):
                mine = [w for w in winners if w["dataset"] == run.data.get("dataset")]
                plots.cascade_plot(run.data["sweep"], f"{run.label} ({run.data.get('dataset')})",
                                   site / f"cascade-front-{i}.png", searched=mine)
                parts.append(figure(f"cascade-front-{i}.png", f"test N@10 vs FLOPs per request, {run.label}",
                                    "test N@10 vs FLOPs per request at each K0; dashed: the front chosen on "
                                    "validation" + ("; diamonds: the joint search's cascades" if mine else "")))
    if winners:
        parts.append("<h3>Joint searches of K0 and the ranker</h3>"
                     + _scroll(views.searched_cascade_table(winners)))
    return [section("cascades", "Cascades: retrieve → rank", "".join(parts),
                    "Every stage's list on test; Recall@k: the share of test items the stage keeps (the next "
                    "stage's ceiling).")]


def search(runs: list[RunDir], site: Path) -> list[str]:
    parts = []
    for i, run in enumerate(runs, 1):
        with reading(run):
            parts.append(_search_run(i, run, site))
    return [section("searches", "Search runs", "".join(parts))]


def ranker_search(runs: list[RunDir]) -> list[str]:
    """Per ranker search (``python -m towernas.search task=ctr|rating``): its finalists, the winner first."""
    parts = []
    for i, run in enumerate(runs, 1):
        with reading(run):
            s = run.data
            metric = (s.get("validation") or {}).get("metric", "auc")
            info = facts([("task", s.get("task")), ("budget", s.get("budget")),
                          ("unique evaluations", (s.get("search") or {}).get("unique_evaluations"))])
            parts.append(f"<h3>{esc(run.label)}</h3>{info}"
                         + _scroll(views.ranker_finalists_table(f"ranker-search-{i}", s["finalists"], metric)))
    return [section("ranker-searches", "Ranker searches", "".join(parts),
                    "Each search's finalists, trained from scratch; the first is the winner on validation.")]


def _search_run(i: int, run: RunDir, site: Path) -> str:
    s = run.data
    supernet, evo, best = s.get("supernet") or {}, s.get("search") or {}, s.get("best") or {}
    arch = " | ".join(x for x in (best.get("pooling"), " ".join(best.get("user", [])), " ".join(best.get("item", [])))
                      if x)
    if best.get("kind") == "hand-built":  # the search's hand-built candidate won its final selection
        arch = f"hand-built {best.get('baseline')} {best.get('size', {}).get('layers')}"
    info = facts([("strategy", s.get("strategy")), ("fitness", s.get("fitness")), ("budget", s.get("budget")),
                  ("supernet steps", supernet.get("steps")), ("supernet best step", supernet.get("best_step")),
                  ("generations", evo.get("generations_run")), ("unique evaluations", evo.get("unique_evaluations")),
                  ("best architecture (pooling | user | item)", arch)])
    figures = []
    history = collect.search_history(run.path)
    if history:
        plots.search_plot(history, s.get("fitness") == "recall", f"{run.label}: evolution", site / f"search-{i}.png")
        figures.append(figure(f"search-{i}.png", f"fitness per generation, {run.label}", "fitness per generation"))
    train, valid = collect.supernet_losses(run.path)
    if train or valid:
        plots.supernet_plot(train, valid, f"{run.label}: supernet", site / f"supernet-{i}.png",
                            recall=s.get("fitness") == "recall")  # its monitor is the fitness: -R@50
        figures.append(figure(f"supernet-{i}.png", f"supernet loss, {run.label}",
                              "supernet training loss / validation monitor"))
    rows = collect.selection_rows(run.path, s)
    table = _scroll(views.selection_table(f"selection-{i}", rows, fitness_view.view(s.get("fitness")))) if rows else ""
    return (f"<h3>{esc(run.label)}</h3>{info}<div class=\"figures\">{''.join(figures)}</div>"
            f"<p class=\"note\">Final selection</p>{table}")


def curves(runs: list[RunDir], site: Path) -> list[str]:
    """Per run with a per-epoch log: training loss and the validation metric per epoch, one colour per model."""
    figures = []
    for i, run in enumerate(runs, 1):
        stream, keys, metric = collect.STREAMS[run.kind]
        grouped = collect.curves(collect.read_jsonl(run.path / stream), keys)
        if grouped:
            where = " ".join(str(run.data[k]) for k in ("dataset", "budget") if k in run.data)
            plots.curves_plot(grouped, metric, f"{run.label} ({where})", site / f"curves-{i}.png")
            figures.append(figure(f"curves-{i}.png", f"training curves, {run.label}",
                                  f"{run.label}: {stream}, one line per model and seed"))
    return [section("curves", "Training curves", "".join(figures))] if figures else []


def run_list(runs: list[RunDir]) -> str:
    table = Table("runs", [Column("run", "run"), Column("kind", "kind"), Column("path", "directory")],
                  [[Cell(r.label), Cell(r.kind), Cell(str(r.path))] for r in runs])
    return section("run-list", "Runs", _scroll(table))
