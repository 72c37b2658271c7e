"""``towernas.rankers.pair_features``: statistics against brute force, every ranker reads the features, the
retriever's rank against a count, and a served cascade keeps the statistics it was exported with."""

import numpy as np
import pytest
import torch

from towernas.cascade.fusion import QUERY, RetrieverScoreFusion
from towernas.data.features import Field
from towernas.rankers import Catalog, build_ranker
from towernas.rankers.pair_features import PAIR_FEATURES, PairFeatures, PairStatistics, use_statistics
from tests.rankers.test_registry_loop import FIELD_READERS


def test_statistics_are_the_cosine_of_the_items_user_sets_keeping_the_top_m():
    rng = np.random.default_rng(1)
    users, items = rng.integers(0, 30, 400), rng.integers(0, 15, 400)
    stats = PairStatistics.from_interactions(users, items, 30, 15, m=4)
    x = np.zeros((30, 15))
    x[users, items] = 1
    gram = x.T @ x
    cosine = gram / np.sqrt(np.outer(np.diag(gram), np.diag(gram)))
    np.fill_diagonal(cosine, 0)
    assert np.array_equal(stats.counts, x.sum(0))
    for i in range(15):
        kept = stats.neighbours[i][stats.neighbours[i] >= 0]
        assert np.allclose(stats.weights[i][: len(kept)], cosine[i, kept])
        assert np.isclose(stats.weights[i][0], np.sort(cosine[i])[-1])  # the most similar first
        assert len(kept) == min(4, int((cosine[i] > 0).sum()))


def _catalog(features, stats=None):
    codes = np.array([[1, 2], [2, 0], [3, 0], [1, 3], [0, 0], [2, 3], [1, 0], [3, 2]])
    return Catalog(n_users=6, n_items=8, max_len=4, user_fields=(Field("age", 3),),
                   item_fields=(Field("genre", 4, width=2, multi=True),), item_values={"genre": codes},
                   pair_features=tuple(features), pair_statistics=stats)


def _batch():
    return {"user": torch.tensor([0, 5]), "history": torch.tensor([[8, 1, 2, 3], [4, 5, 6, 7]]),
            "user:age": torch.tensor([1, 2])}


@pytest.mark.parametrize("name", FIELD_READERS)
def test_every_ranker_reads_the_pair_features(name):
    rng = np.random.default_rng(0)
    stats = PairStatistics.from_interactions(rng.integers(0, 6, 60), rng.integers(0, 8, 60), 6, 8)
    catalog = _catalog(["popularity", "cooccurrence", "category"], stats)
    torch.manual_seed(0)
    ranker = build_ranker(name, catalog)
    with torch.no_grad():  # away from the initialisation (LR's first-order weights start at 0)
        for p in ranker.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    items = torch.tensor([[0, 1, 2], [3, 4, 5]])
    out = ranker(_batch(), items)
    assert out.shape == (2, 3) and torch.isfinite(out).all()
    # the features are an input: other statistics change the scores
    use_statistics(ranker, PairStatistics.from_interactions(rng.integers(0, 6, 60), rng.integers(0, 8, 60), 6, 8))
    assert not torch.allclose(ranker(_batch(), items), out)


def test_the_retriever_feature_is_the_fused_score_and_its_rank_over_the_catalogue():
    torch.manual_seed(0)
    items = np.random.default_rng(0).normal(size=(8, 3)).astype(np.float32)
    inner = build_ranker("lr", _catalog(["retriever"]))
    seen = {}
    original = inner.forward
    inner.forward = lambda batch, cand: seen.update(batch) or original(batch, cand)
    fused = RetrieverScoreFusion(inner, items, temperature=0.2)
    query = torch.randn(2, 3)
    candidates = torch.tensor([[0, 1, 2], [3, 4, 5]])
    fused({**_batch(), QUERY: query}, candidates)
    scores = (query @ torch.as_tensor(items).T)
    for b in range(2):
        for j, c in enumerate(candidates[b]):
            above = int((scores[b] > scores[b, c] + 1e-5).sum())
            assert np.isclose(seen["retriever_score"][b, j].item(), scores[b, c].item(), atol=1e-6)
            assert np.isclose(seen["retriever_rank"][b, j].item(), np.log1p(above) / np.log1p(8), atol=1e-6)
    with pytest.raises(KeyError, match="must be fused with the retriever"):
        build_ranker("lr", _catalog(["retriever"]))(_batch(), candidates)


def test_the_statistics_are_buffers_a_saved_ranker_carries():
    rng = np.random.default_rng(0)
    stats = PairStatistics.from_interactions(rng.integers(0, 6, 60), rng.integers(0, 8, 60), 6, 8)
    trained = build_ranker("deepfm", _catalog(["popularity", "cooccurrence"], stats))
    rebuilt = build_ranker("deepfm", _catalog(["popularity", "cooccurrence"]))  # as served: no statistics given
    rebuilt.load_state_dict(trained.state_dict())
    items = torch.tensor([[0, 1, 2], [3, 4, 5]])
    assert torch.allclose(rebuilt(_batch(), items), trained(_batch(), items))
    assert sorted(PAIR_FEATURES.names()) == ["category", "cooccurrence", "item_rating", "neighbour_rating",
                                             "popularity", "retriever", "trend"]
    assert PairFeatures(_catalog(["category"]), ["category"]).width == 1


def _timed_data():
    import pandas as pd

    from towernas.data import RawDataset
    from towernas.data.preprocess import Preprocessing, preprocess

    rng = np.random.default_rng(2)
    n = 300
    df = pd.DataFrame({"user": rng.integers(0, 8, n), "item": rng.integers(0, 10, n),
                       "timestamp": rng.integers(0, 1000, n), "rating": rng.integers(1, 6, n).astype(float)})
    return preprocess(RawDataset(df), Preprocessing(), "toy", max_len=4)


def test_time_aware_features_count_only_train_rows_before_the_query_time():
    from towernas.data.batches import user_inputs

    data = _timed_data()
    catalog = Catalog.from_data(data, ["item_rating", "trend"])
    features = PairFeatures(catalog, ["item_rating", "trend"])
    train = data.rows("train")
    queries = np.arange(0, data.n_interactions, 7)
    batch = user_inputs(data, data.users[queries], queries)
    items = torch.as_tensor(np.tile(np.arange(data.n_items), (len(queries), 1)))
    out = features(batch, items).numpy()
    t_all = data.timestamps[train]
    window = max(1, (int(t_all.max()) - int(t_all.min())) // 20)
    norm = np.log1p(np.bincount(data.items[train], minlength=data.n_items).max())
    for q, row in enumerate(queries):
        t = data.timestamps[row]
        for i in range(data.n_items):
            mine = train[(data.items[train] == i) & (t_all < t)]
            mean = data.ratings[mine].mean() - catalog.rating_mean if len(mine) else 0.0
            recent = ((data.items[train] == i) & (t_all < t) & (t_all >= t - window)).sum()
            assert np.allclose(out[q, i], [mean, np.log1p(len(mine)) / norm, np.log1p(recent) / norm,
                                           recent / max(len(mine), 1)], atol=1e-5), (row, i)
    # served without a time: every train row counts
    served = features({k: v for k, v in batch.items() if k != "time"}, items[:1]).numpy()
    for i in range(data.n_items):
        mine = train[data.items[train] == i]
        assert np.isclose(served[0, i, 0], data.ratings[mine].mean() - catalog.rating_mean if len(mine) else 0.0,
                          atol=1e-5)
    # saved and rebuilt without statistics (as served): the same buffers, sized as saved
    rebuilt = PairFeatures(Catalog(data.n_users, data.n_items, data.max_len, pair_features=("item_rating", "trend"),
                                   ratings="mean", rating_mean=catalog.rating_mean), ["item_rating", "trend"])
    rebuilt.load_state_dict(features.state_dict())
    assert np.allclose(rebuilt(batch, items).numpy(), out)


def test_neighbour_rating_is_the_users_centred_ratings_of_the_candidates_neighbours_before_the_query():
    from towernas.data.batches import user_inputs

    data = _timed_data()
    catalog = Catalog.from_data(data, ["neighbour_rating"])
    stats = catalog.pair_statistics
    features = PairFeatures(catalog, ["neighbour_rating"])
    train = data.rows("train")
    queries = np.arange(0, data.n_interactions, 5)
    batch = user_inputs(data, data.users[queries], queries)
    items = torch.as_tensor(np.tile(np.arange(data.n_items), (len(queries), 1)))
    out = features(batch, items).numpy()
    m = stats.neighbours.shape[1]
    checked = 0
    for q, row in enumerate(queries):
        u, t = data.users[row], data.timestamps[row]
        mine = train[(data.users[train] == u) & (data.timestamps[train] < t)]
        centre = data.ratings[mine].mean() if len(mine) else catalog.rating_mean
        for i in range(data.n_items):
            num = den = 0.0
            for j, w in zip(stats.neighbours[i], stats.weights[i]):
                rows = mine[data.items[mine] == j] if j >= 0 else mine[:0]
                if len(rows) and w > 0:  # the user's latest train rating of j before the query
                    latest = rows[np.argmax(data.timestamps[rows])]
                    num, den = num + w * (data.ratings[latest] - centre), den + w
            expected = [num / den if den else 0.0, np.log1p(den) / np.log1p(m)]
            assert np.allclose(out[q, i], expected, atol=1e-5), (row, i)
            checked += den > 0
    assert checked > 50  # the brute force saw rated neighbours, not only empty cases
    # served without a time: every train rating counts (centred on the train mean without rating_before)
    served = features({"user": batch["user"][:1]}, items[:1]).numpy()
    u = data.users[queries[0]]
    mine = train[data.users[train] == u]
    i = int(np.argmax(out[0, :, 1]))  # the candidate with the most rated similarity
    num = den = 0.0
    for j, w in zip(stats.neighbours[i], stats.weights[i]):
        rows = mine[data.items[mine] == j] if j >= 0 else mine[:0]
        if len(rows) and w > 0:
            num, den = num + w * (data.ratings[rows[np.argmax(data.timestamps[rows])]] - catalog.rating_mean), den + w
    assert np.allclose(served[0, i], [num / den if den else 0.0, np.log1p(den) / np.log1p(m)], atol=1e-5)
    # saved and rebuilt without statistics (as served): the same buffers, sized as saved
    rebuilt = PairFeatures(Catalog(data.n_users, data.n_items, data.max_len, pair_features=("neighbour_rating",),
                                   ratings="mean", rating_mean=catalog.rating_mean), ["neighbour_rating"])
    rebuilt.load_state_dict(features.state_dict())
    assert np.allclose(rebuilt(batch, items).numpy(), out)


def test_neighbour_rating_is_zero_without_ratings():
    rng = np.random.default_rng(0)
    stats = PairStatistics.from_interactions(rng.integers(0, 6, 60), rng.integers(0, 8, 60), 6, 8)
    features = PairFeatures(_catalog(["neighbour_rating"], stats), ["neighbour_rating"])
    out = features(_batch(), torch.tensor([[0, 1]] * 2))
    assert out.shape == (2, 2, 2) and not out.any()
