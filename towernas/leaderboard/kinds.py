"""What kind of run a directory holds, told from the files present.

- ``retrain``: ``results.json`` with a ``table`` of retrieval metrics (``python -m towernas.retrain``);
- ``rank``: ``results.json`` with a ``ranker`` and a ``table`` of AUC/GAUC/logloss (``towernas.rank``);
- ``cascade``: ``results.json`` with ``retriever`` and ``pipelines`` (``towernas.cascade``);
- ``search``: ``summary.json`` (``towernas.search``; its logs ``search.jsonl``, ``supernet.jsonl`` and
  ``evolution_state.json`` when the strategy trained a supernet and ran evolution).

Anything else is a one-line ``ValueError`` naming the path and what was expected. A directory holding none of
these files, e.g. a Hydra multirun (``<dir>/<job>/...``), stands for every run directory beneath it (``expand``).

Example:
    >>> import json, tempfile
    >>> run = Path(tempfile.mkdtemp())
    >>> _ = (run / "summary.json").write_text(json.dumps({"strategy": "random", "selection": []}))
    >>> detect(run).kind
    'search'
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

EXPECTED = ("expected a retrain, rank or cascade run directory (results.json) or a search run directory "
            "(summary.json)")


@dataclass
class RunDir:
    """A run directory, its kind and its main JSON (``results.json``, or ``summary.json`` of a search)."""

    path: Path
    kind: str
    data: dict
    label: str = field(default="")  # short name on the page (set by ``label_runs``)


def _read(path: Path, what: str) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: cannot read {what} ({err})") from None
    if not isinstance(data, dict):  # a user's file to fix: a ValueError like every other bad run file
        got = type(data).__name__
        raise ValueError(f"{path}: cannot read {what} (a JSON object expected, got {got})")  # noqa: TRY004
    return data


def detect(path: Path) -> RunDir:
    """The run at ``path`` (a run directory, or its ``results.json`` / ``summary.json``)."""
    path = Path(path)
    if path.is_file() and path.name in ("results.json", "summary.json"):
        path = path.parent
    if not path.is_dir():
        raise ValueError(f"{path}: not a run directory ({EXPECTED})")
    if (path / "results.json").exists():
        results = _read(path / "results.json", "run results")
        if "pipelines" in results and "retriever" in results:
            return RunDir(path, "cascade", results)
        if "ranker" in results and "table" in results:
            return RunDir(path, "rank", results)
        if "table" in results and "budget" in results:
            return RunDir(path, "retrain", results)
        raise ValueError(f"{path / 'results.json'}: neither retrain, rank nor cascade results (no 'table' with "
                         "'budget', 'ranker', or 'pipelines' key)")
    if (path / "summary.json").exists():
        summary = _read(path / "summary.json", "search summary")
        if summary.get("task") == "cascade" and "points" in summary:  # python -m towernas.search task=cascade
            return RunDir(path, "cascade-search", summary)
        if summary.get("task") in ("ctr", "rating") and "finalists" in summary:  # task=ctr | rating
            return RunDir(path, "ranker-search", summary)
        if "selection" not in summary:
            raise ValueError(f"{path / 'summary.json'}: not a search summary (no 'selection' key)")
        return RunDir(path, "search", summary)
    raise ValueError(f"{path}: no results.json or summary.json ({EXPECTED})")


RUN_FILES = ("results.json", "summary.json")


def _natural(path: Path) -> list:
    """Sort key reading digit runs as numbers: Hydra's job ``2`` before ``10``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.as_posix())]


def expand(paths: list[Path]) -> list[Path]:
    """Every run of ``paths``: a run directory (or its ``results.json`` / ``summary.json``) as itself; any other
    directory, e.g. a Hydra multirun or a sweep, as every run directory beneath it, at any depth, in path
    order (digits as numbers). A directory with no run beneath it is a one-line ``ValueError`` naming it.

    Example:
        >>> import tempfile
        >>> sweep = Path(tempfile.mkdtemp())
        >>> for job in ("10", "2", "2/sub"):
        ...     (sweep / job).mkdir()
        ...     _ = (sweep / job / "results.json").write_text("{}")
        >>> [p.relative_to(sweep).as_posix() for p in expand([sweep])]
        ['2', '2/sub', '10']
        >>> expand([sweep / "2" / "sub"]) == [sweep / "2" / "sub"]
        True
    """
    out: list[Path] = []
    for path in map(Path, paths):
        if not path.is_dir() or any((path / name).exists() for name in RUN_FILES):
            out.append(path)
            continue
        found = sorted({f.parent for name in RUN_FILES for f in path.rglob(name) if f.is_file()}, key=_natural)
        if not found:
            raise ValueError(f"{path}: no results.json or summary.json, here or in any directory beneath "
                             f"({EXPECTED}, or a sweep of them)")
        out += found
    return list(dict.fromkeys(out))


def label_runs(runs: list[RunDir]) -> None:
    """Label each run by its path relative to the runs' common parent (``L/seed0/baselines``), or its name."""
    paths = [r.path.resolve() for r in runs]
    common = Path(os.path.commonpath(paths)) if paths else Path()
    for run, path in zip(runs, paths):
        rel = path.relative_to(common) if len(runs) > 1 else Path(path.name)
        run.label = rel.as_posix() if str(rel) != "." else path.name
