"""Preprocessing, splits, histories, queries and the processed cache, on hand-made and generated data."""

import numpy as np
import pandas as pd
import pytest

from towernas.config import DatasetConfig, SplitConfig
from towernas.data import DataError, RawDataset, load_dataset
from towernas.data.interactions import TEST, TRAIN, VALID
from towernas.data.preprocess import Preprocessing, assign_splits, preprocess


def _raw(rows, **kw):
    return RawDataset(pd.DataFrame(rows, columns=["user", "item", "timestamp"]), **kw)


def test_ratio_split_is_chronological_per_user_2_1_1():
    # user "a": 8 interactions given out of time order; user "b": 4; user "c": 2 (too short to split)
    rows = [("a", f"i{t}", 100 - t) for t in range(8)] + [("b", f"i{t}", t) for t in range(4)]
    rows += [("c", "i0", 5), ("c", "i1", 6)]
    data = preprocess(_raw(rows), Preprocessing(), "hand", max_len=3)
    a = data.user_ids.tolist().index("a")
    rows_a = slice(data.user_indptr[a], data.user_indptr[a + 1])
    assert np.all(np.diff(data.timestamps[rows_a]) > 0)  # sorted by time
    assert data.split[rows_a].tolist() == [TRAIN] * 4 + [VALID] * 2 + [TEST] * 2
    assert [data.item_ids[i] for i in data.items[rows_a]] == [f"i{t}" for t in range(7, -1, -1)]
    b = data.user_ids.tolist().index("b")
    assert data.split[data.user_indptr[b] : data.user_indptr[b + 1]].tolist() == [TRAIN, TRAIN, VALID, TEST]
    c = data.user_ids.tolist().index("c")
    assert data.split[data.user_indptr[c] : data.user_indptr[c + 1]].tolist() == [TRAIN, TRAIN]


def test_split_rounding_gives_train_the_remainder_and_leave_one_out():
    indptr = np.array([0, 3, 10, 20])
    ratio = assign_splits(indptr, Preprocessing())
    # n=3 -> 1/1/1; n=7 -> test floor(1.75)=1, valid 1, train 5; n=10 -> 2/2 and train 6
    assert np.bincount(ratio[0:3], minlength=3).tolist() == [1, 1, 1]
    assert np.bincount(ratio[3:10], minlength=3).tolist() == [5, 1, 1]
    assert np.bincount(ratio[10:20], minlength=3).tolist() == [6, 2, 2]
    loo = assign_splits(indptr, Preprocessing(split="leave_one_out"))
    assert loo[10:20].tolist() == [TRAIN] * 8 + [VALID, TEST]


def test_equal_timestamps_keep_file_order_and_duplicates_keep_first():
    rows = [("u", "x", 1), ("u", "y", 1), ("u", "z", 1), ("u", "x", 2), ("u", "w", 3)]
    data = preprocess(_raw(rows), Preprocessing(), "ties", max_len=2)
    assert [data.item_ids[i] for i in data.items] == ["x", "y", "z", "w"]


def test_histories_are_right_aligned_and_padded():
    rows = [("u", f"i{t}", t) for t in range(6)] + [("v", f"i{t}", t) for t in range(3)]
    data = preprocess(_raw(rows), Preprocessing(), "h", max_len=4)
    pad = data.pad_item
    u_rows = np.arange(data.user_indptr[0], data.user_indptr[1])
    hist = data.histories(u_rows)
    ids = lambda r: [data.item_ids[i] if i != pad else None for i in r]  # noqa: E731
    assert ids(hist[0]) == [None] * 4  # first interaction: empty history
    assert ids(hist[2]) == [None, None, "i0", "i1"]
    assert ids(hist[5]) == ["i1", "i2", "i3", "i4"]
    v_first = data.user_indptr[1]
    assert ids(data.histories(np.array([v_first]))[0]) == [None] * 4  # never leaks across users


def test_queries_targets_and_exclusions():
    rows = [("u", f"i{t}", t) for t in range(8)]
    data = preprocess(_raw(rows), Preprocessing(), "q", max_len=3)
    name = lambda ids: [data.item_ids[i] for i in ids]  # noqa: E731
    valid, test = data.queries("valid"), data.queries("test")
    assert name(valid.targets[0]) == ["i4", "i5"] and name(valid.exclude[0]) == ["i0", "i1", "i2", "i3"]
    assert name(test.targets[0]) == ["i6", "i7"] and name(test.exclude[0]) == [f"i{t}" for t in range(6)]
    assert name(data.histories(valid.positions)[0]) == ["i1", "i2", "i3"]
    assert name(data.histories(test.positions)[0]) == ["i3", "i4", "i5"]


def test_k_core_reaches_a_fixed_point():
    rng = np.random.default_rng(0)
    rows = [(f"u{u}", f"i{i}", t) for t, (u, i) in enumerate(zip(rng.zipf(1.5, 3000) % 200, rng.zipf(1.3, 3000) % 300))]
    data = preprocess(_raw(rows), Preprocessing(k_core_user=5, k_core_item=5), "k", max_len=3)
    assert np.bincount(data.users).min() >= 5 and np.bincount(data.items).min() >= 5
    with pytest.raises(DataError, match="no interactions left after filtering"):
        preprocess(_raw(rows), Preprocessing(k_core_user=10_000), "k", max_len=3)


def test_min_rating_filter_and_missing_rating_column():
    df = pd.DataFrame({"user": [1, 1, 1], "item": [1, 2, 3], "timestamp": [1, 2, 3], "rating": [5.0, 2.0, 4.0]})
    data = preprocess(RawDataset(df), Preprocessing(min_rating=4.0), "r", max_len=2)
    assert data.n_interactions == 2
    with pytest.raises(DataError, match="gives no ratings"):
        preprocess(RawDataset(df.drop(columns="rating")), Preprocessing(min_rating=4.0), "r", max_len=2)


def test_features_encode_single_and_multi_valued_with_missing():
    users = pd.DataFrame({"age": [25, None]}, index=pd.Index(["u", "v"]))
    items = pd.DataFrame({"genres": [["a", "b"], []], "year": ["1995", None]}, index=pd.Index(["x", "y"]))
    rows = [("u", "x", 1), ("v", "y", 2), ("w", "x", 3)]
    data = preprocess(_raw(rows, user_features=users, item_features=items, multi_valued=frozenset({"genres"})),
                      Preprocessing(), "f", max_len=2)
    age = data.user_features.values["age"]
    assert age.tolist() == [1, 0, 0]  # u -> "25" (code 1); v missing; w has no feature row
    genres = data.item_features.values["genres"]
    assert genres.shape == (2, 2) and genres[1].tolist() == [0, 0]
    assert [data.item_features.vocab["genres"][c - 1] for c in genres[0]] == ["a", "b"]
    assert {f.name: f.cardinality for f in data.item_features.fields} == {"genres": 3, "year": 2}


def test_bad_config_values_give_one_line_errors(tmp_path):
    cases = [
        (dict(reader="nope"), "unknown reader"),
        (dict(options={"n_user": 3}), "unknown key(s) ['n_user']"),
        (dict(options={"n_users": "many"}), "expected a number"),
        (dict(split=SplitConfig(method="random")), "expected one of ratio, leave_one_out, given"),
        (dict(split=SplitConfig(valid=0.6, test=0.5)), "summing below 1"),
        (dict(max_len=0), "dataset.max_len=0"),
    ]
    for override, message in cases:
        cfg = DatasetConfig(name="bad", reader="synthetic", root=str(tmp_path), cache=False)
        for k, v in override.items():
            setattr(cfg, k, v)
        with pytest.raises(DataError) as err:
            load_dataset(cfg)
        assert message in str(err.value) and "\n" not in str(err.value)


def test_cache_round_trip_is_identical_and_keyed_by_settings(tmp_path):
    opts = {"n_users": 60, "n_items": 150, "mean_length": 30}
    cfg = DatasetConfig(name="syn", reader="synthetic", root=str(tmp_path), options=opts)
    first, second = load_dataset(cfg), load_dataset(cfg)
    for name in ("users", "items", "timestamps", "split", "user_indptr", "item_ids"):
        assert np.array_equal(getattr(first, name), getattr(second, name))
    for k, v in first.item_features.values.items():
        assert np.array_equal(v, second.item_features.values[k])
    assert first.item_features.fields == second.item_features.fields
    entries = sorted(p.name for p in (tmp_path / "processed").iterdir())
    assert len(entries) == 1 and not any(name.startswith(".") for name in entries)
    cfg.options = {**opts, "seed": 1}
    load_dataset(cfg)
    assert len(list((tmp_path / "processed").iterdir())) == 2


def test_interrupted_cache_write_leaves_nothing(tmp_path, monkeypatch):
    from towernas.data import cache

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(cache.np, "savez", boom)
    cfg = DatasetConfig(name="syn", reader="synthetic", root=str(tmp_path), options={"n_users": 30, "n_items": 80})
    with pytest.raises(KeyboardInterrupt):
        load_dataset(cfg)
    assert list((tmp_path / "processed").iterdir()) == []
