"""Loop over the reader registry: every registered reader reads files in its real format (the fakes of
``tests/fakes``, or its generator) into a RawDataset with the columns the preprocessing expects, and has
a ``conf/dataset`` config that names it."""

from pathlib import Path

import pytest
import yaml

from tests.conftest import CONF_DIR
from tests.fakes.amazon import amazon_ids, write_amazon_csv, write_amazon_meta
from tests.fakes.movielens import write_ml1m, write_ml100k
from tests.fakes.yelp import write_yelp
from towernas.data.readers import READERS


def _amazon(directory: Path) -> None:
    directory.mkdir(parents=True)
    write_amazon_csv(directory / "Books.csv", n_rows=400, n_users=40, n_items=60)
    write_amazon_meta(directory / "meta_Books.json.gz", amazon_ids(40, 60)[1])


def _own(kind: str):
    """A writer of the embedded generator's data in one of the formats of users' own data."""

    def write(directory: Path) -> None:
        from tests.fakes.own_data import generated, write_lightgcn, write_recbole, write_table

        data = generated(n_users=30, n_items=80, mean_length=10)
        {"table": lambda: write_table(directory, data), "recbole": lambda: write_recbole(directory, "rb", data),
         "lightgcn": lambda: write_lightgcn(directory, data)}[kind]()

    return write


FAKES = {  # reader name -> writes that reader's files into a directory
    "synthetic": lambda d: d.mkdir(parents=True),
    "ml-100k": lambda d: write_ml100k(d, n_users=30, n_items=40, n_ratings=300),
    "ml-1m": lambda d: write_ml1m(d, n_users=30, n_items=40, n_ratings=300),
    "yelp": lambda d: write_yelp(d, n_users=30, n_items=40, n_reviews=300),
    "amazon": _amazon,
    "table": _own("table"),
    "recbole": _own("recbole"),
    "lightgcn": _own("lightgcn"),
}
SMALL = {"synthetic": {"n_users": 20, "n_items": 80, "mean_length": 10},
         "table": {"columns": {"user": "uid", "item": "sku", "timestamp": "ts", "rating": "stars"},
                   "users": "users.csv", "items": "items.tsv", "features": {"gender": "categorical"}},
         "recbole": {"name": "rb"}}


def test_every_registered_reader_has_a_fake_and_a_config():
    assert set(READERS.names()) == set(FAKES)
    configured = {yaml.safe_load(p.read_text())["reader"] for p in (CONF_DIR / "dataset").glob("*.yaml")}
    assert configured == set(READERS.names())


@pytest.mark.parametrize("name", READERS.names())
def test_every_reader_reads_its_format(tmp_path, name):
    reader = READERS.get(name)
    directory = tmp_path / name
    FAKES[name](directory)
    options = reader.options(**SMALL.get(name, {}))
    assert all((directory / f).exists() for f in reader.files(options))
    raw = reader.read(directory, options)
    assert {"user", "item", "timestamp"} <= set(raw.interactions.columns) and len(raw.interactions) > 0
    assert raw.interactions["timestamp"].dtype.kind == "i"
    for table in (raw.user_features, raw.item_features):
        assert table.index.is_unique
