"""A compact ragged array (CSR layout): one variable-length row of int64 values per entity."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np


@dataclass(frozen=True)
class Ragged:
    """Rows of int64 values stored as ``values[indptr[i]:indptr[i + 1]]``.

    Example:
        >>> r = Ragged.from_lists([[3, 1], [], [7]])
        >>> r[0].tolist(), r.lengths().tolist()
        ([3, 1], [2, 0, 1])
    """

    indptr: np.ndarray  # (n + 1,) int64, indptr[0] == 0, non-decreasing
    values: np.ndarray  # (indptr[-1],) int64

    def __post_init__(self) -> None:
        if self.indptr.ndim != 1 or len(self.indptr) == 0 or self.indptr[0] != 0:
            raise ValueError("Ragged.indptr must be 1-D and start at 0")
        if self.indptr[-1] != len(self.values):
            raise ValueError(f"Ragged.indptr ends at {self.indptr[-1]} but there are {len(self.values)} values")

    @classmethod
    def from_lists(cls, rows: Iterable[Sequence[int]]) -> "Ragged":
        rows = [np.asarray(r, dtype=np.int64).ravel() for r in rows]
        lengths = np.array([len(r) for r in rows], dtype=np.int64)
        values = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
        return cls.from_lengths(lengths, values.astype(np.int64, copy=False))

    @classmethod
    def from_lengths(cls, lengths: np.ndarray, values: np.ndarray) -> "Ragged":
        indptr = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        return cls(indptr, np.asarray(values, dtype=np.int64))

    @classmethod
    def empty(cls, n_rows: int) -> "Ragged":
        return cls(np.zeros(n_rows + 1, dtype=np.int64), np.zeros(0, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.indptr) - 1

    def __getitem__(self, i: int) -> np.ndarray:
        return self.values[self.indptr[i] : self.indptr[i + 1]]

    def lengths(self) -> np.ndarray:
        return np.diff(self.indptr)

    def rows(self, start: int, stop: int) -> "Ragged":
        """Rows ``start:stop`` as a new Ragged whose indptr starts at 0 (values are a view)."""
        lo, hi = self.indptr[start], self.indptr[stop]
        return Ragged(self.indptr[start : stop + 1] - lo, self.values[lo:hi])

    def row_ids(self) -> np.ndarray:
        """For each value, the index of its row: (nnz,) int64."""
        return np.repeat(np.arange(len(self), dtype=np.int64), self.lengths())
