"""The Markdown/CSV cells every report shares: cost columns (UP/UF/IP/IF), mean ± std, Δ% vs a reference.

UP / UF / IP / IF = user-tower params / FLOPs, item-tower params / FLOPs, in thousands
(``towernas.complexity`` defines them). Every Δ% column is against ``REFERENCE_MODEL``, the in-budget
GoogleDNN (its size chosen on validation among those that fit the budget, ``towernas.retrievers.sizing``);
``google_dnn_paper``, at the paper's layers, is a row like any other.

Example:
    >>> cost = {"user": {"params": 75312, "flops": 76564}, "item": {"params": 18248, "flops": 22740}}
    >>> cost_cells(flat_cost(cost)), cost_cells(flat_cost(None))
    (['75.3k', '76.6k', '18.2k', '22.7k'], ['?', '?', '?', '?'])
    >>> print(markdown(["model", *COST_HEADER], [["a", *cost_cells(flat_cost(cost))]]))
    | model | UP | UF | IP | IF |
    |---|---|---|---|---|
    | a | 75.3k | 76.6k | 18.2k | 22.7k |
    >>> delta_cell(delta_pct(0.22, 0.20)), delta_cell(None)
    ('+10.0%', '')
    >>> model_cell({"model": "google_dnn", "size": "[128,64]"}), model_cell({"model": "google_dnn_paper"})
    ('google_dnn [128,64]', 'google_dnn_paper')
"""

from __future__ import annotations

import csv
import io
from typing import Any, Iterable, Mapping, Sequence


COST_HEADER = ["UP", "UF", "IP", "IF"]
COST_COLUMNS = ("user_params", "user_flops", "item_params", "item_flops")  # what the header abbreviates
REFERENCE_MODEL = "google_dnn"  # the in-budget GoogleDNN: the reference of every Δ% column
DELTA_HEADER = "Δ R@50 vs in-budget GoogleDNN"
MISSING = "–"  # a cell without a value, in every command's table


def thousands(value: Any) -> str:
    """``12345`` -> ``'12.3k'``, ``700`` -> ``'700'`` (below 1000: the number itself); None -> ``'?'``.

    Example:
        >>> thousands(12345), thousands(700), thousands(None)
        ('12.3k', '700', '?')
    """
    if value is None:
        return "?"
    return f"{value:.0f}" if abs(value) < 1000 else f"{value / 1000:.1f}k"


def flat_cost(complexity: dict | None) -> dict[str, int]:
    """The columns ``user_params, user_flops, item_params, item_flops`` of a ``{"user": {"params", "flops"},
    "item": {...}}`` complexity entry (the ones it has)."""
    c = complexity or {}
    return {f"{side}_{kind}": c[side][kind] for side in ("user", "item") for kind in ("params", "flops")
            if kind in c.get(side, {})}


def cost_cells(columns: dict) -> list[str]:
    """The UP, UF, IP, IF cells from a row holding the ``flat_cost`` columns ('?' where one is missing)."""
    return [thousands(columns.get(key)) for key in COST_COLUMNS]


def mean_std_text(mean: float, std: float | None, fmt: str = ".4f") -> str:
    """``'0.2295 ± 0.0042'``; the mean alone without a std (one seed, or a single evaluation).

    Example:
        >>> mean_std_text(0.22954, 0.00421), mean_std_text(12.34, None, ".1f")
        ('0.2295 ± 0.0042', '12.3')
    """
    return format(mean, fmt) if std is None else f"{mean:{fmt}} ± {std:{fmt}}"


def mean_std_cell(row: dict, metric: str, seeds: int | None = None) -> str:
    """``'0.2295 ± 0.0042'`` from ``row[metric]`` and ``row[metric + '_std']``; the mean alone for one seed."""
    n = row.get("seeds", 1) if seeds is None else seeds
    return mean_std_text(row[metric], row[metric + "_std"] if n > 1 else None)


def model_cell(row: dict) -> str:
    """The model's name, followed by its size label when it has one (an in-budget baseline)."""
    return f"{row['model']} {row['size']}" if row.get("size") else row["model"]


def delta_pct(value: float, reference: float | None) -> float | None:
    """100 * (value / reference - 1), or None without a (non-zero) reference."""
    return 100.0 * (value / reference - 1.0) if reference else None


def delta_cell(delta: float | None) -> str:
    return "" if delta is None else f"{delta:+.1f}%"


def add_deltas(rows: list[dict], metric: str, reference_model: str, column: str,
               group: Sequence[str] = ()) -> None:
    """Set ``row[column]`` = Δ% of ``row[metric]`` vs the row of ``reference_model`` with the same ``group``
    keys (e.g. dataset and budget); None where the group has no such row."""
    for row in rows:
        ref = next((r for r in rows if r["model"] == reference_model and all(r[g] == row[g] for g in group)), None)
        row[column] = delta_pct(row[metric], ref[metric]) if ref else None


def with_std(metrics: Iterable[str]) -> list[str]:
    """Every metric followed by its ``_std`` column: ``['auc', 'auc_std', ...]``."""
    return [key for metric in metrics for key in (metric, f"{metric}_std")]


def csv_text(fields: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> str:
    """A CSV table of ``fields`` (header first, ``\\r\\n`` line ends as ``csv`` writes them; other keys of a row
    ignored, a missing one empty).

    Example:
        >>> csv_text(["model", *with_std(["auc"])], [{"model": "fm", "auc": 0.7, "auc_std": 0.01, "x": 1}]).splitlines()
        ['model,auc,auc_std', 'fm,0.7,0.01']
    """
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(fields), extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def markdown(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A Markdown table (no trailing newline)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
