"""Build the static leaderboard site: ``OUT/index.html`` and its PNG figures, written atomically.

The site is built in a temp directory next to ``OUT`` and renamed into place, so a crash or an error leaves
the previous ``OUT`` (or none) and no half-written site. ``OUT`` may be missing, empty, or an earlier site
(it carries the ``MARKER`` file); any other existing path is refused, so a typo never deletes a directory.

Example:
    >>> import json, tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> run = root / "search"
    >>> run.mkdir()
    >>> _ = (run / "summary.json").write_text(json.dumps({"strategy": "random", "selection": []}))
    >>> site = build_site([run], root / "site")
    >>> sorted(p.name for p in (root / "site").iterdir()), [r.kind for r in site.runs]
    (['.towernas-leaderboard', 'index.html'], ['search'])
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from towernas.leaderboard import sections
from towernas.leaderboard.html import page
from towernas.leaderboard.kinds import RunDir, detect, expand, label_runs

MARKER = ".towernas-leaderboard"  # marks a directory this module wrote (and may replace)
# the sections in page order (their ids differ from every table's: the sort hash names a table by id)
TITLES = {"retrieval": "Leaderboard", "pareto": "Pareto front", "rankers": "Rankers", "cascades": "Cascades",
          "searches": "Search", "ranker-searches": "Ranker search", "curves": "Training curves", "run-list": "Runs"}


@dataclass
class Site:
    out: Path
    runs: list[RunDir]
    rows: list[dict]  # the retrieval leaderboard's rows

    @property
    def retrain_runs(self) -> list[Path]:
        return [r.path for r in self.runs if r.kind == "retrain"]


def check_target(out: Path) -> None:
    """Refuse (one line) an ``OUT`` that exists and is neither empty nor an earlier leaderboard site."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out}: exists and is not a directory; give --html a new or a leaderboard directory")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).exists():
        raise ValueError(f"{out}: a non-empty directory that is not a leaderboard site (no {MARKER}); give --html "
                         "a new or a leaderboard directory")


@contextmanager
def staging(out: Path) -> Iterator[Path]:
    """A fresh temp directory next to ``out`` that replaces ``out`` when the block exits without error, and
    is removed otherwise."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        yield tmp
        (tmp / MARKER).write_text("written by towernas.leaderboard; the next build replaces this directory\n")
        umask = os.umask(0)
        os.umask(umask)
        for path in tmp.iterdir():  # mkstemp's and mkdtemp's 0600/0700 would hide the site from a web server
            os.chmod(path, 0o666 & ~umask)
        os.chmod(tmp, 0o777 & ~umask)
        _replace_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _replace_dir(new: Path, out: Path) -> None:
    if not out.exists():
        os.rename(new, out)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
    os.rename(out, old / "site")
    try:
        os.rename(new, out)
    except BaseException:
        os.rename(old / "site", out)
        raise
    shutil.rmtree(old, ignore_errors=True)


def render(runs: list[RunDir], site: Path) -> list[dict]:
    """Write ``index.html`` and the figures into ``site``; return the leaderboard rows."""
    of = {kind: [r for r in runs if r.kind == kind] for kind in ("retrain", "rank", "cascade", "cascade-search",
                                                                 "ranker-search", "search")}
    rows = sections.leaderboard_rows(of["retrain"])
    parts = sections.retrieval(rows, site) if rows else []
    parts += sections.rank(of["rank"]) if of["rank"] else []
    parts += sections.cascade(of["cascade"], site, of["cascade-search"]) \
        if of["cascade"] or of["cascade-search"] else []
    parts += sections.search(of["search"], site) if of["search"] else []
    parts += sections.ranker_search(of["ranker-search"]) if of["ranker-search"] else []
    parts += sections.curves([r for r in runs if r.kind != "search"], site)
    parts.append(sections.run_list(runs))
    nav = [(key, title) for key, title in TITLES.items() if f'<section id="{key}">' in "".join(parts)]
    kinds = ", ".join(f"{n} {kind}" for kind, n in Counter(r.kind for r in runs).items())
    subtitle = f"{len(runs)} run{'s' * (len(runs) != 1)} ({kinds}); built {time.strftime('%Y-%m-%d %H:%M')}"
    (site / "index.html").write_text(page("TowerNAS leaderboard", subtitle, parts, nav), encoding="utf-8")
    return rows


def build_site(paths: list[Path], out: Path) -> Site:
    """Read every run of ``paths`` (any mix of retrain, rank, cascade and search run directories, and directories
    holding such runs at any depth, e.g. a Hydra multirun: ``kinds.expand``) and write the site to ``out``.
    Unknown or unreadable runs, and an ``out`` that is not a site, are one-line ``ValueError``s raised before
    anything is written."""
    runs = [detect(p) for p in expand(paths)]
    label_runs(runs)
    out = Path(os.path.abspath(out))
    check_target(out)
    try:
        with staging(out) as tmp:
            rows = render(runs, tmp)
    except OSError as err:
        raise ValueError(f"{out}: cannot write the site ({err})") from None
    return Site(out, runs, rows)
