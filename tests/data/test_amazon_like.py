"""The Amazon-shaped generator: real file formats, exact sizes through the 20-core filter, seeded, atomic."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from towernas.config import DatasetConfig
from towernas.data import load_dataset
from towernas.data.amazon_like import RECORD, AmazonLikeOptions, ensure_generated, write_amazon_like
from towernas.data.errors import DataError

SMALL = {"users": 400, "items": 300, "interactions": 12_000, "n_topics": 16, "n_genres": 4, "seed": 3,
         "item_spread": 0.6}


def config(root, **generate) -> DatasetConfig:
    return DatasetConfig(name="amz", reader="amazon", root=str(root), k_core_user=20, k_core_item=20, max_len=50,
                         generate={**SMALL, **generate})


def test_files_are_in_the_real_amazon_formats(tmp_path):
    write_amazon_like(tmp_path, AmazonLikeOptions(**SMALL), progress=False)
    rows = (tmp_path / "Books.csv").read_text().splitlines()
    assert len(rows) == SMALL["interactions"]
    item, user, rating, timestamp = rows[0].split(",")
    assert len(item) == 10 and item.isdigit()  # ISBN-10-like asin
    assert len(user) == 14 and user.startswith("A") and user.isalnum() and user.isupper()
    assert rating in {"1.0", "2.0", "3.0", "4.0", "5.0"} and int(timestamp) > 1_300_000_000
    items = [r.split(",")[0] for r in rows]
    assert items == sorted(items, key=items.index)  # grouped by item, as the real file
    with gzip.open(tmp_path / "meta_Books.json.gz", "rt") as lines:
        meta = [json.loads(line) for line in lines]
    assert len(meta) == SMALL["items"] and {m["asin"] for m in meta} == set(items)
    assert all(m["category"][0] == "Books" and len(m["category"]) == 3 for m in meta)
    assert all(m["price"] == "" or m["price"].startswith("$") for m in meta)


def test_sizes_are_exact_after_the_20_core_filter_and_the_chunked_reader(tmp_path, monkeypatch):
    import towernas.data.readers.amazon as amazon

    monkeypatch.setattr(amazon, "BLOCK_SIZE", 1 << 14)  # many Arrow blocks, as a 200 MB file has
    data = load_dataset(config(tmp_path), progress=False)
    assert (data.n_users, data.n_items, data.n_interactions) == (400, 300, 12_000)
    pairs = data.users.astype(np.int64) * data.n_items + data.items
    assert len(np.unique(pairs)) == len(pairs)  # no repeated (user, item): nothing was de-duplicated away
    assert np.bincount(data.users).min() >= 20 and np.bincount(data.items).min() >= 20
    assert {"category", "price", "brand"} <= set(data.item_features.values)
    ratings = np.asarray(data.ratings)
    assert 0.5 < (ratings >= 4).mean() < 0.9  # mostly 4-5 stars, as Amazon


def test_the_data_has_structure_a_tower_can_learn(tmp_path):
    """Consecutive items of a user share a topic far above chance (the drift/topic signal)."""
    write_amazon_like(tmp_path, AmazonLikeOptions(**SMALL), progress=False)
    with gzip.open(tmp_path / "meta_Books.json.gz", "rt") as lines:
        topic = {m["asin"]: m["category"][2] for m in map(json.loads, lines)}
    rows = sorted((r.split(",") for r in (tmp_path / "Books.csv").read_text().splitlines()),
                  key=lambda r: (r[1], int(r[3])))
    same = [topic[a[0]] == topic[b[0]] for a, b in zip(rows, rows[1:]) if a[1] == b[1]]
    assert np.mean(same) > 5 / SMALL["n_topics"]


def test_seeded_reused_and_regenerated_when_the_options_change(tmp_path):
    options = AmazonLikeOptions(**SMALL)
    assert ensure_generated(tmp_path, options, progress=False)
    first = (tmp_path / "Books.csv").read_bytes()
    assert not ensure_generated(tmp_path, options, progress=False)  # same options: kept
    other = tmp_path / "other"
    write_amazon_like(other, options, progress=False)
    assert (other / "Books.csv").read_bytes() == first  # same seed, same bytes
    assert ensure_generated(tmp_path, AmazonLikeOptions(**{**SMALL, "seed": 4}), progress=False)
    assert (tmp_path / "Books.csv").read_bytes() != first
    (tmp_path / RECORD).unlink()  # as after a kill before the record: generated again, never trusted
    assert ensure_generated(tmp_path, AmazonLikeOptions(**{**SMALL, "seed": 4}), progress=False)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left


@pytest.mark.parametrize("generate, message", [
    ({"interactions": 100}, "dataset.generate.interactions=100: expected at least"),
    ({"bogus": 1}, "dataset.generate: unknown key(s) ['bogus']"),
    ({"explore_prob": 2}, "dataset.generate.explore_prob=2: expected a probability"),
    ({"n_genres": 99}, "dataset.generate.n_genres=99: expected at most n_topics=16"),
])
def test_bad_generator_settings_are_one_line_errors_before_any_file(tmp_path, generate, message):
    with pytest.raises(DataError, match=message.replace("[", r"\[").replace("]", r"\]").replace("(", r"\(")
                       .replace(")", r"\)")) as err:
        load_dataset(config(tmp_path, **generate), progress=False)
    assert "\n" not in str(err.value)
    assert not list((tmp_path / "raw" / "amz").glob("*.csv")) if (tmp_path / "raw" / "amz").exists() else True


def test_the_config_group_composes_at_paper_size():
    from tests.conftest import compose_config

    cfg = compose_config("dataset=synthetic-amazon", tiny=False)
    assert cfg.dataset.reader == "amazon" and cfg.dataset.k_core_user == cfg.dataset.k_core_item == 20
    assert (cfg.dataset.generate.users, cfg.dataset.generate["items"], cfg.dataset.generate.interactions) == (
        165_036, 159_551, 5_073_469)
