"""Yelp Open Dataset: reviews, users and businesses from the three JSON-lines files.

The review file is ~5 GB (~7M lines); it is streamed with ``pyarrow.json.open_json`` keeping only
``user_id``, ``business_id``, ``stars`` and ``date`` (the text is parsed and dropped), with ids
dictionary-encoded batch by batch. Interactions: ``user``, ``item`` (business), ``timestamp`` (the
``"YYYY-MM-DD HH:MM:SS"`` date as unix seconds, UTC), ``rating`` (stars).

Side features (string labels; only users/businesses that have reviews are kept):

- items: ``categories`` (multi-valued, from the comma-separated string), ``city``, ``stars`` (e.g.
  ``"4.5"``), ``review_count`` (log2 bucket: ``b`` holds counts in ``[2**(b-1), 2**b)``).
- users: ``yelping_since`` (year), ``review_count`` and ``fans`` (log2 buckets), ``average_stars``
  (rounded to 0.5), ``elite`` (``"yes"``/``"no"``).

Example:
    >>> from towernas.data.readers.yelp import YELP
    >>> raw = YELP.read(Path("data/yelp"), YELP.options())  # doctest: +SKIP
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from towernas.data.errors import DataError
from towernas.data.raw import RawDataset
from towernas.data.readers._arrow import (
    Check,
    Columns,
    as_labels,
    json_batches,
    lists_of_strings,
    log2_bucket,
    raise_on_nulls,
    required_check,
)
from towernas.data.readers.base import NoOptions, Reader

REVIEWS = "yelp_academic_dataset_review.json"
USERS = "yelp_academic_dataset_user.json"
BUSINESSES = "yelp_academic_dataset_business.json"
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"

REVIEW_SCHEMA = pa.schema([("user_id", pa.string()), ("business_id", pa.string()),
                           ("stars", pa.float32()), ("date", pa.string())])
USER_SCHEMA = pa.schema([("user_id", pa.string()), ("review_count", pa.int64()), ("yelping_since", pa.string()),
                         ("fans", pa.int64()), ("average_stars", pa.float64()), ("elite", pa.string())])
BUSINESS_SCHEMA = pa.schema([("business_id", pa.string()), ("city", pa.string()), ("stars", pa.float64()),
                             ("review_count", pa.int64()), ("categories", pa.string())])


def read_yelp(directory: Path, options: NoOptions) -> RawDataset:
    """Read the three Yelp files from ``directory``; DataError on bad input."""
    directory = Path(directory)
    interactions = read_reviews(directory / REVIEWS)
    users = read_users(directory / USERS, interactions["user"].cat.categories)
    items = read_businesses(directory / BUSINESSES, interactions["item"].cat.categories)
    return RawDataset(interactions=interactions, user_features=users, item_features=items,
                      multi_valued=frozenset({"categories"}))


def read_reviews(path: Path) -> pd.DataFrame:
    """Columns ``user``, ``item`` (categorical str), ``timestamp`` (int64 s), ``rating`` (float32)."""
    check = _all_of(required_check(REVIEW_SCHEMA.names), _date_check("date"))
    columns = Columns(encode=("user", "item"))
    for batch in json_batches(path, REVIEW_SCHEMA, check):
        raise_on_nulls(path, batch, REVIEW_SCHEMA.names, check)
        seconds = pc.strptime(batch.column("date"), format=DATE_FORMAT, unit="s", error_is_null=True)
        raise_on_nulls(path, pa.table({"date": seconds}), ["date"], check)
        columns.add(pa.table({"user": batch.column("user_id"), "item": batch.column("business_id"),
                              "timestamp": seconds.cast(pa.int64()), "rating": batch.column("stars")}))
    table = columns.table(pa.schema([("user", pa.string()), ("item", pa.string()),
                                     ("timestamp", pa.int64()), ("rating", pa.float32())]))
    if table.num_rows == 0:
        raise DataError.at(path, None, "no reviews (empty file)")
    return table.to_pandas(split_blocks=True, self_destruct=True)


def read_users(path: Path, known: pd.Index) -> pd.DataFrame:
    """User features, one row per user id in ``known`` that the file lists."""
    table = _read_known(path, USER_SCHEMA, "user_id", known)
    since = pc.utf8_slice_codeunits(table.column("yelping_since"), 0, 4)
    average = table.column("average_stars").to_numpy(zero_copy_only=False)
    elite = pc.utf8_trim_whitespace(table.column("elite").fill_null(""))
    is_elite = np.asarray(pc.invert(pc.is_in(elite, pa.array(["", "None"]))))
    return pd.DataFrame(
        {"yelping_since": since.to_numpy(zero_copy_only=False),
         "review_count": _count_bucket(table.column("review_count")),
         "fans": _count_bucket(table.column("fans")),
         "average_stars": as_labels(np.char.mod("%.1f", np.round(np.nan_to_num(average) * 2) / 2),
                                    np.isnan(average)),
         "elite": np.where(is_elite, "yes", "no").astype(object)},
        index=pd.Index(table.column("user_id").to_numpy(zero_copy_only=False), name="user"),
    )


def read_businesses(path: Path, known: pd.Index) -> pd.DataFrame:
    """Business features, one row per business id in ``known`` that the file lists."""
    table = _read_known(path, BUSINESS_SCHEMA, "business_id", known)
    categories = pc.split_pattern(table.column("categories"), ",")  # null -> null list -> []
    stars = table.column("stars").to_numpy(zero_copy_only=False)
    return pd.DataFrame(
        {"categories": lists_of_strings(categories),
         "city": pc.utf8_trim_whitespace(table.column("city")).to_numpy(zero_copy_only=False),
         "stars": as_labels(np.char.mod("%.1f", np.nan_to_num(stars)), np.isnan(stars)),
         "review_count": _count_bucket(table.column("review_count"))},
        index=pd.Index(table.column("business_id").to_numpy(zero_copy_only=False), name="item"),
    )


# ----------------------------------------------------------------------------------------- helpers
def _read_known(path: Path, schema: pa.Schema, key: str, known: pd.Index) -> pa.Table:
    """Rows of a JSON-lines file whose ``key`` is in ``known``, first occurrence of each key."""
    check = required_check([key])
    kept = Columns(encode=())
    for batch in json_batches(path, schema, check):
        raise_on_nulls(path, batch, [key], check)
        mask = known.get_indexer(batch.column(key).to_numpy(zero_copy_only=False)) >= 0
        kept.add(batch.filter(pa.array(mask)))
    table = kept.table(schema)
    first = ~pd.Index(table.column(key).to_numpy(zero_copy_only=False)).duplicated()
    return table.filter(pa.array(first))


def _count_bucket(counts: pa.ChunkedArray | pa.Array) -> np.ndarray:
    values = np.asarray(counts.to_numpy(zero_copy_only=False), dtype=np.float64)
    return as_labels(log2_bucket(values), np.isnan(values))


def _date_check(field: str) -> Check:
    def check(record: dict) -> str | None:
        try:
            datetime.strptime(record[field], DATE_FORMAT)
        except (TypeError, ValueError):
            return f"field {field!r} should be a date like 2018-07-07 22:09:11, got {record[field]!r}"
        return None

    return check


def _all_of(*checks: Check) -> Check:
    def check(record: dict) -> str | None:
        return next((problem for c in checks if (problem := c(record))), None)

    return check


YELP = Reader(
    name="yelp",
    read=read_yelp,
    files=lambda options: [REVIEWS, USERS, BUSINESSES],
    options=NoOptions,
    manual=(
        "the Yelp Open Dataset has no public download link (its terms require accepting them by hand): "
        f"get it from https://www.yelp.com/dataset and extract {REVIEWS}, {USERS} and {BUSINESSES} "
        "into the dataset directory"
    ),
)
