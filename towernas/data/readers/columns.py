"""What the readers of users' own files share: declared feature types, and the checks of interaction rows.

Feature types (``dataset.options.features`` of ``dataset=table``; RecBole's ``:type`` headers map onto them):

- ``categorical``: one value per entity, compared as text (``25`` and ``"25"`` are one category);
- ``multi``: several values in one cell, split by ``sep`` (default ``|``), e.g. ``Action|Comedy``;
- ``numeric``: a number, bucketized into ``buckets`` quantile buckets (default 10; missing stays missing);
- ``numeric_multi``: several numbers in one cell (RecBole ``float_seq``), each bucketized with shared edges.

A declaration is a type name or a mapping ``{type: multi, sep: ";"}`` / ``{type: numeric, buckets: 5}``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.api.types import union_categoricals

from towernas.data.errors import DataError
from towernas.data.interactions import TEST, TRAIN, VALID
from towernas.data.readers._arrow import as_labels, lists_of_strings

log = logging.getLogger(__name__)

FEATURE_TYPES = ("categorical", "multi", "numeric", "numeric_multi")
DUPLICATES = ("drop", "refuse")
UNSEEN = ("refuse", "drop", "keep")
SPLIT_CODES = {"train": TRAIN, "valid": VALID, "validation": VALID, "val": VALID, "test": TEST}


@dataclass(frozen=True)
class FeatureType:
    """How one side-table column becomes a categorical field (see the module docstring)."""

    kind: str = "categorical"
    sep: str = "|"
    buckets: int = 10

    @property
    def multi(self) -> bool:
        return self.kind in ("multi", "numeric_multi")


def parse_feature_types(declared: Mapping[str, Any] | None, where: str, buckets: int = 10) -> dict[str, FeatureType]:
    """``{column: FeatureType}`` from a config mapping; an unknown type or key is one line naming ``where.column``."""
    types = {}
    for column, spec in (declared or {}).items():
        key = f"{where}.{column}"
        if isinstance(spec, str) or spec is None:
            spec = {"type": spec}
        if not isinstance(spec, Mapping):
            raise DataError(f"{key}={spec!r}: expected a feature type ({', '.join(FEATURE_TYPES)}) or a mapping "
                            "{type: ..., sep: ..., buckets: ...}")
        unknown = sorted(set(spec) - {"type", "sep", "buckets"})
        if unknown:
            raise DataError(f"{key}: unknown key(s) {unknown}; valid keys: ['buckets', 'sep', 'type']")
        kind = spec.get("type")
        if kind not in FEATURE_TYPES:
            raise DataError(f"{key}: unknown feature type {kind!r}; expected one of {', '.join(FEATURE_TYPES)}")
        n = spec.get("buckets", buckets)
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise DataError(f"{key}.buckets={n!r}: expected a positive integer")
        sep = spec.get("sep", "|")
        if not isinstance(sep, str) or not sep:
            raise DataError(f"{key}.sep={sep!r}: expected a non-empty separator")
        types[str(column)] = FeatureType(kind, sep, n)
    return types


def feature_frame(table: pa.Table, key: str, types: Mapping[str, FeatureType], path: Path, what: str,
                  locate: Callable[[int], int]) -> pd.DataFrame:
    """Side features of one table, indexed by the raw id in column ``key`` (as text), one column per typed field.

    ``locate(row)`` is the file line of data row ``row`` (``delimited.line_of``), for the one-line errors.
    """
    ids = pc.cast(table.column(key), pa.string()).to_numpy(zero_copy_only=False)
    empty = pd.isna(ids) | (pd.Series(ids, dtype=object).fillna("").str.strip() == "").to_numpy()
    if empty.any():
        raise DataError.at(path, locate(int(np.flatnonzero(empty)[0])), f"empty {what} id in column {key!r}")
    duplicated = pd.Index(ids).duplicated()
    if duplicated.any():
        i = int(np.flatnonzero(duplicated)[0])
        first = int(np.flatnonzero(ids == ids[i])[0])
        raise DataError.at(path, locate(i), f"duplicate {what} id {ids[i]!r} in column {key!r} "
                                            f"(first on line {locate(first)})")
    columns = {name: _encode(table.column(name), kind, path, name, locate) for name, kind in types.items()}
    return pd.DataFrame({name: pd.Series(values, dtype=object) for name, values in columns.items()}
                        ).set_axis(pd.Index(ids, name=what))


def _encode(column: pa.ChunkedArray, kind: FeatureType, path: Path, name: str, locate: Callable[[int], int]) -> Any:
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    if kind.kind == "categorical":
        text = pc.utf8_trim_whitespace(pc.cast(column, pa.string()))
        empty = pc.fill_null(pc.equal(text, ""), True)
        return as_labels(text.to_numpy(zero_copy_only=False), np.asarray(empty))
    if kind.kind == "numeric":
        return bucketize(_numbers(column, path, name, locate), kind.buckets)
    if pa.types.is_list(column.type) or pa.types.is_large_list(column.type):  # Parquet list columns: as they are
        lists = pc.cast(column, pa.list_(pa.string()))
    else:
        lists = pc.split_pattern(pc.cast(column, pa.string()), kind.sep)
    if kind.kind == "multi":
        return lists_of_strings(lists)
    parents = np.asarray(pc.list_parent_indices(lists))
    labels = bucketize(_numbers(pc.list_flatten(lists), path, name, locate, parents), kind.buckets)
    counts = np.asarray(pc.fill_null(pc.list_value_length(lists), 0))
    return [[x for x in chunk if x is not None] for chunk in np.split(labels, np.cumsum(counts)[:-1])]


MISSING_TEXT = ("", "nan", "null", "none", "na", "n/a")  # numeric cells read as missing


def _numbers(column: pa.Array, path: Path, name: str, locate: Callable[[int], int],
             rows: np.ndarray | None = None) -> np.ndarray:
    """Float64 values of a numeric column (NaN = missing); text that is neither a number nor a missing marker is one
    line naming its file line (``rows``: the data row of each value, for list values)."""
    if pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
        return np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)
    text = pd.Series(pc.utf8_trim_whitespace(pc.cast(column, pa.string())).to_numpy(zero_copy_only=False), dtype=object)
    missing = text.isna() | text.str.lower().isin(MISSING_TEXT)
    values = pd.to_numeric(text.where(~missing, None), errors="coerce").to_numpy(np.float64)
    bad = np.flatnonzero(np.isnan(values) & ~missing.to_numpy())
    if len(bad):
        row = int(bad[0]) if rows is None else int(rows[bad[0]])
        raise DataError.at(path, locate(row), f"column {name!r} is declared numeric, got {text[bad[0]]!r}")
    return values


def bucketize(values: np.ndarray, buckets: int) -> np.ndarray:
    """Quantile bucket labels ``"0"`` … ``str(buckets - 1)`` of finite ``values``; None where missing."""
    values = np.asarray(values, dtype=np.float64)
    valid = np.isfinite(values)
    if not valid.any():
        return np.full(len(values), None, dtype=object)
    edges = np.unique(np.quantile(values[valid], np.linspace(0, 1, buckets + 1)[1:-1]))
    return as_labels(np.searchsorted(edges, np.where(valid, values, 0.0), side="right"), ~valid)


def check_choice(key: str, value: str, choices: Sequence[str]) -> None:
    if value not in choices:
        raise DataError(f"{key}={value!r}: expected one of {', '.join(choices)}")


# ------------------------------------------------------------------------------------ interaction rows
@dataclass
class Rows:
    """Interaction rows with where each one came from (for errors that name a file and line).

    Args:
        frame: ``user``, ``item``, ``timestamp`` (+ optional ``rating``, ``split``) in file order.
        files: the files the rows came from; ``source[r]`` indexes it.
        position: ``position[r]``: the row's data row in its file (0-based).
        locate: per file, ``locate[f](position) -> line`` (``delimited.line_of``: blank lines skipped).
    """

    frame: pd.DataFrame
    files: list[Path]
    source: np.ndarray
    position: np.ndarray
    locate: list[Callable[[int], int]]

    def where(self, row: int) -> tuple[Path, int]:
        source = int(self.source[row])
        return self.files[source], self.locate[source](int(self.position[row]))

    def keep(self, mask: np.ndarray) -> "Rows":
        return Rows(self.frame[mask].reset_index(drop=True), self.files, self.source[mask], self.position[mask],
                    self.locate)

    @classmethod
    def concat(cls, parts: list["Rows"]) -> "Rows":
        """One file's rows after another's (each part's ``files`` has one file)."""
        frame = pd.concat([p.frame for p in parts], ignore_index=True)
        for column in ("user", "item"):  # one set of categories across the parts, without building strings
            if all(isinstance(p.frame[column].dtype, pd.CategoricalDtype) for p in parts):
                frame[column] = union_categoricals([p.frame[column] for p in parts])
        source = np.concatenate([np.full(len(p.frame), i, dtype=np.int8) for i, p in enumerate(parts)])
        return cls(frame, [p.files[0] for p in parts], source, np.concatenate([p.position for p in parts]),
                   [p.locate[0] for p in parts])


def drop_duplicates(rows: Rows, policy: str, option: str) -> Rows:
    """Rows repeating an earlier row in every column: counted and dropped (``drop``) or refused (``refuse``)."""
    check_choice(option, policy, DUPLICATES)
    repeated, first_of = _repeated(rows.frame)
    if not repeated.any():
        return rows
    if policy == "refuse":
        i = int(np.flatnonzero(repeated)[0])
        path, line = rows.where(i)
        first_path, first_line = rows.where(first_of(i))
        first = f"line {first_line}" if first_path == path else f"{first_path}:{first_line}"
        raise DataError.at(path, line, f"duplicate row (the same as {first}); {int(repeated.sum())} duplicate "
                                       f"row(s) in all; {option}=drop counts and drops them")
    log.warning("dropped %d duplicate row(s) (repeating an earlier row in every column; %s=refuse refuses them)",
                int(repeated.sum()), option)
    return rows.keep(~repeated)


def _repeated(frame: pd.DataFrame):
    """(mask of the rows equal in every column to an earlier row, ``first_of(row)``: that earlier row's index).

    One stable sort over all columns, then one column at a time compared with its sorted neighbour, so the
    memory is a sort order and one column, not pandas' hash of every column at once."""
    columns = [_comparable(frame[name]) for name in frame.columns]
    order = np.lexsort(columns[::-1]) if len(frame) else np.zeros(0, dtype=np.int64)
    same = np.zeros(len(order), dtype=bool)
    same[1:] = True
    for values in columns:
        ordered = values[order]
        same[1:] &= ordered[1:] == ordered[:-1]
        del ordered
    repeated = np.zeros(len(order), dtype=bool)
    repeated[order[same]] = True

    def first_of(row: int) -> int:
        position = int(np.flatnonzero(order == row)[0])
        while same[position]:
            position -= 1
        return int(order[position])

    return repeated, first_of


def _comparable(column: pd.Series) -> np.ndarray:
    """A column as numbers that compare like its values (a categorical's codes, else factorized codes)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return column.cat.codes.to_numpy()
    if column.dtype.kind in "biuf":
        return column.to_numpy()
    return pd.factorize(column)[0]


def check_unseen(rows: Rows, policy: str, option: str) -> Rows:
    """Validation / test rows whose user or item never appears in a train row: refused (one line naming the
    file, line and id) or, with ``drop``, counted and dropped, or with ``keep`` counted and kept (such an item is in
    the catalogue with an untrained id embedding). Rows without a ``split`` column pass."""
    check_choice(option, policy, UNSEEN)
    if "split" not in rows.frame.columns:
        return rows
    split = rows.frame["split"].to_numpy()
    train = split == TRAIN
    unseen = np.zeros(len(split), dtype=bool)
    for column in ("user", "item"):
        values = rows.frame[column]
        unseen |= ~train & ~values.isin(pd.unique(values[train])).to_numpy()
    if not unseen.any():
        return rows
    if policy == "refuse":
        i = int(np.flatnonzero(unseen)[0])
        path, line = rows.where(i)
        known_users = set(rows.frame["user"].to_numpy()[train])
        column = "user" if rows.frame["user"].iloc[i] not in known_users else "item"
        train_files = sorted({str(rows.files[s]) for s in np.unique(rows.source[train])})
        raise DataError.at(path, line, f"{column} '{rows.frame[column].iloc[i]}' never appears in the train part "
                                       f"({', '.join(Path(f).name for f in train_files) or 'none'}); "
                                       f"{int(unseen.sum())} such row(s); {option}=drop drops them")
    if policy == "keep":
        log.warning("kept %d validation/test row(s) whose user or item never appears in train (%s=drop drops them)",
                    int(unseen.sum()), option)
        return rows
    log.warning("dropped %d validation/test row(s) whose user or item never appears in train (%s=refuse refuses "
                "them)", int(unseen.sum()), option)
    return rows.keep(~unseen)
