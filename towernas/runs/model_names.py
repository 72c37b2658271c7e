"""The names result tables give the models a command reads from files: a search's ``archs/top<i>.json`` is
``searched <budget> #<i>`` (the budget its search ran under, ``i`` its rank in the final selection; a hand-built
tower the search selected adds its family), any other file its stem. Names that would repeat (the same rank of
two search runs) get the shortest end of their search run's path that tells them apart.

Example:
    >>> file_name(Path("out/L-single/seed0/archs/top1.json"), {"budget": "L"})
    'searched L #1'
    >>> file_name(Path("out/L-single/seed0/archs/top2.json"), {"budget": "L"}, baseline="google_dnn")
    'searched L #2 (google_dnn)'
    >>> file_name(Path("recipes/mine.json"), None)
    'mine'
    >>> paths = [Path(f"out/{run}/archs/top{i}.json") for run, i in (("a/seed0", 1), ("b/seed0", 1), ("a/seed0", 2))]
    >>> unique([file_name(p, {"budget": "L"}) for p in paths], paths)
    ['searched L #1 (a/seed0)', 'searched L #1 (b/seed0)', 'searched L #2']
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Mapping, Sequence


def search_rank(path: Path) -> int | None:
    """``i`` of a search's ``archs/top<i>.json``; None for any other file."""
    digits = path.stem[3:]
    return int(digits) if path.parent.name == "archs" and path.stem.startswith("top") and digits.isdigit() else None


def file_name(path: Path, provenance: Mapping[str, Any] | None, baseline: str | None = None) -> str:
    """The table name of the model in ``path`` (``provenance``: its file's, giving the search's budget)."""
    rank = search_rank(path)
    if rank is None:
        return path.stem
    budget = (provenance or {}).get("budget") or path.parent.parent.name  # a file without provenance: its run
    return f"searched {budget} #{rank}" + (f" ({baseline})" if baseline else "")


def unique(names: Sequence[str], paths: Sequence[Path]) -> list[str]:
    """``names`` with every repeated one followed by the end of its search run directory's path (``archs/``'s
    parent) that tells the repeats apart: one part if that is enough, else more."""
    counts = Counter(names)
    out = list(names)
    for name in (n for n, c in counts.items() if c > 1):
        idx = [i for i, n in enumerate(names) if n == name]
        runs = [paths[i].parent.parent.resolve().parts for i in idx]
        for n in range(1, max(len(r) for r in runs) + 1):
            ends = ["/".join(r[-n:]) for r in runs]
            if len(set(ends)) == len(ends):
                break
        for i, end in zip(idx, ends):
            out[i] = f"{name} ({end})"
    return out
