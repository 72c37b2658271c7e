"""Registry of dataset readers: ``dataset.reader`` in a config names one of ``READERS``."""

from __future__ import annotations

from towernas.data.errors import DataError
from towernas.data.readers.amazon import AMAZON
from towernas.data.readers.base import Reader
from towernas.data.readers.movielens import ML_1M, ML_100K
from towernas.data.readers.synthetic import SYNTHETIC
from towernas.data.readers.yelp import YELP

READERS: dict[str, Reader] = {r.name: r for r in (SYNTHETIC, ML_100K, ML_1M, YELP, AMAZON)}


def get_reader(name: str) -> Reader:
    """The reader called ``name``; a one-line error lists the known ones otherwise."""
    try:
        return READERS[name]
    except KeyError:
        raise DataError(f"dataset.reader={name!r}: unknown reader; expected one of {sorted(READERS)}") from None
