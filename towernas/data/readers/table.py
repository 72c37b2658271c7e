"""``dataset=table``: a user's own interactions as CSV, TSV or Parquet, with optional user and item tables.

Example config (``conf/dataset/table.yaml`` holds the defaults)::

    python -m towernas.search dataset=table dataset.options.interactions=/data/clicks.parquet \\
        'dataset.options.columns={user: uid, item: sku, timestamp: ts, rating: stars}' \\
        dataset.options.items=/data/products.csv \\
        'dataset.options.features={brand: categorical, tags: {type: multi, sep: ";"}, price: numeric}'

- ``columns`` maps the roles ``user``, ``item`` (required), ``timestamp``, ``rating`` and ``split`` (optional)
  to the file's column names. A timestamp is unix seconds (integers or floats), a Parquet timestamp or date, or
  a date/time text (``2024-01-31``, ``2024-01-31 12:00:00.5``), floored to seconds. Without one, file order is
  the order. A ``split``
  column (``train`` / ``valid`` / ``test``) fixes the split (``dataset.split.method=given``).
- ``users`` / ``items`` are tables keyed by the same ids, in a column named as the interactions' user / item
  column. Their columns become features only when declared in ``features`` (types in
  ``towernas.data.readers.columns``); undeclared columns are ignored and listed once in the log.
- ``sep``: the text separator (None: ``,`` for ``.csv``, a tab otherwise); ``.gz`` text is read too.
- Rows repeating an earlier row in every column are counted and dropped (``duplicates=drop``) or refused.

Interactions stream block by block through Arrow with the ids dictionary-encoded (``delimited``), with a
progress bar; ``make bench-own-data`` measures the peak memory of a 10M-row file.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from omegaconf import DictConfig, ListConfig, OmegaConf

from towernas.data.errors import DataError
from towernas.data.raw import RawDataset
from towernas.data.readers.base import Reader
from towernas.data.readers.columns import (
    SPLIT_CODES,
    Rows,
    check_unseen,
    drop_duplicates,
    feature_frame,
    parse_feature_types,
)
from towernas.data.readers.delimited import (
    TextFormat,
    check_columns,
    default_separator,
    header,
    is_parquet,
    line_of,
    read_columns,
    release_unused,
    split_line,
)
from towernas.data.readers._arrow import open_text

log = logging.getLogger(__name__)

ROLES = {"user": "the user id", "item": "the item id", "timestamp": "the time of the interaction",
         "rating": "the explicit rating", "split": "train / valid / test"}
REQUIRED = ("user", "item")


@dataclass
class TableOptions:
    """Settings of ``dataset=table`` (``dataset.options``; see the module docstring)."""

    interactions: str = "interactions.csv"
    columns: Any = field(default_factory=lambda: {"user": "user", "item": "item"})
    users: str | None = None
    items: str | None = None
    features: Any = field(default_factory=dict)
    sep: str | None = None
    numeric_buckets: int = 10
    duplicates: str = "drop"
    unseen: str = "refuse"


def plain(value: Any) -> Any:
    """A config value as plain Python (DictConfig / ListConfig -> dict / list)."""
    return OmegaConf.to_container(value) if isinstance(value, (DictConfig, ListConfig)) else value


def table_files(options: TableOptions) -> list[str]:
    return [f for f in (options.interactions, options.users, options.items) if f]


def text_format(path: Path, sep: str | None) -> TextFormat | None:
    """How a (quoted, CSV-like) text file is laid out; None for Parquet."""
    return None if is_parquet(path) else TextFormat(sep or default_separator(path))


def read_table(directory: Path, options: TableOptions, progress: bool = False) -> RawDataset:
    """Read the interactions (and side tables) named by ``options`` from ``directory`` (or absolute paths)."""
    columns = _column_map(plain(options.columns))
    types = parse_feature_types(plain(options.features), "dataset.options.features", options.numeric_buckets)
    path = Path(directory) / options.interactions
    fmt = text_format(path, options.sep)
    names = header(path, fmt)
    check_columns(path, names, {columns[r]: f"dataset.options.columns.{r}: {ROLES[r]}" for r in columns}, fmt)
    rows = read_interactions(path, fmt, columns, progress=progress)
    rows = drop_duplicates(rows, options.duplicates, "dataset.options.duplicates")
    rows = check_unseen(rows, options.unseen, "dataset.options.unseen")
    ignored = {path.name: [c for c in names if c not in columns.values()]}
    users, items = pd.DataFrame(), pd.DataFrame()
    multi: set[str] = set()
    used: set[str] = set()
    for role, file in (("user", options.users), ("item", options.items)):
        if not file:
            continue
        side = Path(directory) / file
        frame, unused = read_side_table(side, options.sep, columns[role], role, types)
        check_coverage(side, frame, rows.frame[role], role)
        used |= set(frame.columns)
        multi |= {name for name in frame.columns if types[name].multi}
        ignored[side.name] = unused
        if role == "user":
            users = frame
        else:
            items = frame
    undeclared = sorted(set(types) - used)
    if undeclared:
        tables = [f for f in (options.users, options.items) if f] or ["(no users / items table given)"]
        raise DataError(f"dataset.options.features.{undeclared[0]}: no such column in {' or '.join(tables)}")
    listed = "; ".join(f"{name}: {', '.join(cols)}" for name, cols in ignored.items() if cols)
    if listed:
        log.info("ignored undeclared columns (declare them in dataset.options.features to use them) — %s", listed)
    return RawDataset(rows.frame, users, items, frozenset(multi), timed="timestamp" in columns)


def _column_map(columns: Any) -> dict[str, str]:
    if not isinstance(columns, dict):
        raise DataError(f"dataset.options.columns={columns!r}: expected a mapping like {{user: uid, item: sku}}")
    unknown = sorted(set(columns) - set(ROLES))
    if unknown:
        raise DataError(f"dataset.options.columns: unknown role(s) {unknown}; valid roles: {sorted(ROLES)}")
    for role in REQUIRED:
        if not columns.get(role):
            raise DataError(f"dataset.options.columns.{role}: missing; name the column holding {ROLES[role]}")
    return {role: str(name) for role, name in columns.items() if name}


def read_interactions(path: Path, fmt: TextFormat | None, columns: dict[str, str], *, progress: bool = False) -> Rows:
    """The mapped columns of one interactions file as ``Rows`` (roles as column names, file order).

    Text columns get explicit types (ids, split: text; rating: number; timestamp: what its first rows hold), so a
    value that does not fit is found on its line, never guessed differently block by block."""
    wanted: dict[str, pa.DataType | None] = {columns["user"]: pa.string(), columns["item"]: pa.string()}
    if "rating" in columns:
        wanted[columns["rating"]] = pa.float64()
    if "timestamp" in columns:
        wanted[columns["timestamp"]] = None if fmt is None else _time_type(path, fmt, columns["timestamp"])
    if "split" in columns:
        wanted[columns["split"]] = pa.string()
    table = read_columns(path, wanted, fmt=fmt, encode=(columns["user"], columns["item"]), progress=progress)
    locate = line_of(path, fmt)
    out: dict[str, Any] = {}
    for role in ("user", "item"):
        column = table.column(columns[role])
        _refuse(path, locate, _empty_ids(column), f"empty {role} id in column {columns[role]!r}")
        out[role] = categorical(column)
    n = table.num_rows
    out["timestamp"] = (timestamps(path, table.column(columns["timestamp"]), columns["timestamp"], locate)
                        if "timestamp" in columns else np.arange(n, dtype=np.int64))
    if "rating" in columns:
        rating = table.column(columns["rating"])
        _refuse(path, locate, pc.is_null(rating), f"empty rating in column {columns['rating']!r}")
        out["rating"] = np.array(rating.to_numpy(), dtype=np.float64)  # owned by numpy, not Arrow (see below)
    if "split" in columns:
        out["split"] = split_codes(path, table.column(columns["split"]), columns["split"], locate)
    del table, column  # every column above is a numpy copy, so this hands all of Arrow's memory back
    release_unused()
    position = np.arange(n, dtype=np.int32 if n < 2**31 else np.int64)
    return Rows(pd.DataFrame(out, copy=False), [path], np.zeros(n, dtype=np.int8), position, [locate])


def _time_type(path: Path, fmt: TextFormat, column: str, sample: int = 1000) -> pa.DataType:
    """int64 when the first ``sample`` values are integers, float64 when numbers, else text (dates, parsed later)."""
    with open_text(path) as text:
        index = split_line(text.readline().lstrip("\ufeff"), fmt).index(column)
        rows = (split_line(line, fmt) for line in text if line.strip("\r\n"))
        values = pd.Series([r[index].strip() if index < len(r) else "" for r in itertools.islice(rows, sample)],
                           dtype=object)
    if len(values) and pd.to_numeric(values, errors="coerce").notna().all():
        return pa.int64() if values.str.fullmatch(r"[+-]?\d+").all() else pa.float64()
    return pa.string()


def categorical(column: pa.ChunkedArray) -> pd.Categorical:
    """A dictionary-encoded id column as a pandas Categorical whose codes numpy owns (a copy of Arrow's indices),
    so that dropping the Arrow table frees its memory."""
    array = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    if not pa.types.is_dictionary(array.type):
        array = array.dictionary_encode()
    values = pd.Index(array.dictionary.to_numpy(zero_copy_only=False))
    if not values.is_unique:  # dictionaries of merged blocks may repeat a value: encode once more
        array = pc.cast(array, pa.string()).dictionary_encode()
        values = pd.Index(array.dictionary.to_numpy(zero_copy_only=False))
    codes = np.array(array.indices.to_numpy(zero_copy_only=False), dtype=np.int32)
    return pd.Categorical.from_codes(codes, categories=values)


def _empty_ids(column: pa.ChunkedArray) -> np.ndarray:
    """Rows whose (dictionary-encoded) id is null or blank, checked on the dictionary, not per row of text."""
    out = np.zeros(len(column), dtype=bool)
    offset = 0
    for chunk in column.chunks:
        if pa.types.is_dictionary(chunk.type):
            blank = np.asarray(pc.fill_null(pc.equal(pc.utf8_trim_whitespace(chunk.dictionary), ""), True))
            indices = np.asarray(pc.fill_null(chunk.indices, -1))
            out[offset:offset + len(chunk)] = (indices < 0) | (blank[np.maximum(indices, 0)] if len(blank) else True)
        else:
            out[offset:offset + len(chunk)] = np.asarray(pc.fill_null(pc.equal(pc.utf8_trim_whitespace(chunk), ""), True))
        offset += len(chunk)
    return out


def _refuse(path: Path, locate, bad: pa.Array | pa.ChunkedArray | np.ndarray, problem: str) -> None:
    bad = bad if isinstance(bad, np.ndarray) else np.asarray(pc.fill_null(bad, True))
    if bad.any():
        raise DataError.at(path, locate(int(np.flatnonzero(bad)[0])), problem)


_UNIT_SECONDS = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}


def timestamps(path: Path, column: pa.ChunkedArray, name: str, locate) -> np.ndarray:
    """Unix seconds (int64, floored) from integers, floats, Arrow timestamps / dates of any unit, or date texts."""
    _refuse(path, locate, pc.is_null(column), f"empty timestamp in column {name!r}")
    kind = column.type
    if pa.types.is_integer(kind):
        return column.to_numpy().astype(np.int64)
    if pa.types.is_floating(kind):
        return np.floor(column.to_numpy()).astype(np.int64)
    if pa.types.is_date(kind):
        kind = pa.timestamp("s")
        column = pc.cast(column, kind)
    if pa.types.is_timestamp(kind):  # in its own unit, then floored to seconds (a cast to seconds would refuse ms)
        ticks = pc.cast(column, pa.int64()).to_numpy()
        return np.floor_divide(ticks, _UNIT_SECONDS[kind.unit]).astype(np.int64)
    text = pd.Series(pc.cast(column, pa.string()).to_numpy(zero_copy_only=False)).str.strip()
    seconds = np.floor(pd.to_numeric(text, errors="coerce").to_numpy(np.float64))
    dates = ~np.isfinite(seconds)
    if dates.any():  # texts that are not numbers: dates / date-times, to seconds since 1970 (UTC)
        parsed = pd.to_datetime(text[dates], errors="coerce", utc=True, format="mixed")
        bad = np.flatnonzero(dates)[parsed.isna().to_numpy()]
        if len(bad):
            raise DataError.at(path, locate(int(bad[0])), f"column {name!r}: expected unix seconds or a "
                                                          f"date/time, got {text[bad[0]]!r}")
        epoch = pd.Timestamp(0, tz="UTC")
        seconds[dates] = ((parsed - epoch) // pd.Timedelta(seconds=1)).to_numpy(np.float64)
    return seconds.astype(np.int64)


def split_codes(path: Path, column: pa.ChunkedArray, name: str, locate) -> np.ndarray:
    text = pc.utf8_lower(pc.utf8_trim_whitespace(pc.cast(column, pa.string()))).to_numpy(zero_copy_only=False)
    codes = pd.Series(text).map(SPLIT_CODES)
    bad = np.flatnonzero(codes.isna().to_numpy())
    if len(bad):
        raise DataError.at(path, locate(int(bad[0])), f"column {name!r}: expected train, valid or test, "
                                                      f"got {text[bad[0]]!r}")
    return codes.to_numpy(np.int8)


def read_side_table(path: Path, sep: str | None, key: str, role: str, types: dict) -> tuple[pd.DataFrame, list[str]]:
    """The declared feature columns of a user / item table keyed by ``key``, and its undeclared columns. Text
    columns are read as text (``02139`` stays ``02139``); a numeric one is parsed where it is declared numeric."""
    fmt = text_format(path, sep)
    names = header(path, fmt)
    check_columns(path, names, {key: f"the {role} id, named as in the interactions"}, fmt)
    declared = {name: kind for name, kind in types.items() if name in names and name != key}
    text = pa.string() if fmt is not None else None
    table = read_columns(path, {key: pa.string(), **{name: text for name in declared}}, fmt=fmt, allow_empty=True)
    frame = feature_frame(table, key, declared, path, role, line_of(path, fmt))
    return frame, [c for c in names if c != key and c not in declared]


def check_coverage(path: Path, frame: pd.DataFrame, ids: pd.Series, role: str) -> None:
    """A side table none of whose ids is an interaction's is a mistake (``1`` vs ``u1``); a partial one is logged."""
    if frame.empty:
        return
    known = pd.Index(ids.cat.categories if isinstance(ids.dtype, pd.CategoricalDtype) else pd.unique(ids)).astype(str)
    covered = known.isin(frame.index)
    if not covered.any():
        raise DataError.at(path, None, f"none of its {len(frame)} {role} ids is a {role} id of the interactions "
                                       f"(e.g. {frame.index[0]!r} vs {known[0]!r}): check the id column")
    if not covered.all():
        log.info("%s: features for %d of %d %ss (the others' are missing)", path.name, int(covered.sum()),
                 len(known), role)


TABLE = Reader(
    name="table",
    read=read_table,
    files=table_files,
    options=TableOptions,
    manual="put your interactions file (and optional users / items tables) in the dataset directory, or give "
           "absolute paths in dataset.options.interactions / users / items",
    progress=True,
)
