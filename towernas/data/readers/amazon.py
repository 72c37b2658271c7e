"""Amazon review data (2018, McAuley lab): ratings-only CSV plus optional item metadata.

Ratings (``Books.csv``): no header, one ``item,user,rating,timestamp`` row per review, e.g.
``0001713353,A1C6M8LCIX4M6M,5.0,1123804800``. Read block by block with ``pyarrow.csv.open_csv``
(multithreaded parsing, explicit column types); ids are dictionary-encoded per block and handed to
pandas as categoricals, so 50M rows cost ~20 bytes each plus one copy of every distinct id.

Metadata (``meta_Books.json.gz``, optional): gzip'd JSON lines with ``asin``, ``category`` (list of
str), ``price`` (e.g. ``"$12.99"``, empty or junk), ``brand`` and many fields that are skipped. Only
asins that occur in the ratings are kept. Item features:

- ``category``: multi-valued, without the generic root (``root_category``, e.g. ``"Books"``).
- ``price``: quantile bucket ``"0" … str(price_buckets - 1)`` over the parsable prices (the first
  ``$`` amount of the string); unparsable → missing.
- ``brand``: the string, empty → missing.

Example:
    >>> from towernas.data.readers.amazon import AMAZON, AmazonOptions
    >>> raw = AMAZON.read(Path("data/amazon"), AmazonOptions())  # doctest: +SKIP
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from towernas.data.download import Source
from towernas.data.errors import DataError
from towernas.data.raw import RawDataset
from towernas.data.readers._arrow import (
    BLOCK_SIZE,
    Columns,
    guarded,
    json_batches,
    lists_of_strings,
    open_text,
    raise_on_nulls,
    require_file,
    required_check,
)
from towernas.data.readers.base import Reader
from towernas.data.readers.columns import bucketize

_BASE = "https://mcauleylab.ucsd.edu/public_datasets/data/amazon_v2"
# ids are parsed as strings and dictionary-encoded per block (faster than Arrow's dictionary conversion)
RATINGS_SCHEMA = pa.schema([("item", pa.string()), ("user", pa.string()), ("rating", pa.float32()),
                            ("timestamp", pa.int64())])
META_SCHEMA = pa.schema([("asin", pa.string()), ("category", pa.list_(pa.string())),
                         ("price", pa.string()), ("brand", pa.string())])
_PRICE = r"^\s*\$\s*(?P<amount>[0-9][0-9,]*(?:\.[0-9]+)?)"


@dataclass
class AmazonOptions:
    """Settings of the Amazon reader (``dataset.options``).

    Args:
        ratings_file: the ratings-only CSV in the dataset directory.
        meta_file: gzip'd JSON-lines metadata; None, or a file that is not there, = no item features.
        price_buckets: number of price quantile buckets (at least 1).
        root_category: the category every item of the file shares (dropped from ``category``).
    """

    ratings_file: str = "Books.csv"
    meta_file: str | None = "meta_Books.json.gz"
    price_buckets: int = 10
    root_category: str | None = "Books"


def read_amazon(directory: Path, options: AmazonOptions) -> RawDataset:
    """Read ratings (and metadata when present) from ``directory``; DataError on bad input."""
    if options.price_buckets < 1:
        raise DataError.at("dataset.options.price_buckets", None,
                           f"expected at least 1 bucket, got {options.price_buckets}")
    directory = Path(directory)
    interactions = read_ratings(directory / options.ratings_file)
    meta = directory / options.meta_file if options.meta_file else None
    if meta is None or not meta.exists():
        return RawDataset(interactions=interactions)
    items = read_meta(meta, interactions["item"].cat.categories, options)
    return RawDataset(interactions=interactions, item_features=items, multi_valued=frozenset({"category"}))


# ------------------------------------------------------------------------------------------ ratings
def read_ratings(path: Path) -> pd.DataFrame:
    """Columns ``user``, ``item`` (categorical str), ``timestamp`` (int64), ``rating`` (float32)."""
    require_file(path)
    read = pacsv.ReadOptions(column_names=RATINGS_SCHEMA.names, block_size=BLOCK_SIZE, use_threads=True)
    convert = pacsv.ConvertOptions(column_types=RATINGS_SCHEMA, null_values=[], strings_can_be_null=False,
                                   quoted_strings_can_be_null=False)

    def batches():
        yield from pacsv.open_csv(str(path), read_options=read, convert_options=convert)

    columns = Columns(encode=("item", "user"))
    for batch in guarded(path, batches, lambda: scan_csv(path)):
        columns.add(batch)
    table = columns.table(RATINGS_SCHEMA)
    if table.num_rows == 0:
        raise DataError.at(path, None, "no ratings (empty file)")
    table = table.select(["user", "item", "timestamp", "rating"])
    return table.to_pandas(split_blocks=True, self_destruct=True)


def scan_csv(path: Path) -> tuple[int, str] | None:
    """First ``(line, problem)`` of a ratings CSV, or None (the slow path behind Arrow's errors)."""
    with open_text(path) as text:
        rows = csv.reader(text)
        try:
            for row in rows:
                problem = _row_problem(row)
                if problem:
                    return rows.line_num, problem
        except csv.Error as err:
            return rows.line_num, f"bad CSV: {err}"
    return None


def _row_problem(row: list[str]) -> str | None:
    if not row:
        return None  # blank line, skipped by Arrow too
    if len(row) != 4:
        return f"expected 4 comma-separated columns (item,user,rating,timestamp), got {len(row)}"
    try:
        float(row[2])
    except ValueError:
        return f"rating {row[2][:30]!r} is not a number"
    try:
        int(row[3])
    except ValueError:
        return f"timestamp {row[3][:30]!r} is not an integer (unix seconds)"
    return None


# ------------------------------------------------------------------------------------- metadata
def read_meta(path: Path, items: pd.Index, options: AmazonOptions) -> pd.DataFrame:
    """Item features for the asins in ``items`` (first record wins for duplicated asins)."""
    check = required_check(["asin"])
    kept = Columns(encode=())
    for batch in json_batches(path, META_SCHEMA, check):
        raise_on_nulls(path, batch, ["asin"], check)
        known = items.get_indexer(batch.column("asin").to_numpy(zero_copy_only=False)) >= 0
        kept.add(batch.filter(pa.array(known)))
    table = kept.table(META_SCHEMA)
    asins = table.column("asin").to_numpy(zero_copy_only=False)
    first = ~pd.Index(asins).duplicated()
    table = table.filter(pa.array(first))
    price = _price_buckets(table.column("price"), options.price_buckets)
    brand = pc.utf8_trim_whitespace(table.column("brand"))
    brand = pc.if_else(pc.equal(brand, ""), pa.scalar(None, pa.string()), brand)
    drop = [options.root_category] if options.root_category else []
    return pd.DataFrame(
        {"category": lists_of_strings(table.column("category"), drop=drop),
         "price": price,
         "brand": brand.to_numpy(zero_copy_only=False)},
        index=pd.Index(asins[first], name="item"),
    )


def _price_buckets(prices: pa.Array, buckets: int) -> np.ndarray:
    """Quantile bucket labels of the first ``$`` amount in each string; None when unparsable."""
    amount = pc.struct_field(pc.extract_regex(prices, _PRICE), "amount")
    value = pc.cast(pc.replace_substring(amount, ",", ""), pa.float64())
    return bucketize(value.to_numpy(zero_copy_only=False), buckets)


AMAZON = Reader(
    name="amazon",
    read=read_amazon,
    files=lambda options: [options.ratings_file],
    options=AmazonOptions,
    sources=(
        Source(url=f"{_BASE}/categoryFilesSmall/Books.csv", filename="Books.csv"),
        Source(url=f"{_BASE}/metaFiles2/meta_Books.json.gz", filename="meta_Books.json.gz"),
    ),
    manual=(
        "download the ratings-only CSV (e.g. Books.csv) and optionally its metadata "
        "(meta_Books.json.gz) from https://nijianmo.github.io/amazon/ (Amazon review data 2018) "
        "and put both files, unchanged, into the dataset directory"
    ),
)
