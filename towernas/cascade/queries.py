"""The queries a cascade answers: training queries (one per train interaction: "what comes next") for its
rankers, and the protocol's validation / test queries for its evaluation."""

from __future__ import annotations

import numpy as np

from towernas.data.interactions import EvalQueries, InteractionData
from towernas.data.ragged import Ragged


def train_queries(data: InteractionData, limit: int | None, seed: int = 0) -> EvalQueries:
    """One query per train interaction row p (at most ``limit``, a seeded sample, kept in row order): the user
    with the history right before p, target ``items[p]``, excluding the user's items before p (what a served
    retriever would mask). Users' first interactions are skipped (no history to condition on)."""
    rows = data.rows("train")
    rows = rows[rows > data.user_indptr[data.users[rows]]]  # not the user's first interaction
    if limit is not None and len(rows) > limit:
        rows = np.sort(np.random.default_rng(seed).choice(rows, limit, replace=False))
    return rows_as_queries(data, rows)


def rows_as_queries(data: InteractionData, rows: np.ndarray) -> EvalQueries:
    """One query per interaction row p: the user right before p, target ``items[p]``, the user's items before p
    excluded."""
    starts = data.user_indptr[data.users[rows]]
    lengths = rows - starts
    earlier = np.repeat(starts - np.r_[0, np.cumsum(lengths)[:-1]], lengths) + np.arange(lengths.sum())
    return EvalQueries(users=data.users[rows], positions=rows, targets=Ragged.from_lists(data.items[rows, None]),
                       exclude=Ragged.from_lengths(lengths, data.items[earlier]))


def split_queries(data: InteractionData, split: str, limit: int | None = None, seed: int = 0) -> EvalQueries:
    """The protocol's ``split`` queries ("valid" / "test"): targets = the user's items in the split, earlier
    splits masked. ``limit``: a seeded subsample of users (None: all)."""
    from towernas.eval.encode import sample_queries

    return sample_queries(data.queries(split), limit, seed)


def subset(queries: EvalQueries, index: np.ndarray) -> EvalQueries:
    """The queries at ``index`` (in that order)."""
    return EvalQueries(queries.users[index], queries.positions[index],
                       Ragged.from_lists(queries.targets[i] for i in index),
                       Ragged.from_lists(queries.exclude[i] for i in index))
