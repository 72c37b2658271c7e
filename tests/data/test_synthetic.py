"""The embedded dataset is deterministic and carries the structure a model and a search can exploit."""

import numpy as np
import pytest

from towernas.config import DatasetConfig
from towernas.data import DataError, load_dataset
from towernas.data.readers.synthetic import SyntheticOptions, generate

SMALL = SyntheticOptions(n_users=300, n_items=600, mean_length=60, seed=3)


def test_same_seed_same_data_other_seed_other_data():
    a, b, c = generate(SMALL), generate(SMALL), generate(SyntheticOptions(**{**SMALL.__dict__, "seed": 4}))
    assert a.interactions.equals(b.interactions)
    assert a.item_features.equals(b.item_features) and a.user_features.equals(b.user_features)
    assert not a.interactions.equals(c.interactions)


def test_popularity_is_long_tailed():
    raw = generate(SMALL)
    counts = np.sort(raw.interactions["item"].value_counts().to_numpy())[::-1]
    top10 = counts[: len(counts) // 10].sum() / counts.sum()
    assert top10 > 0.25  # a uniform catalogue would give 0.10
    assert counts[0] > 5 * np.median(counts)  # blockbusters (ML-100K: 583 vs a median of 27)


def test_no_repeated_pairs_and_time_increases():
    df = generate(SMALL).interactions
    assert not df.duplicated(["user", "item"]).any()
    assert (df.groupby("user")["timestamp"].diff().dropna() > 0).all()


def _next_item_same_category_rate(df, category, shuffle_rng=None):
    hits = total = 0
    for _, items in df.groupby("user")["item"]:
        seq = items.to_numpy()
        if shuffle_rng is not None:
            seq = shuffle_rng.permutation(seq)
        hits += (category[seq[1:]] == category[seq[:-1]]).sum()
        total += len(seq) - 1
    return hits / total


def test_order_matters_consecutive_items_share_topics_more_than_shuffled():
    raw = generate(SMALL)
    category = raw.item_features["category"].to_numpy()
    in_order = _next_item_same_category_rate(raw.interactions, category)
    shuffled = _next_item_same_category_rate(raw.interactions, category, np.random.default_rng(0))
    assert in_order > shuffled + 0.1


def test_item_side_features_are_informative():
    # items of the same category are co-consumed by the same users far more than random item pairs
    raw = generate(SMALL)
    df, cat = raw.interactions, raw.item_features["category"].to_numpy()
    per_user_cat_share = df.assign(c=cat[df["item"]]).groupby("user")["c"].agg(lambda s: s.value_counts().iloc[0] / len(s))
    n_categories = len(set(cat))
    assert per_user_cat_share.mean() > 3.0 / n_categories


def test_user_side_features_are_informative():
    # users sharing an occupation share favourite categories more often than users in general
    raw = generate(SyntheticOptions(n_users=1500, n_items=600, mean_length=40, seed=5))
    df, cat = raw.interactions, raw.item_features["category"].to_numpy()
    favourite = df.assign(c=cat[df["item"]]).groupby("user")["c"].agg(lambda s: s.value_counts().index[0])
    occupation = raw.user_features.loc[favourite.index, "occupation"].to_numpy()
    fav = favourite.to_numpy()
    same_occ = occupation[:, None] == occupation[None, :]
    same_fav = fav[:, None] == fav[None, :]
    off_diag = ~np.eye(len(fav), dtype=bool)
    assert same_fav[same_occ & off_diag].mean() > 1.5 * same_fav[off_diag].mean()


def test_bad_options_give_one_line_errors(tmp_path):
    cfg = DatasetConfig(name="s", reader="synthetic", root=str(tmp_path), cache=False,
                        options={"n_items": 10, "n_topics": 18})
    with pytest.raises(DataError, match=r"n_items=10 must be at least n_topics\*n_subtopics=72"):
        load_dataset(cfg)
    cfg.options = {"stay_prob": 1.5}
    with pytest.raises(DataError, match=r"stay_prob=1.5: expected a probability"):
        load_dataset(cfg)


def test_scales_to_a_million_interactions_quickly():
    import time

    t = time.perf_counter()
    raw = generate(SyntheticOptions(n_users=10_000, n_items=20_000, mean_length=100, seed=0))
    assert len(raw.interactions) > 900_000
    assert time.perf_counter() - t < 60  # generous: guards against an accidental per-row Python loop
