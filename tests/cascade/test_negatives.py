"""Negative modes against their stated distributions."""

import numpy as np
import pytest

from towernas.cascade.negatives import MODES, sample_negatives
from towernas.runs.registry import UnknownNameError

N_ITEMS = 50


def _setup(q=400, k0=10, seed=0):
    rng = np.random.default_rng(seed)
    candidates = np.stack([rng.permutation(N_ITEMS)[:k0] for _ in range(q)])
    positives = candidates[:, 2].copy()  # the positive sits inside the list (it must never be a negative)
    positives[::2] = rng.integers(0, N_ITEMS, q // 2)
    return rng, positives, candidates


@pytest.mark.parametrize("mode", MODES.names())
def test_no_mode_returns_the_positive_and_every_id_is_an_item(mode):
    rng, positives, candidates = _setup()
    scorer = lambda items: items.astype(float)  # noqa: E731
    out = sample_negatives(mode, rng, positives, candidates, 6, N_ITEMS, scorer=scorer, pool=8)
    assert out.shape == (len(positives), 6)
    assert (out != positives[:, None]).all() and out.min() >= 0 and out.max() < N_ITEMS


def test_uniform_is_uniform_over_the_catalogue():
    rng = np.random.default_rng(1)
    positives = np.zeros(20000, dtype=np.int64)  # item 0 is always the positive: never drawn
    out = sample_negatives("uniform", rng, positives, np.zeros((20000, 1), np.int64), 5, N_ITEMS)
    counts = np.bincount(out.ravel(), minlength=N_ITEMS)
    assert counts[0] == 0
    expected = out.size / (N_ITEMS - 1)
    chi2 = ((counts[1:] - expected) ** 2 / expected).sum()
    assert chi2 < 100  # 48 degrees of freedom: p(chi2 > 100) < 1e-5


def test_top_takes_the_best_candidates_in_order_skipping_the_positive():
    rng, positives, candidates = _setup()
    out = sample_negatives("top", rng, positives, candidates, 4, N_ITEMS)
    for row, pos, cand in zip(out, positives, candidates):
        assert row.tolist() == [c for c in cand if c != pos][:4]


def test_top_random_is_half_from_the_list_half_from_the_catalogue():
    rng, positives, candidates = _setup(q=3000)
    out = sample_negatives("top_random", rng, positives, candidates, 8, N_ITEMS)
    in_list = np.array([[x in set(c) for x in row] for row, c in zip(out, candidates)])
    assert in_list[:, :4].all()  # the first half comes from the retriever's list
    # the second half is uniform over the catalogue: a share k0 / n_items of it lands in the list by chance
    assert in_list[:, 4:].mean() == pytest.approx(10 / N_ITEMS, abs=0.02)
    clean = [i for i in range(len(out)) if positives[i] not in set(candidates[i])]  # all 10 ranks allowed
    draws = np.bincount([list(candidates[i]).index(v) for i in clean for v in out[i, :4]], minlength=10)
    expected = draws.sum() / 10
    assert ((draws - expected) ** 2 / expected).sum() < 40  # uniform over the list's ranks (9 d.o.f.)


def test_dns_keeps_the_highest_scored_of_a_pool_drawn_from_the_list():
    rng, positives, candidates = _setup()
    scores = np.random.default_rng(5).random(N_ITEMS)
    pools = []

    def scorer(items):
        pools.append(items.copy())
        return scores[items]

    out = sample_negatives("dns", rng, positives, candidates, 3, N_ITEMS, scorer=scorer, pool=12)
    [pool] = pools
    assert pool.shape == (len(positives), 12)
    assert all(set(p) <= set(c) - {q} for p, c, q in zip(pool, candidates, positives))  # drawn from the list
    best = np.take_along_axis(pool, np.argsort(-scores[pool], axis=1, kind="stable")[:, :3], 1)
    assert (out == best).all()


def test_dns_needs_a_scorer_and_unknown_modes_list_the_known_ones():
    rng, positives, candidates = _setup()
    with pytest.raises(ValueError, match="needs the ranker's scores"):
        sample_negatives("dns", rng, positives, candidates, 3, N_ITEMS)
    with pytest.raises(UnknownNameError, match=r"cascade.negatives='hard': unknown negative mode; expected one of"):
        sample_negatives("hard", rng, positives, candidates, 3, N_ITEMS)


def test_known_positives_leave_the_lists_but_validation_and_test_items_stay(data):
    """A training query's list loses the items its user consumes later in the train split, nothing else."""
    from towernas.data.interactions import TRAIN
    from towernas.cascade.negatives import without_later_train_items
    from towernas.cascade.queries import train_queries

    queries = train_queries(data, 200, seed=0)
    rows = queries.positions
    rng = np.random.default_rng(0)
    lists = np.stack([rng.permutation(data.n_items)[:30] for _ in rows])
    for i, row in enumerate(rows):  # plant a later train item and a later non-train item in each list
        user_rows = np.arange(row + 1, data.user_indptr[data.users[row] + 1])
        later_train = user_rows[data.split[user_rows] == TRAIN]
        later_other = user_rows[data.split[user_rows] != TRAIN]
        if len(later_train):
            lists[i, 3] = data.items[later_train[0]]
        if len(later_other):
            lists[i, 5] = data.items[later_other[0]]
    out = without_later_train_items(data, rows, lists)
    for i, row in enumerate(rows):
        user_rows = np.arange(row + 1, data.user_indptr[data.users[row] + 1])
        banned = set(data.items[user_rows[data.split[user_rows] == TRAIN]].tolist())
        kept = [x for x in lists[i].tolist() if x not in banned]
        assert out[i][out[i] >= 0].tolist() == kept  # the rest, in rank order, left-packed
        assert (out[i][len(kept):] == -1).all()
