"""Streaming Arrow helpers for readers of large files (Amazon, Yelp): bounded memory, located errors.

Rows arrive in record batches; string id columns are dictionary-encoded batch by batch and the
per-batch dictionaries are merged every few batches, so memory grows with the number of distinct ids
rather than with the raw text. When Arrow rejects the input, a plain Python scan of the same file finds
the first bad line so that the DataError names it.
"""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson

from towernas.data.errors import DataError

#: Bytes per parsed block. Every JSON line / CSV row must fit into one block.
BLOCK_SIZE = 16 << 20

#: ``check(record) -> problem or None`` for one parsed JSON object.
Check = Callable[[dict], "str | None"]


def require_file(path: Path) -> None:
    """Raise a DataError when ``path`` is not a readable file."""
    if not path.is_file():
        raise DataError.at(path, None, "file not found")


def open_text(path: Path) -> io.TextIOBase:
    """Open a (possibly ``.gz``) text file for the fallback scans."""
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace", newline="")


def _input(path: Path) -> pa.NativeFile:
    return pa.input_stream(str(path), compression="gzip" if path.suffix == ".gz" else None)


def guarded(path: Path, batches: Callable[[], Iterable[pa.RecordBatch]],
            locate: Callable[[], tuple[int, str] | None]) -> Iterator[pa.RecordBatch]:
    """Yield ``batches()``, turning Arrow's parse errors into a DataError at the first bad line."""
    try:
        yield from batches()
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as err:
        found = locate()
        if found is None:
            raise DataError.at(path, None, str(err)) from err
        raise DataError.at(path, found[0], found[1]) from err
    except (OSError, EOFError, gzip.BadGzipFile) as err:
        raise DataError.at(path, None, f"cannot read: {err}") from err


# --------------------------------------------------------------------------------------------- JSON
def json_batches(path: Path, schema: pa.Schema, check: Check | None = None) -> Iterator[pa.RecordBatch]:
    """Stream a JSON-lines file (optionally gzip'd) as record batches holding only ``schema``'s fields.

    Fields absent from a line become null; fields outside ``schema`` are parsed and dropped. A malformed
    line or a field of the wrong JSON type raises ``DataError`` naming the file and line.
    """
    require_file(path)
    parse = pajson.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
    read = pajson.ReadOptions(block_size=BLOCK_SIZE, use_threads=True)

    def batches() -> Iterator[pa.RecordBatch]:
        with _input(path) as stream:
            yield from pajson.open_json(stream, read_options=read, parse_options=parse)

    return guarded(path, batches, lambda: scan_json(path, schema_check(schema, check)))


def scan_json(path: Path, check: Check) -> tuple[int, str] | None:
    """First ``(line, problem)`` of a JSON-lines file, or None when every line passes ``check``."""
    with open_text(path) as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                return number, f"malformed JSON ({err.msg} at column {err.colno})"
            if not isinstance(record, dict):
                return number, f"expected a JSON object, got {type(record).__name__}"
            problem = check(record)
            if problem:
                return number, problem
    return None


def schema_check(schema: pa.Schema, extra: Check | None = None) -> Check:
    """A Python check of one record against the JSON types ``schema`` expects (null always allowed)."""

    def check(record: dict) -> str | None:
        for field in schema:
            value = record.get(field.name)
            if value is not None and not _fits(value, field.type):
                return f"field {field.name!r} should be {_describe(field.type)}, got {json.dumps(value)[:40]}"
        return extra(record) if extra else None

    return check


def _fits(value: Any, kind: pa.DataType) -> bool:
    if pa.types.is_string(kind):
        return isinstance(value, str)
    if pa.types.is_integer(kind):
        return isinstance(value, int) and not isinstance(value, bool)
    if pa.types.is_floating(kind):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if pa.types.is_list(kind):
        return isinstance(value, list) and all(v is None or _fits(v, kind.value_type) for v in value)
    return True


def _describe(kind: pa.DataType) -> str:
    if pa.types.is_list(kind):
        return f"a list of {_describe(kind.value_type).split()[-1]}s"
    if pa.types.is_string(kind):
        return "a string"
    return "an integer" if pa.types.is_integer(kind) else "a number"


def required_check(fields: Iterable[str]) -> Check:
    """A check that every field in ``fields`` is present and not null."""
    names = tuple(fields)

    def check(record: dict) -> str | None:
        for name in names:
            if record.get(name) is None:
                return f"missing field {name!r}"
        return None

    return check


def raise_on_nulls(path: Path, table: pa.Table, names: Iterable[str], check: Check) -> None:
    """Raise a located DataError when any of ``names`` holds a null in ``table`` (a required field)."""
    if any(table.column(name).null_count for name in names):
        found = scan_json(path, check)
        line, problem = found if found else (None, f"null value in one of {', '.join(names)}")
        raise DataError.at(path, line, problem)


# ------------------------------------------------------------------------------------- accumulation
class Columns:
    """Collect record batches into one table, dictionary-encoding the ``encode`` columns as they come.

    Each batch's ids are dictionary-encoded on arrival (raw strings are dropped). The per-batch
    dictionaries are merged into the running one (``pa.concat_arrays`` unifies them) whenever they hold
    more entries than it, so memory stays below ~2 copies of the distinct ids plus one int32 per row,
    and the big dictionary is re-hashed only O(log rows) times.
    """

    def __init__(self, encode: Iterable[str], min_merge: int = 1 << 20):
        self.encode = set(encode)
        self.min_merge = min_merge
        self.parts: dict[str, list[pa.Array]] = {}
        self.pending: dict[str, int] = {}  # dictionary entries not yet merged, per encoded column

    def add(self, batch: pa.RecordBatch | pa.Table) -> None:
        for name in batch.schema.names:
            column = batch.column(name)
            if isinstance(column, pa.ChunkedArray):
                column = column.combine_chunks()
            parts = self.parts.setdefault(name, [])
            if name not in self.encode:
                parts.append(column)
                continue
            if not pa.types.is_dictionary(column.type):
                column = column.dictionary_encode()
            parts.append(column)
            self.pending[name] = self.pending.get(name, 0) + len(column.dictionary)
            merged = len(parts[0].dictionary) if len(parts) > 1 else 0
            if self.pending[name] > max(merged, self.min_merge):
                self.parts[name] = [pa.concat_arrays(parts)]
                self.pending[name] = 0

    def table(self, schema: pa.Schema) -> pa.Table:
        """All rows so far; an empty table of ``schema`` when nothing was added."""
        if not self.parts:
            return schema.empty_table()
        merged = {}
        for name in list(self.parts):
            merged[name] = pa.concat_arrays(self.parts.pop(name))
        self.pending = {}
        return pa.table(merged)


# ---------------------------------------------------------------------------------------- features
def log2_bucket(counts: np.ndarray) -> np.ndarray:
    """Bucket ``b`` holds counts in ``[2**(b-1), 2**b)``; 0 holds 0 (the bit length of the count)."""
    counts = np.clip(np.nan_to_num(np.asarray(counts, dtype=np.float64), nan=0.0), 0, None)
    return np.frexp(np.floor(counts))[1].astype(np.int64)


def as_labels(values: np.ndarray, missing: np.ndarray | None = None) -> np.ndarray:
    """Object array of ``str(value)`` labels, ``None`` where ``missing`` is set."""
    labels = np.asarray(values).astype(str).astype(object)
    if missing is not None:
        labels[np.asarray(missing, dtype=bool)] = None
    return labels


def lists_of_strings(lists: pa.Array | pa.ChunkedArray, drop: Iterable[str] = ()) -> list[list[str]]:
    """A ``list<string>`` (or null) Arrow column as Python lists, each distinct string one shared object.

    Values are stripped of surrounding whitespace; empty strings and the values in ``drop`` are removed;
    null lists become ``[]``.
    """
    if isinstance(lists, pa.ChunkedArray):
        lists = lists.combine_chunks() if lists.num_chunks else pa.array([], lists.type)
    n = len(lists)
    parents = np.asarray(pc.list_parent_indices(lists))
    values = pc.utf8_trim_whitespace(pc.list_flatten(lists))
    unwanted = pc.is_in(values, pa.array([*drop, ""], pa.string()))
    keep = np.asarray(pc.and_(pc.invert(unwanted), pc.is_valid(values)).fill_null(False))
    values = values.filter(pa.array(keep)).dictionary_encode()
    words = np.array(values.dictionary.to_pylist() + [None], dtype=object)
    flat = words[np.asarray(values.indices)]  # shares one str object per distinct value
    counts = np.bincount(parents[keep], minlength=n)
    return [chunk.tolist() for chunk in np.split(flat, np.cumsum(counts)[:-1])] if n else []
