"""``dataset=recbole``: a RecBole dataset directory read unchanged (RecBole's "atomic files").

``$TOWERNAS_DATA/raw/<name>/`` holds ``<name>.inter`` and, optionally, ``<name>.user`` and ``<name>.item``: text
tables whose header names each column as ``name:type``, e.g. ``user_id:token	item_id:token	rating:float``.
Types: ``token`` (a categorical value), ``token_seq`` (several, split by ``seq_separator``), ``float`` (a
number, bucketized as a feature), ``float_seq`` (several numbers). Fields are separated by
``field_separator`` (a tab by default) and never quoted.

- The interaction fields are RecBole's defaults ``user_id``, ``item_id``, ``rating`` and ``timestamp``
  (``user_id_field`` … ``time_field`` override them; rating and time are optional: without a time field,
  file order is the order).
- ``benchmark_filename`` (e.g. ``[train, valid, test]``) reads the pre-split parts ``<name>.train.inter``,
  ``<name>.valid.inter``, ``<name>.test.inter`` as the split (``dataset.split.method=given``); with two
  parts (train, test), validation is carved from train (``dataset.split.valid``, ``dataset.split.seed``).
- ``load_col`` (``{inter: [...], user: [...], item: [...]}``, RecBole's key and meaning) keeps only the named
  fields (``'*'``: all) and skips a file type it leaves out; None keeps every field of every file. Every kept
  ``.user`` / ``.item`` field but the id becomes a feature of its type.

RecBole's own ml-100k files (in the recbole wheel) give the interactions, ratings, times and split of
``dataset=ml-100k``; its features differ in form (exact ages, full zip codes, ``class`` for ``genres``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from towernas.data.errors import DataError
from towernas.data.interactions import TEST, TRAIN, VALID
from towernas.data.raw import RawDataset
from towernas.data.readers.base import Reader
from towernas.data.readers.columns import (
    SPLIT_CODES,
    FeatureType,
    Rows,
    check_unseen,
    drop_duplicates,
    feature_frame,
)
from towernas.data.readers.delimited import TextFormat, check_columns, header, line_of, read_columns
from towernas.data.readers.table import plain, read_interactions

log = logging.getLogger(__name__)

#: RecBole's field types -> how each becomes a feature
TYPES = {"token": "categorical", "token_seq": "multi", "float": "numeric", "float_seq": "numeric_multi"}


@dataclass
class RecBoleOptions:
    """Settings of ``dataset=recbole`` (``dataset.options``; RecBole's own names, see the module docstring).

    ``name`` is the files' prefix; None: ``dataset.name``.
    """

    name: str | None = None
    user_id_field: str = "user_id"
    item_id_field: str = "item_id"
    rating_field: str | None = "rating"
    time_field: str | None = "timestamp"
    field_separator: str = "\t"
    seq_separator: str = " "
    benchmark_filename: Any = None
    load_col: Any = None
    numeric_buckets: int = 10
    duplicates: str = "drop"
    unseen: str = "refuse"


def _parts(options: RecBoleOptions) -> list[str]:
    parts = plain(options.benchmark_filename)
    if parts is None:
        return []
    if isinstance(parts, str) or not isinstance(parts, list) or not all(isinstance(p, str) for p in parts):
        raise DataError(f"dataset.options.benchmark_filename={parts!r}: expected a list of part names such as "
                        "[train, valid, test]")
    codes = [SPLIT_CODES.get(p) for p in parts]
    if codes not in ([TRAIN, TEST], [TRAIN, VALID, TEST]):
        raise DataError(f"dataset.options.benchmark_filename={parts}: expected [train, valid, test] or "
                        "[train, test] (the parts <name>.<part>.inter, in that order)")
    return parts


def recbole_files(options: RecBoleOptions) -> list[str]:
    if options.name is None:
        raise DataError("dataset.options.name: the RecBole files' prefix is not set (it defaults to dataset.name)")
    parts = _parts(options)
    return [f"{options.name}.{p}.inter" for p in parts] if parts else [f"{options.name}.inter"]


def recbole_optional(options: RecBoleOptions) -> list[str]:
    return [f"{options.name}.user", f"{options.name}.item"]


def typed_header(path: Path, fmt: TextFormat) -> dict[str, tuple[str, str]]:
    """``{name: (header column, RecBole type)}`` of an atomic file; a column without ``:type`` or with an
    unknown type is one line naming it."""
    names = header(path, fmt)
    if len(names) == 1 and ":" in names[0]:
        check_columns(path, names, {n: "a RecBole field" for n in names[0].replace(",", " ").split()}, fmt)
    out = {}
    for column in names:
        name, colon, kind = column.rpartition(":")
        if not colon or not name:
            raise DataError.at(path, 1, f"header column {column!r} has no ':type'; expected name:type with type one "
                                        f"of {', '.join(TYPES)} (RecBole atomic files)")
        if kind not in TYPES:
            raise DataError.at(path, 1, f"header column {column!r}: unknown feature type {kind!r}; expected one of "
                                        f"{', '.join(TYPES)}")
        out[name] = (column, kind)
    return out


def read_recbole(directory: Path, options: RecBoleOptions, progress: bool = False) -> RawDataset:
    directory = Path(directory)
    fmt = TextFormat(options.field_separator, quoted=False)
    load_col = _load_col(plain(options.load_col))
    files = [directory / f for f in recbole_files(options)]
    parts = _parts(options)
    rows: list[Rows] = []
    timed = []
    for index, path in enumerate(files):
        fields = typed_header(path, fmt)
        roles = _roles(path, fields, options, load_col.get("inter", [options.user_id_field, options.item_id_field]))
        part = read_interactions(path, fmt, roles, progress=progress)
        timed.append("timestamp" in roles)
        if not timed[-1]:  # file order across the parts: positions continue from the previous part's
            part.frame["timestamp"] += sum(len(r.frame) for r in rows)
        if parts:
            part.frame["split"] = np.int8(SPLIT_CODES[parts[index]])
        rows.append(part)
    if len(set(timed)) > 1:
        untimed = files[timed.index(False)]
        raise DataError.at(untimed, 1, f"no time field {options.time_field!r}, which the other parts have; give every "
                                       "part the same fields")
    merged = Rows.concat(rows)
    merged = drop_duplicates(merged, options.duplicates, "dataset.options.duplicates")
    merged = check_unseen(merged, options.unseen, "dataset.options.unseen")
    users, user_multi = _features(directory / f"{options.name}.user", fmt, options, options.user_id_field, "user",
                                  load_col)
    items, item_multi = _features(directory / f"{options.name}.item", fmt, options, options.item_id_field, "item",
                                  load_col)
    return RawDataset(merged.frame, users, items, user_multi | item_multi, timed=timed[0])


def _load_col(load_col: Any) -> dict[str, list[str] | None]:
    """RecBole's ``load_col``: None loads every field of every file; a mapping loads, per file type (``inter``,
    ``user``, ``item``), the fields listed (``"*"``: all of them) and nothing of a file type it leaves out (the
    interactions then keep their ids). Returned: ``{file type: [fields] or None (all)}``."""
    if load_col is None:
        return {"inter": None, "user": None, "item": None}
    if not isinstance(load_col, dict) or set(load_col) - {"inter", "user", "item"} or not all(
            v == "*" or (isinstance(v, list) and all(isinstance(f, str) for f in v)) for v in load_col.values()):
        raise DataError(f"dataset.options.load_col={load_col!r}: expected a mapping with keys among inter, user, item, "
                        "each a list of field names or '*'")
    return {kind: None if fields == "*" else fields for kind, fields in load_col.items()}


def _roles(path: Path, fields: dict[str, tuple[str, str]], options: RecBoleOptions, keep) -> dict[str, str]:
    """``{role: header column}`` of an ``.inter`` file; the id fields are required, rating and time optional."""
    wanted = {"user": options.user_id_field, "item": options.item_id_field}
    option = {"user": "user_id_field", "item": "item_id_field", "rating": "rating_field", "timestamp": "time_field"}
    roles = {}
    for role, name in (*wanted.items(), ("rating", options.rating_field), ("timestamp", options.time_field)):
        if name is None or (role in ("rating", "timestamp") and (name not in fields or (keep is not None and name not in keep))):
            continue
        if name not in fields:
            raise DataError.at(path, 1, f"no field {name!r} (dataset.options.{option[role]}); the header has "
                                        f"{', '.join(fields)}")
        roles[role] = fields[name][0]
    ignored = [n for n, (column, _) in fields.items() if column not in roles.values()]
    if ignored:
        log.info("%s: ignored field(s) %s (the interactions keep ids, rating and time)", path.name, ", ".join(ignored))
    return roles


def _features(path: Path, fmt: TextFormat, options: RecBoleOptions, key: str, role: str,
              load_col: dict) -> tuple[pd.DataFrame, frozenset[str]]:
    """The ``.user`` / ``.item`` features (every field but the id, typed by its header) and the multi-valued ones."""
    if not path.exists() or role not in load_col:
        return pd.DataFrame(), frozenset()
    keep = load_col[role]
    fields = typed_header(path, fmt)
    if key not in fields:
        raise DataError.at(path, 1, f"no field {key!r} (the {role} id, dataset.options.{role}_id_field); the header "
                                    f"has {', '.join(fields)}")
    names = [n for n in fields if n != key and (keep is None or n in keep)]
    if keep is not None:
        unknown = [n for n in keep if n not in fields]
        if unknown:
            raise DataError(f"dataset.options.load_col.{role}: no field {unknown[0]!r} in {path} (it has "
                            f"{', '.join(fields)})")
    table = read_columns(path, {fields[n][0]: pa.string() for n in [key, *names]}, fmt=fmt, allow_empty=True)
    table = table.rename_columns([key, *names])
    types = {n: FeatureType(TYPES[fields[n][1]], options.seq_separator, options.numeric_buckets) for n in names}
    multi = frozenset(n for n, kind in types.items() if kind.multi)
    return feature_frame(table, key, types, path, role, line_of(path, fmt)), multi


RECBOLE = Reader(
    name="recbole",
    read=read_recbole,
    files=recbole_files,
    optional=recbole_optional,
    options=RecBoleOptions,
    manual="put RecBole atomic files <name>.inter (or <name>.train.inter / .valid.inter / .test.inter with "
           "dataset.options.benchmark_filename) and optionally <name>.user / <name>.item in the dataset directory",
    progress=True,
)
