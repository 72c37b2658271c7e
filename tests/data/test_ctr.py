"""CTR labels: ratings kept through preprocessing and the cache, labels per threshold, the per-split pairs,
and one-line errors for a dataset without ratings or a bad ``dataset.ctr`` value."""

import numpy as np
import pandas as pd
import pytest

from tests.conftest import CONF_DIR, compose_config
from tests.data.test_readers import FAKES, SMALL
from towernas.config import DatasetConfig
from towernas.data import CtrPairs, DataError, RawDataset, cache, ctr_labels, ctr_pairs, load_dataset
from towernas.data.interactions import SPLIT_NAMES
from towernas.data.preprocess import Preprocessing, preprocess
from towernas.data.readers import READERS


def _data(rows, prep=None, name="r"):
    """InteractionData from (user, item, timestamp, rating) rows."""
    df = pd.DataFrame(rows, columns=["user", "item", "timestamp", "rating"])
    return preprocess(RawDataset(df), prep or Preprocessing(), name, max_len=3)


def _by_pair(data):
    """{(raw user, raw item): rating} of the processed rows."""
    return {(data.user_ids[u], data.item_ids[i]): float(r) for u, i, r in zip(data.users, data.items, data.ratings)}


def test_ratings_follow_their_rows_through_dedup_reindex_and_sort():
    # out of time order, a repeated pair (the first occurrence wins), two users interleaved
    rows = [("b", "x", 30, 1.0), ("a", "y", 20, 2.0), ("a", "x", 10, 5.0), ("b", "z", 5, 4.0),
            ("a", "y", 25, 3.0), ("a", "z", 15, 4.5), ("b", "x", 1, 2.5)]
    data = _data(rows)
    assert data.ratings.dtype == np.float32 and data.ratings.shape == (data.n_interactions,)
    # "a": x@10 (5), z@15 (4.5), y@20 (2; y@25 is a repeat); "b": x@1 (2.5; the earliest of the pair), z@5 (4)
    assert _by_pair(data) == {("a", "x"): 5.0, ("a", "z"): 4.5, ("a", "y"): 2.0, ("b", "x"): 2.5, ("b", "z"): 4.0}
    a = data.user_ids.tolist().index("a")
    assert data.ratings[data.user_indptr[a]:data.user_indptr[a + 1]].tolist() == [5.0, 4.5, 2.0]  # time order


def test_ratings_follow_their_rows_through_k_core_and_min_rating():
    rng = np.random.default_rng(0)
    n = 4000
    users, items = rng.zipf(1.5, n) % 150, rng.zipf(1.3, n) % 250
    ratings = rng.integers(1, 6, n).astype(float)
    rows = list(zip((f"u{u}" for u in users), (f"i{i}" for i in items), range(n), ratings))
    first = {}
    for u, i, _, r in rows:
        first.setdefault((u, i), r)
    data = _data(rows, Preprocessing(k_core_user=5, k_core_item=5))
    assert np.bincount(data.users).min() >= 5 and data.n_interactions < len(first)  # k-core did drop rows
    assert all(first[pair] == r for pair, r in _by_pair(data).items())
    high = _data(rows, Preprocessing(min_rating=4.0))
    firsts_high = {}
    for u, i, _, r in rows:  # min_rating filters before de-duplication: first occurrence among ratings >= 4
        if r >= 4.0:
            firsts_high.setdefault((u, i), r)
    assert _by_pair(high) == firsts_high and high.ratings.min() >= 4.0


def test_no_rating_column_gives_no_ratings():
    df = pd.DataFrame({"user": [1, 1], "item": [1, 2], "timestamp": [1, 2]})
    assert preprocess(RawDataset(df), Preprocessing(), "implicit-only", max_len=2).ratings is None


def test_labels_per_threshold_and_implicit():
    data = _data([("u", f"i{t}", t, r) for t, r in enumerate([5.0, 2.0, 4.0, 3.5, 1.0, float("nan")])])
    assert ctr_labels(data, "rating", 4.0).tolist() == [1, 0, 1, 0, 0, 0]  # NaN: negative
    assert ctr_labels(data, "rating", 3.5).tolist() == [1, 0, 1, 1, 0, 0]
    assert ctr_labels(data, "rating", 1).tolist() == [1, 1, 1, 1, 1, 0]
    implicit = ctr_labels(data, "implicit", 4.0)
    assert implicit.tolist() == [1.0] * 6 and implicit.dtype == np.float32
    assert ctr_labels(data, "rating", 4.0).dtype == np.float32


def test_missing_ratings_is_one_line_saying_what_to_set():
    df = pd.DataFrame({"user": [1, 1, 1], "item": [1, 2, 3], "timestamp": [1, 2, 3]})
    data = preprocess(RawDataset(df), Preprocessing(), "plain", max_len=2)
    with pytest.raises(DataError) as err:
        ctr_labels(data, "rating", 4.0)
    assert str(err.value) == ("dataset plain has no ratings; set dataset.ctr.label=implicit "
                              "or use a reader that gives ratings")
    with pytest.raises(DataError):
        ctr_pairs(data, "rating", 4.0)
    assert ctr_pairs(data, "implicit", 4.0)["train"].labels.tolist() == [1.0]


@pytest.mark.parametrize("label, threshold, message", [
    ("clicks", 4.0, "dataset.ctr.label='clicks': expected one of ['rating', 'implicit']"),
    ("rating", float("nan"), "dataset.ctr.threshold=nan: expected a finite number"),
    ("rating", "high", "dataset.ctr.threshold='high': expected a finite number"),
])
def test_bad_ctr_values_fail_as_one_line_at_load_and_at_labelling(tmp_path, label, threshold, message):
    data = _data([("u", "x", 1, 4.0)])
    with pytest.raises(DataError) as err:
        ctr_labels(data, label, threshold)
    assert str(err.value) == message
    cfg = DatasetConfig(name="s", reader="synthetic", root=str(tmp_path), cache=False, options={"n_users": 20})
    cfg.ctr.label, cfg.ctr.threshold = label, threshold
    with pytest.raises(DataError) as err:
        load_dataset(cfg)
    assert str(err.value) == message


def test_pairs_are_the_rows_of_each_split_with_their_labels(tmp_path):
    cfg = DatasetConfig(name="syn", reader="synthetic", root=str(tmp_path), cache=False,
                        options={"n_users": 60, "n_items": 150, "mean_length": 30})
    data = load_dataset(cfg)
    labels = ctr_labels(data, "rating", 4.0)
    pairs = ctr_pairs(data, "rating", 4.0)
    assert set(pairs) == set(SPLIT_NAMES)
    assert np.array_equal(np.sort(np.concatenate([p.rows for p in pairs.values()])), np.arange(data.n_interactions))
    for split, p in pairs.items():
        assert isinstance(p, CtrPairs) and np.array_equal(p.rows, data.rows(split))
        assert np.array_equal(p.users, data.users[p.rows]) and np.array_equal(p.items, data.items[p.rows])
        assert np.array_equal(p.labels, labels[p.rows]) and np.array_equal(p.labels, data.ratings[p.rows] >= 4)
        assert len(p) == len(p.rows) and 0 < p.positive_rate < 1
    # chronological per user: every valid/test pair of a user comes after all of its train pairs
    for u in range(data.n_users):
        tr, te = pairs["train"].rows[pairs["train"].users == u], pairs["test"].rows[pairs["test"].users == u]
        if len(te):
            assert data.timestamps[tr].max() < data.timestamps[te].min()
    # the queries of retrieval and the first CTR pair of each user's test split are the same rows
    q = data.queries("test")
    first_test = {u: r for u, r in zip(pairs["test"].users[::-1], pairs["test"].rows[::-1])}
    assert [first_test[u] for u in q.users] == q.positions.tolist()


def test_cache_round_trip_keeps_ratings(tmp_path):
    cfg = DatasetConfig(name="syn", reader="synthetic", root=str(tmp_path), options={"n_users": 60, "n_items": 150})
    built, cached = load_dataset(cfg), load_dataset(cfg)  # the second one comes from the cache
    (entry,) = (tmp_path / "processed").iterdir()
    assert "ratings" in np.load(entry / "arrays.npz").files
    assert cached.ratings.dtype == np.float32 and np.array_equal(built.ratings, cached.ratings)
    assert np.array_equal(ctr_labels(built, "rating", 4.0), ctr_labels(cached, "rating", 4.0))
    # a dataset without ratings comes back without them
    df = pd.DataFrame({"user": [1, 1, 2], "item": [1, 2, 1], "timestamp": [1, 2, 3]})
    plain = preprocess(RawDataset(df), Preprocessing(), "plain", max_len=2)
    cache.save(plain, tmp_path / "plain")
    assert cache.load(tmp_path / "plain", max_len=2).ratings is None


IMPLICIT = {"lightgcn"}  # formats without ratings: every interaction is a positive


def test_readers_of_formats_without_ratings_give_none(tmp_path):
    for name in IMPLICIT:
        FAKES[name](tmp_path / name)
        reader = READERS.get(name)
        assert "rating" not in reader.read(tmp_path / name, reader.options(**SMALL.get(name, {}))).interactions


@pytest.mark.parametrize("name", sorted(set(READERS.names()) - IMPLICIT))
def test_every_reader_gives_ratings_that_reach_the_data(tmp_path, name):
    reader = READERS.get(name)
    FAKES[name](tmp_path / name)
    raw = reader.read(tmp_path / name, reader.options(**SMALL.get(name, {})))
    assert "rating" in raw.interactions.columns
    data = preprocess(raw, Preprocessing(), name, max_len=3)
    assert data.ratings is not None and np.isfinite(data.ratings).all()
    assert set(np.unique(data.ratings)) <= {1.0, 2.0, 3.0, 4.0, 5.0}
    df = raw.interactions.sort_values("timestamp", kind="stable").drop_duplicates(["user", "item"])
    expected = {(str(u), str(i)): float(r) for u, i, r in zip(df["user"], df["item"], df["rating"])}
    got = _by_pair(data)
    assert all(expected[pair] == r for pair, r in got.items())


DATASETS = sorted(p.stem for p in (CONF_DIR / "dataset").glob("*.yaml"))


@pytest.mark.parametrize("dataset", DATASETS)
def test_every_shipped_dataset_labels_ratings_of_4_and_above_as_positive(dataset):
    ctr = compose_config(f"dataset={dataset}", "dataset.name=x", tiny=False).dataset.ctr
    if dataset in IMPLICIT:
        assert ctr.label == "implicit"
    else:
        assert (ctr.label, ctr.threshold) == ("rating", 4.0)


def test_the_label_is_set_from_the_command_line():
    ctr = compose_config("dataset.ctr.label=implicit", "dataset.ctr.threshold=3.5").dataset.ctr
    assert (ctr.label, ctr.threshold) == ("implicit", 3.5)
