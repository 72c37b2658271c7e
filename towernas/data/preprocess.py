"""From a RawDataset to InteractionData: rating filter, de-duplication, k-core, re-indexing, splits.

A ``rating`` column of the reader travels with its rows through every step (the first occurrence's rating
for a repeated pair) into ``InteractionData.ratings``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from towernas.data.errors import DataError
from towernas.data.features import encode_features
from towernas.data.interactions import TEST, TRAIN, VALID, InteractionData
from towernas.data.raw import RawDataset


log = logging.getLogger(__name__)

SPLITS = ("ratio", "leave_one_out", "given")


@dataclass(frozen=True)
class Preprocessing:
    """Everything that changes the processed data (and therefore the cache key).

    Args:
        min_rating: keep interactions with ``rating >= min_rating`` (None keeps all).
        k_core_user, k_core_item: iterate until every user has >= k_core_user interactions and every
            item >= k_core_item (0 disables).
        split: "ratio", "leave_one_out" or "given" (the reader's files fix the split: ``RawDataset.given_split``).
        valid, test: fractions of each user's interactions for the ratio split; with a given split that has no
            validation part, ``valid`` is the share of each user's train rows carved out at random as validation.
        seed: seeds that carving.
    """

    min_rating: float | None = None
    k_core_user: int = 0
    k_core_item: int = 0
    split: str = "ratio"
    valid: float = 0.25
    test: float = 0.25
    seed: int = 0

    def __post_init__(self) -> None:
        if self.split not in SPLITS:
            raise DataError(f"dataset.split.method={self.split!r}: expected one of {', '.join(SPLITS)}")
        if not (0 < self.valid < 1 and 0 < self.test < 1 and self.valid + self.test < 1):
            raise DataError(
                f"dataset.split: valid={self.valid}, test={self.test}: expected fractions in (0, 1) summing below 1"
            )
        if self.k_core_user < 0 or self.k_core_item < 0:
            raise DataError(f"dataset.k_core: got user={self.k_core_user}, item={self.k_core_item}; expected >= 0")


def preprocess(raw: RawDataset, prep: Preprocessing, name: str, max_len: int, *,
               consume: bool = False) -> InteractionData:
    """Turn ``raw`` into InteractionData. Raises DataError if nothing survives the filters.

    With ``consume`` (``load_dataset``: the reader's frame is read once), ``raw.interactions`` is taken out of
    ``raw`` and each column's memory is freed as soon as its rows are gathered (``make bench-own-data`` measures the
    peak)."""
    df = raw.interactions
    missing = {"user", "item", "timestamp"} - set(df.columns)
    if missing:
        raise DataError(f"dataset {name}: reader returned no column(s) {sorted(missing)}")
    _check_split_method(raw, prep, name)
    if not raw.timed:
        log.warning("dataset %s has no timestamps: file order is the order (order-aware poolings and time-aware "
                    "features see file order)", name)
    if prep.min_rating is not None:
        if "rating" not in df.columns:
            raise DataError(f"dataset {name}: min_rating={prep.min_rating} set but the reader gives no ratings")
        df = df[df["rating"].to_numpy() >= prep.min_rating]
    user_codes, user_ids = _codes(df["user"])
    item_codes, item_ids = _codes(df["item"])
    timestamps = df["timestamp"].to_numpy(dtype=np.int64)
    given = df["split"].to_numpy(dtype=np.int8) if raw.given_split else None
    ratings = _ratings(df, name)
    if consume:  # from here on the arrays above hold the only references to the columns' memory
        raw.interactions = df = None
    # ``rows`` (file order) index the frame's rows that survive de-duplication and k-core; None: all of them.
    # Every column is gathered from the frame once, in its final order, and dropped then (the peak memory).
    n_read = len(timestamps)
    rows = _first_occurrences(user_codes, item_codes, timestamps, given)
    if rows is not None:
        log.info("dataset %s: kept the first of each repeated (user, item) pair, %d later row(s) dropped%s", name,
                 n_read - len(rows), " (with a given split: the copy in the earliest part)" if given is not None else "")
    kept = _k_core(_take(user_codes, rows), _take(item_codes, rows), prep.k_core_user, prep.k_core_item)
    if kept is not None:
        rows = kept if rows is None else rows[kept]
    if rows is not None and len(rows) == 0:
        raise DataError(
            f"dataset {name}: no interactions left after filtering (min_rating={prep.min_rating}, "
            f"k_core_user={prep.k_core_user}, k_core_item={prep.k_core_item}); relax the filters"
        )
    # re-index to 0..n-1 in order of first appearance, then sort by (user, time, file order)
    kept_codes = _take(user_codes, rows)
    user_table, kept_users = _renumber(kept_codes, len(user_ids))
    users = user_table[kept_codes]
    del user_codes, user_table, kept_codes
    item_table, kept_items = _renumber(_take(item_codes, rows), len(item_ids))
    timestamps = _take(timestamps, rows)
    given = _take(given, rows)
    if given is None:
        order = np.lexsort((timestamps, users))  # lexsort is stable: file order breaks time ties
    else:  # a given split: each user's train rows, then validation, then test (each part in time order)
        if not (given == VALID).any():
            given = carve_validation(users, given, prep.valid, prep.seed)
        order = np.lexsort((timestamps, given, users))
    users, timestamps = users[order], timestamps[order]
    given = None if given is None else given[order]
    frame_rows = order if rows is None else rows[order]  # the final order, as rows of the frame
    del order, rows
    items = item_table[item_codes[frame_rows]]
    del item_codes, item_table
    ratings = None if ratings is None else ratings[frame_rows]
    del frame_rows
    n_users, n_items = len(kept_users), len(kept_items)
    user_indptr = np.zeros(n_users + 1, dtype=np.int64)
    np.cumsum(np.bincount(users, minlength=n_users), out=user_indptr[1:])
    split = assign_splits(user_indptr, prep) if given is None else given
    raw_user_ids = np.asarray(user_ids)[kept_users]
    raw_item_ids = np.asarray(item_ids)[kept_items]
    return InteractionData(
        name=name,
        n_users=n_users,
        n_items=n_items,
        users=users,
        items=items,
        timestamps=timestamps,
        user_indptr=user_indptr,
        split=split,
        user_features=encode_features(raw.user_features, raw_user_ids, raw.multi_valued),
        item_features=encode_features(raw.item_features, raw_item_ids, raw.multi_valued),
        user_ids=raw_user_ids.astype(str),
        item_ids=raw_item_ids.astype(str),
        max_len=max_len,
        ratings=ratings,
    )


def assign_splits(user_indptr: np.ndarray, prep: Preprocessing) -> np.ndarray:
    """Split code per row for time-sorted rows grouped by user.

    Ratio: ``n_test = max(1, floor(n * test))``, ``n_valid = max(1, floor(n * valid))``, the rest
    (rounding included) is train. Leave-one-out: the last row is test, the one before valid. Users
    with fewer than 3 interactions keep everything in train (they teach the model but are not
    evaluated).
    """
    n = np.diff(user_indptr)
    if prep.split == "leave_one_out":
        n_test = np.ones_like(n)
        n_valid = np.ones_like(n)
    else:
        n_test = np.maximum(1, np.floor(n * prep.test + 1e-9).astype(np.int64))
        n_valid = np.maximum(1, np.floor(n * prep.valid + 1e-9).astype(np.int64))
    too_short = n - n_test - n_valid < 1
    n_test[too_short] = 0
    n_valid[too_short] = 0
    rank_from_end = np.repeat(user_indptr[1:], n) - np.arange(user_indptr[-1]) - 1  # 0 = last row
    test_cut = np.repeat(n_test, n)
    valid_cut = test_cut + np.repeat(n_valid, n)
    split = np.full(user_indptr[-1], TRAIN, dtype=np.int8)
    split[rank_from_end < valid_cut] = VALID
    split[rank_from_end < test_cut] = TEST
    return split


def carve_validation(users: np.ndarray, split: np.ndarray, share: float, seed: int) -> np.ndarray:
    """``split`` with ``max(1, floor(n * share))`` of each user's ``n`` train rows turned into VALID, chosen at
    random (``seed``), for users with at least 2 train rows; at least one train row always stays."""
    rng = np.random.default_rng(seed)
    train = np.flatnonzero(split == TRAIN)
    owners = users[train]
    shuffled = train[np.lexsort((rng.random(len(train)), owners))]  # each user's train rows in random order
    counts = np.bincount(owners, minlength=int(users.max()) + 1 if len(users) else 0)
    n_valid = np.where(counts >= 2, np.minimum(np.maximum(1, np.floor(counts * share + 1e-9)), counts - 1), 0)
    starts = np.cumsum(counts) - counts
    owner = users[shuffled]
    rank = np.arange(len(shuffled)) - starts[owner]
    out = split.copy()
    out[shuffled[rank < n_valid[owner]]] = VALID
    return out


def _check_split_method(raw: RawDataset, prep: Preprocessing, name: str) -> None:
    """A split the files fix is used, never silently replaced; ``given`` needs one."""
    if raw.given_split and prep.split != "given":
        raise DataError(f"dataset {name}: the files fix the split (train/valid/test parts), but "
                        f"dataset.split.method={prep.split!r} would replace it; set dataset.split.method=given")
    if prep.split == "given" and not raw.given_split:
        raise DataError(f"dataset {name}: dataset.split.method=given, but the reader's files carry no split "
                        "(no train/valid/test parts); use dataset.split.method=ratio or leave_one_out")
    if raw.given_split:
        codes = raw.interactions["split"].to_numpy()
        bad = ~np.isin(codes, (TRAIN, VALID, TEST))
        if bad.any():
            raise DataError(f"dataset {name}: split code {codes[bad][0]!r} in the reader's 'split' column; expected "
                            f"{TRAIN} (train), {VALID} (valid) or {TEST} (test)")


def _ratings(df: pd.DataFrame, name: str) -> np.ndarray | None:
    """The ``rating`` column as float32 (file order), or None when the reader gives none."""
    if "rating" not in df.columns:
        return None
    try:
        return df["rating"].to_numpy(dtype=np.float32)
    except (TypeError, ValueError) as err:
        raise DataError(f"dataset {name}: the reader's 'rating' column is not numeric ({err})") from None


def _codes(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes of a column of ids and the id of each code: a categorical's own codes (no copy, the
    streaming readers' ids), else ``pd.factorize``'s. Any codes do: ``_renumber`` renumbers the kept rows."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return column.cat.codes.to_numpy(), np.asarray(column.cat.categories)
    codes, uniques = pd.factorize(column)
    return codes, np.asarray(uniques)


def _take(values: np.ndarray | None, rows: np.ndarray | None) -> np.ndarray | None:
    """``values[rows]``; ``values`` itself when ``rows`` is None (every row)."""
    return values if values is None or rows is None else values[rows]


def _first_occurrences(users, items, timestamps, given=None) -> np.ndarray | None:
    """Rows (file order) of the earliest interaction of each (user, item) pair; file order breaks time ties. With a
    given split (``given``), the copy in the earliest part wins (train before validation before test), then time.
    None when every row is the first of its pair (the common case: no index array, no copies)."""
    keys = (timestamps, items, users) if given is None else (timestamps, given, items, users)
    order = np.lexsort(keys)  # stable: within a pair, by (part,) time, then file order
    first = np.zeros(len(order), dtype=bool)
    first[:1] = True
    for codes in (users, items):  # a pair starts where the user or the item changes; one gathered column at a time
        ordered = codes[order]
        first[1:] |= ordered[1:] != ordered[:-1]
        del ordered
    if first.all():
        return None
    rows = order[first]
    rows.sort()  # back to file order
    return rows


def _k_core(users, items, k_user: int, k_item: int) -> np.ndarray | None:
    """Positions of the rows kept when users with < k_user and items with < k_item interactions are dropped
    until nothing changes; None when the filter is off."""
    if k_user <= 1 and k_item <= 1:
        return None
    kept = np.arange(len(users))
    while True:
        u, i = users[kept], items[kept]
        keep = (np.bincount(u)[u] >= k_user) & (np.bincount(i)[i] >= k_item)
        if keep.all():
            return kept
        kept = kept[keep]


def _renumber(codes: np.ndarray, n_codes: int) -> tuple[np.ndarray, np.ndarray]:
    """New ids 0..n-1 by first appearance in ``codes`` (values in ``0..n_codes-1``) as a lookup table over the old
    codes, and the old code of each new id. A hash of the distinct codes, no per-row temporaries."""
    old = pd.unique(codes)  # in order of appearance
    table = np.full(n_codes, -1, dtype=np.int64)
    table[old] = np.arange(len(old))
    return table, np.asarray(old)
