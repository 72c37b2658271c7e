"""What a search leaves behind: architecture JSON files with cost and provenance, and a summary."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from towernas.complexity.model import CostModel
from towernas.runs.tables import COST_HEADER, cost_cells, flat_cost, markdown
from towernas.space.arch import Arch


def annotate(arch: Arch, cost_model: CostModel, fitness: float | None, provenance: dict[str, Any]) -> Arch:
    """``arch`` carrying its per-tower complexity and provenance, incl. its supernet ``fitness`` (lower is
    better: minus validation Recall@50, or the validation loss; None for an architecture the supernet never
    scored, e.g. in random search)."""
    value = None if fitness is None else round(float(fitness), 6)
    return arch.with_info(complexity=cost_model.cost(arch).to_dict(), provenance={**provenance, "fitness": value})


def save_archs(run_dir: Path, ranked: list[Arch], named: dict[str, Arch]) -> list[Path]:
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
    return "–" if value is None else format(value, fmt)


def summary_table(rows: list[tuple[str, Arch]]) -> str:
    """Markdown: label, supernet fitness (validation loss) and its rank, short-retrain and full-retrain
    validation R@50 (mean ± std over the final seeds) and the short rank, params/FLOPs per tower, ops.
    Reading down the ranks shows how far the final selection moved away from the supernet's order."""
    out = []
    for label, arch in rows:
        p = arch.provenance or {}
        retrained = "–" if "retrained" not in p else f"{p['retrained']:.4f} ± {p.get('retrained_std', 0.0):.4f}"
        out.append([label, _cell(p.get("fitness")), _cell(p.get("fitness_rank"), "d"), _cell(p.get("short")),
                    _cell(p.get("short_rank"), "d"), retrained, *cost_cells(flat_cost(arch.complexity)),
                    arch.pooling, " ".join(arch.user), " ".join(arch.item)])
    return markdown(["arch", "fitness", "fitness rank", "short R@50", "short rank", "retrained R@50",
                     *COST_HEADER, "pooling", "user", "item"], out)
