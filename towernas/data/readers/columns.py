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
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from towernas.data.errors import DataError
from towernas.data.interactions import TEST, TRAIN, VALID
from towernas.data.readers._arrow import as_labels, lists_of_strings

log = logging.getLogger(__name__)

FEATURE_TYPES = ("categorical", "multi", "numeric", "numeric_multi")
DUPLICATES = ("drop", "refuse")
UNSEEN = ("refuse", "drop", "keep")
SPLIT_CODES = {"train": TRAIN, "valid": VALID, "validation": VALID, "test": TEST}


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
                  first_line: int = 2) -> pd.DataFrame:
    """Side features of one table, indexed by the raw id in column ``key`` (as text), one column per typed field.

    ``first_line`` is the file line of the first row (2 below a header), for the one-line errors.
    """
    ids = pc.cast(table.column(key), pa.string()).to_numpy(zero_copy_only=False)
    if pd.isna(ids).any():
        raise DataError.at(path, first_line + int(np.flatnonzero(pd.isna(ids))[0]), f"empty {what} id in column {key!r}")
    duplicated = pd.Index(ids).duplicated()
    if duplicated.any():
        i = int(np.flatnonzero(duplicated)[0])
        first = int(np.flatnonzero(ids == ids[i])[0])
        raise DataError.at(path, first_line + i, f"duplicate {what} id {ids[i]!r} in column {key!r} "
                                                 f"(first on line {first_line + first})")
    columns = {name: _encode(table.column(name), kind, path, name, first_line) for name, kind in types.items()}
    return pd.DataFrame({name: pd.Series(values, dtype=object) for name, values in columns.items()}
                        ).set_axis(pd.Index(ids, name=what))


def _encode(column: pa.ChunkedArray, kind: FeatureType, path: Path, name: str, first_line: int) -> Any:
    if kind.kind == "categorical":
        text = pc.cast(column, pa.string())
        empty = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(text), ""), True)
        return as_labels(pc.utf8_trim_whitespace(text).to_numpy(zero_copy_only=False), np.asarray(empty))
    if kind.kind == "numeric":
        values = _numbers(column, path, name, first_line)
        return bucketize(values, kind.buckets)
    lists = pc.split_pattern(pc.cast(column, pa.string()), kind.sep)
    if kind.kind == "multi":
        return lists_of_strings(lists)
    flat = pc.list_flatten(lists)
    numbers = _numbers(pa.chunked_array([flat]), path, name, first_line, lines=np.asarray(pc.list_parent_indices(lists)))
    labels = bucketize(numbers, kind.buckets)
    counts = np.asarray(pc.fill_null(pc.list_value_length(lists), 0))
    return [[x for x in chunk if x is not None] for chunk in np.split(labels, np.cumsum(counts)[:-1])]


def _numbers(column: pa.ChunkedArray, path: Path, name: str, first_line: int, lines: np.ndarray | None = None):
    if pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
        return np.asarray(column.to_numpy(), dtype=np.float64)
    text = pc.utf8_trim_whitespace(pc.cast(column, pa.string())).to_numpy(zero_copy_only=False)
    values = pd.to_numeric(pd.Series(text, dtype=object).replace("", None), errors="coerce").to_numpy(np.float64)
    bad = np.flatnonzero(np.isnan(values) & ~pd.isna(pd.Series(text).replace("", None)).to_numpy())
    if len(bad):
        row = int(bad[0]) if lines is None else int(lines[bad[0]])
        raise DataError.at(path, first_line + row, f"column {name!r} is declared numeric, got {text[bad[0]]!r}")
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
        files: the files the rows came from; ``source[r]`` indexes it and ``line[r]`` is the 1-based line.
    """

    frame: pd.DataFrame
    files: list[Path]
    source: np.ndarray
    line: np.ndarray

    def where(self, row: int) -> tuple[Path, int]:
        return self.files[int(self.source[row])], int(self.line[row])

    def keep(self, mask: np.ndarray) -> "Rows":
        return Rows(self.frame[mask].reset_index(drop=True), self.files, self.source[mask], self.line[mask])


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
