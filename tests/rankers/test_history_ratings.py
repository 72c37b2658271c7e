"""Rating-aware histories: the ratings a batch carries, and every ranker reading them (``Catalog.rating_mean``)."""

import numpy as np
import pandas as pd
import pytest
import torch

from towernas.data import RawDataset
from towernas.data.batches import RATED, RATED_RATINGS, RATINGS, user_inputs
from towernas.data.interactions import TRAIN
from towernas.data.preprocess import Preprocessing, preprocess
from towernas.rankers import Catalog, PairFields, build_ranker
from tests.rankers.test_registry_loop import FIELD_READERS


def _data(with_ratings=True):
    rng = np.random.default_rng(0)
    n = 120
    df = pd.DataFrame({"user": rng.integers(0, 6, n), "item": rng.integers(0, 15, n), "timestamp": np.arange(n)})
    if with_ratings:
        df["rating"] = rng.integers(1, 6, n).astype(float)
        df.loc[5, "rating"] = np.nan
    return preprocess(RawDataset(df), Preprocessing(), "toy",
                      max_len=4)


def test_history_ratings_are_the_train_ratings_of_the_history_items_zero_on_padding_missing_and_held_out():
    data = _data()
    positions = np.arange(data.n_interactions)
    history, ratings = data.histories(positions), data.history_ratings(positions)
    for p in positions:
        start = data.user_indptr[data.users[p]]
        for slot, row in enumerate(range(p - 4, p)):
            if row < start:
                assert history[p, slot] == data.pad_item and ratings[p, slot] == 0.0
            else:
                assert history[p, slot] == data.items[row]
                expected = data.ratings[row] if data.split[row] == TRAIN else np.nan  # a label never an input
                assert ratings[p, slot] == (0.0 if np.isnan(expected) else expected)
    # the mean over all earlier train rows, however long the history
    means, counts = data.mean_rating_before(positions)
    for p in positions:
        rows = np.arange(data.user_indptr[data.users[p]], p)
        known = [data.ratings[r] for r in rows if data.split[r] == TRAIN and not np.isnan(data.ratings[r])]
        assert counts[p] == len(known) and np.isclose(means[p], np.mean(known) if known else 0.0)
    assert (data.split != TRAIN).any() and np.isnan(data.train_ratings()[data.split != TRAIN]).all()
    batch = user_inputs(data, data.users[:3], positions[:3])
    assert batch[RATINGS].dtype == torch.float32 and batch[RATINGS].shape == batch["history"].shape
    assert RATINGS not in user_inputs(_data(False), np.array([0]), np.array([0]))


def test_the_catalogue_centres_on_the_train_mean_and_reads_ratings_only_where_there_are_some():
    data = _data()
    catalog = Catalog.from_data(data, ratings="history")
    train = data.ratings[data.rows("train")]
    assert catalog.rating_mean == pytest.approx(np.nanmean(train)) and catalog.ratings == "history"
    assert Catalog.from_data(data).ratings == "none"
    assert Catalog.from_data(_data(False), ratings="mean").ratings == "none"  # no ratings to read
    with pytest.raises(ValueError, match=r"ratings='all': expected one of \['none', 'mean', 'history', 'rated'\]$"):
        Catalog.from_data(data, ratings="all")
    modes = ("none", "mean", "history", "rated")
    fields = {mode: PairFields(Catalog.from_data(data, ratings=mode), 4).n_fields for mode in modes}
    assert fields["mean"] == fields["history"] == fields["rated"] == fields["none"] + 1  # the mean rating: a field


@pytest.mark.parametrize("name", FIELD_READERS)
def test_every_ranker_reads_the_history_ratings(name):
    data = _data()
    torch.manual_seed(0)
    ranker = build_ranker(name, Catalog.from_data(data, ratings="history"))
    with torch.no_grad():  # away from the initialisation (LR's first-order weights start at 0)
        for p in ranker.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    rows = np.flatnonzero(data.histories(np.arange(data.n_interactions))[:, -1] != data.pad_item)[:4]
    batch = user_inputs(data, data.users[rows], rows)
    items = torch.as_tensor(data.items[rows, None].repeat(3, 1))
    out = ranker(batch, items)
    changed = ranker({**batch, RATINGS: torch.where(batch["history"] != data.pad_item, 5.0, 0.0)}, items)
    assert out.shape == (4, 3) and not torch.allclose(out, changed)
    # served without ratings: every history item at the mean rating, which is what centred zeros give
    at_mean = {**batch, RATINGS: torch.where(batch["history"] != data.pad_item, Catalog.from_data(data).rating_mean,
                                             0.0)}
    no_key = {k: v for k, v in batch.items() if k != RATINGS}
    assert torch.allclose(ranker(no_key, items), ranker(at_mean, items), atol=1e-5)


def test_the_rated_history_is_the_users_latest_train_ratings_before_the_query_however_far_back():
    data = _data()
    positions = np.arange(data.n_interactions)
    items, ratings = data.rated_history(positions, 3)
    for p in positions:
        rows = [r for r in range(data.user_indptr[data.users[p]], p)
                if data.split[r] == TRAIN and not np.isnan(data.ratings[r])][-3:]
        pad = 3 - len(rows)
        assert (items[p, :pad] == data.pad_item).all() and (ratings[p, :pad] == 0).all()
        assert items[p, pad:].tolist() == data.items[rows].tolist()
        assert np.allclose(ratings[p, pad:], data.ratings[rows])
    held_out = np.flatnonzero(data.split != TRAIN)
    assert (items[held_out] != data.pad_item).any()  # a validation or test query still reads earlier ratings
    batch = user_inputs(data, data.users[:3], positions[:3])
    assert batch[RATED].shape == batch[RATED_RATINGS].shape == batch["history"].shape


def test_din_attends_over_the_rated_history_with_ratings_rated():
    data = _data()
    torch.manual_seed(0)
    din = build_ranker("din", Catalog.from_data(data, ratings="rated"))
    assert din.rated_attention is not None and build_ranker("din", Catalog.from_data(data)).rated_attention is None
    with torch.no_grad():
        for p in din.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    rows = np.flatnonzero(data.split != TRAIN)[-4:]
    batch = user_inputs(data, data.users[rows], rows)
    items = torch.as_tensor(data.items[rows, None].repeat(3, 1))
    out = din(batch, items)
    real = batch[RATED] != data.pad_item
    assert real.any()
    assert not torch.allclose(out, din({**batch, RATED_RATINGS: torch.where(real, 5.0, 0.0)}, items))
    assert torch.allclose(out, din({**batch, RATINGS: torch.zeros_like(batch[RATINGS])}, items))  # history's unread
    # served without the rated history: the history's own rated items stand in
    served = {k: v for k, v in batch.items() if k not in (RATED, RATED_RATINGS)}
    rated = batch[RATINGS] != 0
    stand_in = {**batch, RATED: torch.where(rated, batch["history"], data.pad_item), RATED_RATINGS: batch[RATINGS]}
    assert torch.allclose(din(served, items), din(stand_in, items))
