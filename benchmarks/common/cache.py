"""Per-cell caches of a benchmark, so a rerun (after a kill -9 too) measures only what is missing.

``JsonlCache``: one JSON line per finished cell, appended durably by ``towernas.runs.records`` (a line cut by a
kill is skipped and its cell redone); a cell's key is read from its record's own fields, so the files written
before this module existed keep hitting. ``cached_json``: one atomically written JSON file per cell.

Example:
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "runs.jsonl"
    >>> JsonlCache(path, ("model", "seed")).add({"model": "fm", "seed": 0, "auc": 0.75})
    >>> cache = JsonlCache(path, ("model", "seed"))
    >>> cache.get(("fm", 0))["auc"], ("fm", 1) in cache
    (0.75, False)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Hashable, Sequence

from towernas.runs.files import write_json_atomic
from towernas.runs.records import append_line, read_lines


class JsonlCache:
    """Finished cells of ``path`` by key; ``fields``: the record field that is the key (``"key"``), or the fields
    whose values, as a tuple, are (``("backbone", "variant", "seed")``)."""

    def __init__(self, path: Path | str, fields: str | Sequence[str]) -> None:
        self.path, self.fields = Path(path), fields
        self.done: dict[Hashable, dict] = {self.key(record): record for record in read_lines(self.path)}

    def key(self, record: dict) -> Hashable:
        """The key of ``record`` (from its own fields)."""
        if isinstance(self.fields, str):
            return record[self.fields]
        return tuple(record[field] for field in self.fields)

    def get(self, key: Hashable) -> dict | None:
        """The record of ``key`` if that cell is done, else None."""
        return self.done.get(key)

    def add(self, record: dict) -> None:
        """Record a finished cell (one line, flushed and fsynced before returning)."""
        append_line(self.path, record)
        self.done[self.key(record)] = record

    def records(self) -> list[dict]:
        """Every finished cell's record, in the order they were first read or added."""
        return list(self.done.values())

    def __contains__(self, key: object) -> bool:
        return key in self.done

    def __len__(self) -> int:
        return len(self.done)


def cached_json(path: Path | str, compute: Callable[[], Any]) -> Any:
    """The JSON in ``path`` if it exists, else ``compute()``, written there atomically first."""
    path = Path(path)
    if path.exists():
        return json.loads(path.read_text())
    value = compute()
    write_json_atomic(path, value)
    return value
