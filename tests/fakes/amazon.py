"""Fake Amazon review data 2018 files: a ratings-only CSV (fast enough for 5M rows) and gz metadata."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

_ALNUM = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", dtype=np.uint8)
_DIGITS = np.frombuffer(b"0123456789", dtype=np.uint8)


def _codes(rng: np.random.Generator, n: int, prefix: bytes, alphabet: np.ndarray, width: int) -> np.ndarray:
    """``n`` distinct ids ``prefix + width random chars`` as a numpy str array (vectorised)."""
    ids: np.ndarray = np.array([], dtype=f"S{len(prefix) + width}")
    while len(ids) < n:  # collisions are rare; redraw until n distinct
        chars = alphabet[rng.integers(0, len(alphabet), size=(2 * n - len(ids), width))]
        body = np.ascontiguousarray(chars).view(f"S{width}").ravel()
        ids = np.unique(np.concatenate([ids, np.char.add(prefix, body)]))
    return rng.permutation(ids)[:n].astype(str)


def amazon_ids(n_users: int, n_items: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Reviewer ids ``A`` + 13 alnum and ASINs (``B00`` + 7 alnum or ``0`` + 9 digits)."""
    rng = np.random.default_rng(seed)
    users = _codes(rng, n_users, b"A", _ALNUM, 13)
    n_isbn = n_items // 2
    items = np.concatenate([_codes(rng, n_isbn, b"0", _DIGITS, 9), _codes(rng, n_items - n_isbn, b"B00", _ALNUM, 7)])
    return users, rng.permutation(items)


def _zipf(rng: np.random.Generator, n: int, size: int, a: float) -> np.ndarray:
    p = 1.0 / np.arange(1, n + 1) ** a
    return rng.choice(n, size=size, p=p / p.sum())


def write_amazon_csv(path: str | Path, n_rows: int, n_users: int, n_items: int, seed: int = 0) -> Path:
    """Write ``item,user,rating,timestamp`` rows (no header), Zipf-skewed, sorted-ish by time.

    Users and items are drawn from ``amazon_ids(n_users, n_items, seed)`` so a test can rebuild them.
    """
    rng = np.random.default_rng(seed + 1)
    users, items = amazon_ids(n_users, n_items, seed)
    user = _zipf(rng, n_users, n_rows, 0.8)
    item = _zipf(rng, n_items, n_rows, 1.0)
    ratings = pa.array(["1.0", "2.0", "3.0", "4.0", "5.0"])
    rating = rng.choice(5, size=n_rows, p=[0.05, 0.05, 0.1, 0.25, 0.55]).astype(np.int32)
    start, end = 946_684_800, 1_538_352_000  # 2000-01-01 … 2018-10-01
    timestamp = np.linspace(start, end, n_rows).astype(np.int64) + rng.integers(-86_400, 86_400, n_rows)
    table = pa.table({
        "item": pa.DictionaryArray.from_arrays(pa.array(item.astype(np.int32)), pa.array(items)).cast(pa.string()),
        "user": pa.DictionaryArray.from_arrays(pa.array(user.astype(np.int32)), pa.array(users)).cast(pa.string()),
        "rating": pa.DictionaryArray.from_arrays(pa.array(rating), ratings).cast(pa.string()),
        "timestamp": pa.array(timestamp),
    })
    path = Path(path)
    pacsv.write_csv(table, path, pacsv.WriteOptions(include_header=False, quoting_style="none",
                                                    batch_size=1 << 16))
    return path


_CATEGORIES = ["Literature & Fiction", "Mystery, Thriller & Suspense", "Children's Books", "History",
               "Science Fiction & Fantasy", "Cookbooks, Food & Wine", "Biographies & Memoirs"]
_PRICES = ["$12.99", "$7.50", "$1,234.00", "$5.99 - $9.99", "", "$24.95", "$3.49",
           ".a-box-inner{background-color:#fff;}", "$15.00", "$0.99"]


def write_amazon_meta(path: str | Path, asins, seed: int = 0) -> list[dict]:
    """Write gzip'd JSON lines in the shape of ``meta_Books.json.gz``; returns the records written."""
    rng = np.random.default_rng(seed)
    records = []
    for k, asin in enumerate(asins):
        picked = rng.choice(len(_CATEGORIES), size=int(rng.integers(0, 3)), replace=False)
        records.append({
            "category": ["Books", *(_CATEGORIES[i] for i in picked)] if k % 5 else [],
            "tech1": "", "description": [f"A book numbered {k}."], "fit": "",
            "title": f"Title {k}", "also_buy": [], "tech2": "",
            "brand": f"Author {k % 7}" if k % 4 else "",
            "feature": [], "rank": f"{k + 1:,} in Books (", "also_view": [], "main_cat": "Books",
            "similar_item": "", "date": "", "price": _PRICES[k % len(_PRICES)],
            "asin": str(asin), "imageURL": [], "imageURLHighRes": [],
        })
    with gzip.open(path, "wt", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record) + "\n")
    return records
