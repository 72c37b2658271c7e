"""HTML of the leaderboard: sortable tables and the page around them. Every string is escaped here, at the
one place text becomes markup (run files hold user-chosen names: model labels, paths, ops).

A table is data: ``Table(id, columns, rows)`` with ``Column(key, header, title)`` and ``Cell(text, sort)``.
``sort`` is the value the page's script orders by (``data-sort``: a number for numeric columns, empty for a
missing value, which sorts last); without it the cell's text is used.

Example:
    >>> t = Table("t", [Column("m", "model"), Column("r", "R@50", "test Recall@50")],
    ...           [[Cell("<b>"), Cell("0.25", 0.25)]])
    >>> print(render_table(t))  # doctest: +NORMALIZE_WHITESPACE
    <table id="t" class="sortable"><thead><tr><th data-key="m" scope="col">model</th><th data-key="r"
    scope="col" title="test Recall@50">R@50</th></tr></thead><tbody><tr><td>&lt;b&gt;</td><td class="num"
    data-sort="0.25">0.25</td></tr></tbody></table>
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field

from towernas.leaderboard.assets import CSS, ERROR_TRAP, SORT_SCRIPT

MISSING = ("–", "—", "", "?")  # cells without a value


@dataclass(frozen=True)
class Column:
    key: str  # the column's name in the script's URL hash (``#sort=<table id>:<key>[:desc]``)
    header: str
    title: str = ""  # tooltip: what the header abbreviates


@dataclass(frozen=True)
class Cell:
    text: str
    sort: float | int | str | None = None  # None: sort by the text
    title: str = ""
    numeric: bool | None = None  # right-aligned; None: when ``sort`` is a number (a missing number: say True)


@dataclass
class Table:
    id: str
    columns: Sequence[Column]
    rows: list[list[Cell]]
    caption: str = ""
    row_classes: list[str] = field(default_factory=list)  # per row, e.g. "best"


def esc(value) -> str:
    return html.escape(str(value), quote=True)


def _attrs(**attrs) -> str:
    """``class_="num", data_sort=1`` -> `` class="num" data-sort="1"`` (None and empty values left out)."""
    return "".join(f' {k.rstrip("_").replace("_", "-")}="{esc(v)}"' for k, v in attrs.items()
                   if v is not None and v != "")


def _sort_value(value) -> str:
    return repr(float(value)) if isinstance(value, float) else str(value)


def render_cell(cell: Cell) -> str:
    numeric = cell.numeric if cell.numeric is not None else (
        isinstance(cell.sort, (int, float)) and not isinstance(cell.sort, bool))
    if cell.sort is not None:
        sort = _sort_value(cell.sort)
    else:  # a missing value sorts last; other text sorts as itself
        sort = "" if cell.text in MISSING else None
    attrs = _attrs(class_="num" if numeric else None)
    attrs += "" if sort is None else f' data-sort="{esc(sort)}"'
    return f"<td{attrs}{_attrs(title=cell.title)}>{esc(cell.text)}</td>"


def render_table(table: Table) -> str:
    head = "".join(f"<th{_attrs(data_key=c.key, scope='col', title=c.title)}>{esc(c.header)}</th>"
                   for c in table.columns)
    body = []
    for i, row in enumerate(table.rows):
        cls = table.row_classes[i] if i < len(table.row_classes) else ""
        body.append(f"<tr{_attrs(class_=cls)}>" + "".join(render_cell(c) for c in row) + "</tr>")
    caption = f"<caption>{esc(table.caption)}</caption>" if table.caption else ""
    return (f'<table id="{esc(table.id)}" class="sortable">{caption}<thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>")


def figure(src: str, alt: str, caption: str = "") -> str:
    cap = f"<figcaption>{esc(caption)}</figcaption>" if caption else ""
    return f'<figure><img src="{esc(src)}" alt="{esc(alt)}" loading="lazy">{cap}</figure>'


def facts(items: Sequence[tuple[str, object]]) -> str:
    """A definition list of (name, value) pairs, the ones with a value."""
    parts = [f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in items if v not in (None, "")]
    return f"<dl class=\"facts\">{''.join(parts)}</dl>" if parts else ""


def section(id_: str, title: str, body: str, note: str = "") -> str:
    note_html = f'<p class="note">{esc(note)}</p>' if note else ""
    return f'<section id="{esc(id_)}"><h2>{esc(title)}</h2>{note_html}{body}</section>'


def page(title: str, subtitle: str, sections: Sequence[str], nav: Sequence[tuple[str, str]]) -> str:
    """The whole ``index.html``: inline CSS, the error trap first (``#js-errors`` collects any script error),
    the sections, then the sort script."""
    links = " · ".join(f'<a href="#{esc(i)}">{esc(t)}</a>' for i, t in nav)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="towernas.leaderboard">
<title>{esc(title)}</title>
<style>{CSS}</style>
<script>{ERROR_TRAP}</script>
</head>
<body>
<pre id="js-errors" hidden></pre>
<header><h1>{esc(title)}</h1><p class="note">{esc(subtitle)}</p><nav>{links}</nav></header>
<main>
{chr(10).join(sections)}
</main>
<script>{SORT_SCRIPT}</script>
</body>
</html>
"""
