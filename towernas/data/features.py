"""Categorical side features encoded as integer codes, with code 0 reserved for missing/padding."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

MAX_VALUES = 32  # multi-valued fields keep at most this many values per entity


@dataclass(frozen=True)
class Field:
    """One categorical input field.

    Args:
        name: column name (``genres``, ``age``...).
        cardinality: number of codes including 0 (missing / padding).
        width: 1 for single-valued fields; the padded number of values for multi-valued ones.
        multi: whether the field holds several values per entity (read with a pooling bag).
    """

    name: str
    cardinality: int
    width: int = 1
    multi: bool = False


@dataclass
class FeatureTable:
    """Encoded features of all users (or items), rows indexed by the re-indexed id.

    ``values[name]`` is (n,) int64 for single-valued fields and (n, width) int64 for multi-valued ones;
    ``vocab[name][code - 1]`` is the original value as a string.
    """

    fields: list[Field] = field(default_factory=list)
    values: dict[str, np.ndarray] = field(default_factory=dict)
    vocab: dict[str, list[str]] = field(default_factory=dict)


def encode_features(frame: pd.DataFrame, ids: np.ndarray, multi_valued: frozenset[str]) -> FeatureTable:
    """Encode ``frame`` (indexed by raw id) for the entities ``ids`` (raw ids in re-indexed order).

    Entities without a row get code 0 in every field. Values are compared as strings, so ``25`` and
    ``"25"`` are one category.
    """
    table = FeatureTable()
    if frame.empty or len(frame.columns) == 0:
        return table
    frame = frame[~frame.index.duplicated(keep="first")]
    aligned = frame.reindex(pd.Index(ids))
    for name in frame.columns:
        column = aligned[name]
        if name in multi_valued:
            codes, vocab, width = _encode_multi(column)
        else:
            codes, vocab = _encode_single(column)
            width = 1
        table.fields.append(Field(str(name), len(vocab) + 1, width, name in multi_valued))
        table.values[str(name)] = codes
        table.vocab[str(name)] = vocab
    return table


def _encode_single(column: pd.Series) -> tuple[np.ndarray, list[str]]:
    as_text = column.astype("string")
    codes, uniques = pd.factorize(as_text, sort=True, use_na_sentinel=True)
    return (codes.astype(np.int64) + 1), [str(u) for u in uniques]


def _encode_multi(column: pd.Series) -> tuple[np.ndarray, list[str], int]:
    lists = [v if isinstance(v, (list, tuple, np.ndarray)) else [] for v in column.tolist()]
    lists = [[str(x) for x in v if x is not None and x == x][:MAX_VALUES] for v in lists]
    flat = pd.Series([x for v in lists for x in v], dtype="string")
    codes, uniques = pd.factorize(flat, sort=True)
    width = max(1, max((len(v) for v in lists), default=1))
    out = np.zeros((len(lists), width), dtype=np.int64)
    lengths = np.array([len(v) for v in lists], dtype=np.int64)
    rows = np.repeat(np.arange(len(lists)), lengths)
    cols = np.arange(len(flat)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    out[rows, cols] = codes + 1
    return out, [str(u) for u in uniques], width
