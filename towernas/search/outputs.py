"""What a search leaves behind: architecture JSON files with cost and provenance, and a summary."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from towernas.complexity.model import CostModel
from towernas.complexity.towers import tower_cost
from towernas.retrievers.hand_built import HandBuilt
from towernas.retrievers.sizing import build_size, grid_size
from towernas.runs.tables import COST_HEADER, MISSING, cost_cells, flat_cost, markdown, mean_std_text
from towernas.runs.fitness_view import FitnessView
from towernas.space.arch import Arch
from towernas.space.arch_space import ArchSpace

ROW_INFO = ("origin", "fitness_rank", "short", "short_rank", "retrained", "retrained_std", "training")


def annotate(arch: Arch, cost_model: CostModel, fitness: float | None, provenance: dict[str, Any]) -> Arch:
    """``arch`` carrying its per-tower complexity and provenance, incl. its supernet ``fitness`` (lower is
    better: minus validation Recall@50, or the validation loss; None for an architecture the supernet never
    scored, e.g. in random search)."""
    value = None if fitness is None else round(float(fitness), 6)
    return arch.with_info(complexity=cost_model.cost(arch).to_dict(), provenance={**provenance, "fitness": value})


def annotate_row(row: dict, space: ArchSpace, cost_model: CostModel, provenance: dict[str, Any]) -> Arch | HandBuilt:
    """A selection row as its result file: the searched ``Arch`` (``annotate``), or the ``HandBuilt`` baseline at
    its size with its exact cost (the counter ``retrain`` costs baselines with), both with the row's scores."""
    info = {**provenance, **{k: row[k] for k in ROW_INFO if k in row}}
    if row.get("baseline") is None:
        return annotate(space.arch(row["genome"]), cost_model, row["fitness"], info)
    tower = HandBuilt(row["baseline"], grid_size(row["baseline"], row["size"]))
    cost = tower_cost(build_size(tower.baseline, tower.size, cost_model.spec), cost_model.spec)
    return tower.with_info(complexity=cost.to_dict(), provenance=info)


SEARCHED, MLP, HAND_BUILT = "searched", "in-space MLP", "hand-built"  # the origins of a selection row


def row_origin(row: dict, mlps: set[tuple[str, ...]]) -> str:
    """Where a finalist comes from: the search's own proposals (``searched``), the space's in-budget MLP tower
    the search always carries (``in-space MLP``, ``mlps``), or a hand-built baseline (``hand-built``)."""
    if row.get("baseline") is not None:
        return HAND_BUILT
    return MLP if tuple(row["genome"]) in mlps else SEARCHED


def row_label(row: dict) -> str:
    """``'avg | MLP-128 skip | MLP-64 skip'`` (a genome: pooling | user | item) or ``'google_dnn [128,128]'``."""
    if row.get("baseline") is not None:
        return f"{row['baseline']} {row['size']}"
    genome, n = row["genome"], (len(row["genome"]) - 1) // 2
    return " | ".join([genome[0], " ".join(genome[1:1 + n]), " ".join(genome[1 + n:])])


def winner(selection: list[dict]) -> dict[str, Any] | None:
    """Which origin won the final selection (``row_origin``: searched, in-space MLP or hand-built), its
    validation score (mean of its full retrains) and, per other origin, its margin over the best fully retrained
    candidate of that origin. None when nothing was fully retrained."""
    full = [row for row in selection if "retrained" in row]
    if not full:
        return None
    best = full[0]
    out: dict[str, Any] = {"origin": best["origin"], "model": row_label(best), "validation": best["retrained"],
                           "over": {}}
    for row in full[1:]:
        if row["origin"] != best["origin"] and row["origin"] not in out["over"]:
            margin = best["retrained"] - row["retrained"]
            out["over"][row["origin"]] = {"model": row_label(row), "validation": row["retrained"],
                                          "margin": round(margin, 6),
                                          "margin_pct": round(100 * margin / row["retrained"], 3)}
    return out


def winner_line(won: dict[str, Any] | None) -> str:
    """One sentence for ``summary.md`` and the terminal: which origin won, by how much, against what."""
    if won is None:
        return "no candidate was fully retrained"
    parts = [f"{o} {m['model']} ({m['validation']:.4f}) by {m['margin']:+.4f} ({m['margin_pct']:+.1f}%)"
             for o, m in won["over"].items()]
    return (f"winner ({won['origin']}): {won['model']}, validation R@50 {won['validation']:.4f} (mean of its full "
            "retrains)" + ("; ahead of the best " + "; of the best ".join(parts) if parts else ""))


def save_archs(run_dir: Path, ranked: list[Arch | HandBuilt], named: dict[str, Arch | HandBuilt]) -> list[Path]:
    """Write ``archs/top<i>.json`` for the ranked list and ``<name>.json`` (e.g. best.json) for ``named``."""
    paths = []
    for i, arch in enumerate(ranked, start=1):
        path = run_dir / "archs" / f"top{i}.json"
        arch.save(path)
        paths.append(path)
    for name, arch in named.items():
        path = run_dir / f"{name}.json"
        arch.save(path)
        paths.append(path)
    return paths


def random_comparison(best_loss: float, random_losses: list[float]) -> dict[str, Any]:
    """How the found architecture compares with random feasible ones (supernet fitness, lower is better)."""
    if not random_losses:
        return {"n_random": 0}
    return {
        "n_random": len(random_losses),
        "best_found": round(best_loss, 6),
        "random_best": round(min(random_losses), 6),
        "random_median": round(statistics.median(random_losses), 6),
        "random_worst": round(max(random_losses), 6),
        "beats_random_fraction": sum(best_loss < x for x in random_losses) / len(random_losses),
    }


def _cell(value, fmt: str = ".4f") -> str:
    return MISSING if value is None else format(value, fmt)


def summary_table(rows: list[tuple[str, Arch | HandBuilt]], fitness: FitnessView) -> str:
    """Markdown: label, the supernet's score (``fitness``: R@50 shown positive, or the loss) and its rank,
    short-retrain and full-retrain validation R@50 (mean ± std over the final seeds) and the short rank,
    params/FLOPs per tower, ops; then one line saying which direction is better. Reading down the ranks shows
    how far the final selection moved away from the supernet's order."""
    out = []
    for label, arch in rows:
        p = arch.provenance or {}
        retrained = MISSING if "retrained" not in p else mean_std_text(p["retrained"], p.get("retrained_std", 0.0))
        ops = (["hand-built", arch.label, ""] if isinstance(arch, HandBuilt)
               else [arch.pooling, " ".join(arch.user), " ".join(arch.item)])
        out.append([label, _cell(fitness.shown(p.get("fitness"))), _cell(p.get("fitness_rank"), "d"),
                    _cell(p.get("short")), _cell(p.get("short_rank"), "d"), retrained,
                    *cost_cells(flat_cost(arch.complexity)), *ops])
    table = markdown(["arch", fitness.header, f"{fitness.header} rank", "short R@50", "short rank",
                      "retrained R@50", *COST_HEADER, "pooling", "user", "item"], out)
    return (f"{table}\n\n{fitness.note()} Short / retrained R@50: validation Recall@50 after a short / full "
            "retrain (higher is better); ranks: 1 is the best.")


def random_line(comparison: dict[str, Any] | None, fitness: FitnessView) -> str:
    """One line for the terminal: the found architecture's supernet score vs random feasible ones, as shown.

    Example:
        >>> from towernas.runs.fitness_view import view
        >>> random_line(random_comparison(-0.3, [-0.2, -0.25, -0.31]), view("recall"))
        'vs 3 random feasible architectures (supernet R@50, higher is better): found 0.3000; random best 0.3100, \
median 0.2500, worst 0.2000; beats 67% of them'
    """
    if not comparison or not comparison.get("n_random"):
        return "vs random feasible architectures: none scored"
    c, shown = comparison, fitness.shown
    return (f"vs {c['n_random']} random feasible architectures ({fitness.header}, {fitness.direction}): found "
            f"{shown(c['best_found']):.4f}; random best {shown(c['random_best']):.4f}, median "
            f"{shown(c['random_median']):.4f}, worst {shown(c['random_worst']):.4f}; beats "
            f"{c['beats_random_fraction']:.0%} of them")
