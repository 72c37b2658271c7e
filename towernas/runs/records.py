"""Finished units of work of a run (one JSON line each), so a run restarted in its directory skips them.

``rank`` trains one ranker per seed, ``cascade`` one pipeline per (ranker, negatives, seed): each unit's
record is appended to ``<run dir>/records.jsonl`` as soon as it is done, flushed and fsynced. A rerun in
the same directory (``hydra.run.dir=<dir>``, same config: ``towernas.runs.run_dir.claim`` refuses another)
reads them back and does only what is missing; a line cut by a kill -9 is ignored and its unit redone.

Example:
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> log = RecordLog(d)
    >>> log.add("fm/seed0", {"auc": 0.75})
    >>> RecordLog(d).get("fm/seed0"), RecordLog(d).get("fm/seed1")
    ({'auc': 0.75}, None)
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any
from towernas.runs.files import writes_files

log = logging.getLogger(__name__)

FILE = "records.jsonl"


def read_lines(path: Path | str) -> list[Any]:
    """Every JSON line of ``path`` (none if it does not exist); a line cut by a kill is skipped."""
    path = Path(path)
    if not path.exists():
        return []
    out = []
    for line in path.read_text(errors="replace").splitlines():  # a multi-byte character cut too
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:  # the last line of a killed run: its unit is redone
            continue
    return out


def append_line(path: Path | str, obj: Any) -> None:
    """Append ``obj`` as one JSON line, flushed and fsynced before returning (after a cut line: a fresh line)."""
    if not writes_files():  # another rank of a distributed job
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab+") as fh:
        if fh.tell():
            fh.seek(-1, os.SEEK_END)
            if fh.read(1) != b"\n":
                fh.write(b"\n")
        fh.write(json.dumps(obj, default=str).encode() + b"\n")
        fh.flush()
        os.fsync(fh.fileno())


class RecordLog:
    """The finished units of ``run_dir`` by key; ``add`` appends one durably."""

    def __init__(self, run_dir: Path | str) -> None:
        self.path = Path(run_dir) / FILE
        self.done: dict[str, Any] = {entry["key"]: entry["record"] for entry in read_lines(self.path)}
        if self.done:
            log.info("resuming %s: %d unit(s) done", self.path.parent, len(self.done))

    def get(self, key: str) -> Any:
        """The record of ``key`` if that unit is done, else None."""
        return self.done.get(key)

    def add(self, key: str, record: Any) -> None:
        """Record ``key`` as done (one line, flushed and fsynced before returning)."""
        append_line(self.path, {"key": key, "record": record})
        self.done[key] = record
