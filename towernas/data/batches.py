"""Turning rows of InteractionData into model inputs: one dict of tensors per batch.

A batch holds, for each example, the querying user's side features and history, and the target item
with its side features. Keys: ``user``, ``history`` (B, L), ``item`` (B,), ``user:<field>`` and
``item:<field>`` ((B,) or (B, width) for multi-valued fields).

History dropout (``drop_history``, a training-time regulariser): each item of a training example's history is
replaced by the padding item with probability p, independently, so the towers cannot lean on any one past item;
evaluation batches never drop.
"""

from __future__ import annotations

import numpy as np
import torch

from towernas.data.interactions import InteractionData


RATINGS = "history_rating"  # the batch key of the history's explicit ratings
RATING_BEFORE = "rating_before"  # the mean of all the user's ratings before the query
TIME = "time"  # the query's timestamp
RATED = "rated_history"  # the user's latest rated train items before the query (InteractionData.rated_history)
RATED_RATINGS = "rated_history_rating"  # and their ratings


def user_inputs(data: InteractionData, users: np.ndarray, positions: np.ndarray, device: torch.device | str = "cpu",
                history: np.ndarray | None = None):
    """Query-side tensors for ``users`` whose histories end right before rows ``positions`` (``history``: those
    histories already read, e.g. after ``drop_history``); with explicit ratings also ``history_rating`` (B, L), the
    ratings of the history's items (0 on padding; the items a ``history`` given here dropped keep theirs, unread)
    and ``rating_before`` (B,), the mean of all the user's ratings before the query (0 with none), and
    ``rated_history``/``rated_history_rating`` (B, L), the user's latest L rated train items before the query and
    their ratings (``InteractionData.rated_history``); and ``time``
    (B,), the query row's timestamp (what time-aware ranker features count up to)."""
    batch = {"user": users, "history": data.histories(positions) if history is None else history}
    for name, values in data.user_features.values.items():
        batch[f"user:{name}"] = values[users]
    out = {k: torch.as_tensor(np.asarray(v), dtype=torch.long, device=device) for k, v in batch.items()}
    out[TIME] = torch.as_tensor(data.timestamps[np.asarray(positions, dtype=np.int64)], device=device)
    if data.ratings is not None:
        out[RATINGS] = torch.as_tensor(data.history_ratings(positions, out["history"].shape[1]), device=device)
        out[RATING_BEFORE] = torch.as_tensor(data.mean_rating_before(positions)[0], device=device)
        rated, rated_ratings = data.rated_history(positions, out["history"].shape[1])
        out[RATED] = torch.as_tensor(rated, device=device)
        out[RATED_RATINGS] = torch.as_tensor(rated_ratings, device=device)
    return out


def item_inputs(data: InteractionData, items: np.ndarray, device: torch.device | str = "cpu"):
    """Candidate-side tensors for ``items``."""
    batch = {"item": items}
    for name, values in data.item_features.values.items():
        batch[f"item:{name}"] = values[items]
    return {k: torch.as_tensor(np.asarray(v), dtype=torch.long, device=device) for k, v in batch.items()}


def drop_history(history: np.ndarray, p: float, rng: np.random.Generator, pad_item: int,
                 within: tuple[int, int] | None = None) -> np.ndarray:
    """A copy of ``history`` (B, L) whose non-padding slots are each replaced by ``pad_item`` with probability
    ``p``, independently (``rng`` draws one uniform per slot, padding included, so the stream does not depend on
    the histories). ``within`` = (offset, n): these B rows are rows offset..offset+B of a batch of n rows
    (``towernas.train.distributed.place``), and the uniforms are drawn for all n, so a batch sharded over ranks
    drops what one process would. ``p`` = 0 returns ``history`` itself.

    Example:
        >>> h = np.array([[9, 9, 1, 2], [3, 4, 5, 6]])
        >>> drop_history(h, 0.5, np.random.default_rng(0), pad_item=9)
        array([[9, 9, 9, 9],
               [3, 4, 5, 6]])
    """
    if not 0.0 <= p < 1.0:
        raise ValueError(f"history_dropout={p}: expected a probability in [0, 1)")
    if p == 0.0:
        return history
    offset, n = (0, len(history)) if within is None else within
    uniforms = rng.random((n, history.shape[1]))[offset : offset + len(history)]
    return np.where(uniforms < p, pad_item, history)


def training_batch(data: InteractionData, rows: np.ndarray, device: torch.device | str = "cpu", *,
                   history_dropout: float = 0.0, seed=None, within: tuple[int, int] | None = None):
    """Inputs for interactions ``rows``: the user before the row, and the item of the row. ``history_dropout``:
    drop each history item with this probability (``drop_history``), the mask drawn from ``seed`` (an int or a
    sequence of ints, e.g. (run seed, step)): the same seed drops the same slots; ``within``: where ``rows`` sit in
    a global batch sharded over ranks (``drop_history``)."""
    history = data.histories(rows)
    if history_dropout > 0:
        history = drop_history(history, history_dropout, np.random.default_rng(seed), data.pad_item, within)
    batch = user_inputs(data, data.users[rows], rows, device, history=history)
    batch.update(item_inputs(data, data.items[rows], device))
    return batch


def iterate_rows(rows: np.ndarray, batch_size: int, rng: np.random.Generator | None = None):
    """Yield ``rows`` in batches (shuffled when ``rng`` is given; the last partial batch is kept)."""
    if rng is not None:
        rows = rows[rng.permutation(len(rows))]
    for start in range(0, len(rows), batch_size):
        yield rows[start : start + batch_size]


def pair_batches(data: InteractionData, users: np.ndarray, rows: np.ndarray, items: np.ndarray, labels: np.ndarray,
                 batch_size: int, rng: np.random.Generator | None = None, device: torch.device | str = "cpu"):
    """Yield ``(query batch, items (B, 1), labels (B, 1))`` over labelled pairs (shuffled when ``rng`` is given):
    the query of pair p is user ``users[p]`` right before row ``rows[p]``."""
    order = np.arange(len(rows)) if rng is None else rng.permutation(len(rows))
    for start in range(0, len(order), batch_size):
        take = order[start : start + batch_size]
        batch = user_inputs(data, users[take], rows[take], device)
        yield (batch, torch.as_tensor(items[take, None], dtype=torch.long, device=device),
               torch.as_tensor(labels[take, None], dtype=torch.float32, device=device))
