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

log = logging.getLogger(__name__)

FILE = "records.jsonl"


class RecordLog:
    """The finished units of ``run_dir`` by key; ``add`` appends one durably."""

    def __init__(self, run_dir: Path | str) -> None:
        self.path = Path(run_dir) / FILE
        self.done: dict[str, Any] = {}
        if self.path.exists():
            for line in self.path.read_text().splitlines():
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:  # the last line of a killed run: its unit is redone
                    continue
                self.done[entry["key"]] = entry["record"]
            if self.done:
                log.info("resuming %s: %d unit(s) done", self.path.parent, len(self.done))

    def get(self, key: str) -> Any:
        """The record of ``key`` if that unit is done, else None."""
        return self.done.get(key)

    def add(self, key: str, record: Any) -> None:
        """Record ``key`` as done (one line, flushed and fsynced before returning)."""
        line = json.dumps({"key": key, "record": record}, default=str)
        with open(self.path, "ab") as fh:
            if fh.tell() and not self._ends_with_newline():
                fh.write(b"\n")  # after a cut line, start a fresh one
            fh.write(line.encode() + b"\n")
            fh.flush()
            os.fsync(fh.fileno())
        self.done[key] = record

    def _ends_with_newline(self) -> bool:
        with open(self.path, "rb") as fh:
            fh.seek(-1, os.SEEK_END)
            return fh.read(1) == b"\n"
