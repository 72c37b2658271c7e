"""Registry of dataset readers: ``dataset.reader`` in a config names one of ``READERS``."""

from __future__ import annotations

from towernas.data.errors import DataError
from towernas.data.readers.amazon import AMAZON
from towernas.data.readers.base import Reader
from towernas.data.readers.lightgcn import LIGHTGCN
from towernas.data.readers.movielens import ML_1M, ML_100K
from towernas.data.readers.recbole import RECBOLE
from towernas.data.readers.synthetic import SYNTHETIC
from towernas.data.readers.table import TABLE
from towernas.data.readers.yelp import YELP
from towernas.runs.registry import Registry

READERS: Registry[Reader] = Registry("reader", key="dataset.reader", error=DataError)
for _reader in (SYNTHETIC, ML_100K, ML_1M, YELP, AMAZON, TABLE, RECBOLE, LIGHTGCN):
    READERS.register(_reader.name, _reader)


def get_reader(name: str) -> Reader:
    """The reader called ``name``; a one-line error lists the known ones otherwise."""
    return READERS.get(name)
