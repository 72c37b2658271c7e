"""Popularity-bias metrics and the intervened test split against hand-computed values and stated rates.

The keep-rate check compares, per popularity level, the share of (user, item) pairs kept over S seeded draws
with pi = min(1, c / (phi + 1)). With n Bernoulli(pi) trials the share has standard deviation
sqrt(pi (1 - pi) / n); the bound is 5 of them (two-sided failure probability < 1e-6 per level under the
normal approximation, n >= 4000 here), and pi = 1 must be kept every time.
"""

import math

import numpy as np
import pytest
import torch

from towernas.data.interactions import EvalQueries
from towernas.data.ragged import Ragged
from towernas.eval.bias import intervened_queries, intervened_rows, popularity_bias, tail_items, unbiased_metrics
from towernas.eval.encode import encode_all_items, encode_queries, evaluate_model, evaluate_test
from towernas.eval.metrics import mean_metrics
from towernas.retrievers.mean_pool import MeanPoolTwoTower

D2 = 1 / math.log2(3)  # the discount of rank 2


def _queries(targets: list[list[int]]) -> EvalQueries:
    n = len(targets)
    return EvalQueries(users=np.arange(n) + 100, positions=np.arange(n) * 7,
                       targets=Ragged.from_lists(targets),
                       exclude=Ragged.from_lists([[u % 3, 50 + u] for u in range(n)]))


# ------------------------------------------------------------------------------------------- tail items

def test_tail_items_by_count_then_id():
    # sorted by (count, id): 1, 6, 9 (0); 5 (1); 2, 3 (2); 7 (3); 0, 8 (4); 4 (7). The first floor(0.8*10) = 8
    # are the tail; items 0 and 8 tie at count 4 and the smaller id (0) is the one inside the tail.
    counts = np.array([4, 0, 2, 2, 7, 1, 0, 3, 4, 0])
    expected = np.ones(10, dtype=bool)
    expected[[4, 8]] = False
    np.testing.assert_array_equal(tail_items(counts), expected)
    # share 0.5 -> floor(5) = 5 least popular: 1, 6, 9, 5 and 2 (2 before 3 on the tie at count 2)
    np.testing.assert_array_equal(np.flatnonzero(tail_items(counts, share=0.5)), [1, 2, 5, 6, 9])


def test_tail_holds_floor_of_80_percent_of_the_catalogue():
    rng = np.random.default_rng(0)
    for n in range(1, 120):
        counts = rng.integers(0, 5, n)  # many ties
        tail = tail_items(counts)
        assert tail.dtype == bool and tail.shape == (n,)
        assert int(tail.sum()) == (4 * n) // 5, n  # floor(0.8 n) in integers
        # every tail item is at most as popular as every head item
        if tail.any() and (~tail).any():
            assert counts[tail].max() <= counts[~tail].min(), n


# ------------------------------------------------------------------------------------------ popularity_bias

def test_popularity_bias_hand_computed_with_empty_slots_and_k_below_width():
    counts = np.array([4, 0, 2, 2, 7, 1, 0, 3, 4, 0])  # tail = all but items 4 and 8 (see above)
    topk = np.array([
        [4, 1, 8, 2],    # k=3: 4, 1, 8 -> phi 7, 0, 4 (mean 11/3); tail slots: 1                 -> 1 of 3
        [0, -1, -1, 5],  # k=3: 0 only  -> phi 4 (mean 4);            tail slots: 0                 -> 1 of 1
        [9, 6, -1, 4],   # k=3: 9, 6    -> phi 0, 0 (mean 0);         tail slots: 9, 6              -> 2 of 2
        [8, 4, 7, 0],    # k=3: 8, 4, 7 -> phi 4, 7, 3 (mean 14/3);   tail slots: 7 (8 is the head) -> 1 of 3
    ])
    out = popularity_bias(topk, counts, k=3)
    assert set(out) == {"arp@3", "coverage@3", "tail_share@3"}
    assert out["arp@3"] == pytest.approx((11 / 3 + 4 + 0 + 14 / 3) / 4)  # 37/12; empty slots do not count as 0
    # recommended within the top 3: {4, 1, 8, 0, 9, 6, 7}; items 2 and 5 only appear beyond k
    assert out["coverage@3"] == pytest.approx(7 / 10)
    # 9 real slots, 5 of them tail (with the tie broken the other way, 8 in the tail and 0 not: 6 of 9)
    assert out["tail_share@3"] == pytest.approx(5 / 9)


def test_popularity_bias_full_width_and_docstring_case():
    out = popularity_bias(np.array([[0, 1], [0, 2]]), np.array([10, 1, 0, 0, 5]), k=2)
    # user 0: (10 + 1) / 2, user 1: (10 + 0) / 2 -> 5.25; {0, 1, 2} of 5 items; tail = {2, 3, 1, 4}: slots 1, 2
    assert out == pytest.approx({"arp@2": 5.25, "coverage@2": 0.6, "tail_share@2": 0.5})
    # only head items recommended: tail share 0, one item covered
    out = popularity_bias(np.array([[0], [0], [0]]), np.array([10, 1, 0, 0, 5]), k=1)
    assert out == pytest.approx({"arp@1": 10.0, "coverage@1": 0.2, "tail_share@1": 0.0})


# ----------------------------------------------------------------------------------------- intervened split

# phi + 1 of items 0..7: 1, 2, 3, 4, 6, 12, 24, 100
COUNTS = np.array([0, 1, 2, 3, 5, 11, 23, 99, 40])
BLOCK = [[0, 1], [2], [3, 4], [5], [6, 7], [7], [2, 3]]
# phi + 1 over the 11 pairs of a block, sorted: 1 2 3 3 4 4 6 12 24 100 100 -> median c = 4
C = 4.0
PI = {0: 1.0, 1: 1.0, 2: 1.0, 3: 1.0, 4: 4 / 6, 5: 4 / 12, 6: 4 / 24, 7: 4 / 100}


def test_intervened_rows_are_seeded_subsets_of_each_row():
    targets = BLOCK * 10 + [[7, 7, 6]]  # a repeated pair in the last row
    queries = _queries(targets)
    rows0, kept0 = intervened_rows(queries, COUNTS, seed=0)
    rows0b, kept0b = intervened_rows(queries, COUNTS, seed=0)
    np.testing.assert_array_equal(rows0, rows0b)
    np.testing.assert_array_equal(kept0.indptr, kept0b.indptr)
    np.testing.assert_array_equal(kept0.values, kept0b.values)
    rows1, kept1 = intervened_rows(queries, COUNTS, seed=1)
    assert not (np.array_equal(rows0, rows1) and np.array_equal(kept0.values, kept1.values))
    for seed in range(30):
        rows, kept = intervened_rows(queries, COUNTS, seed=seed)
        assert len(rows) == len(kept)
        assert np.all(np.diff(rows) > 0)  # sorted, no row twice
        for r, row_kept in zip(rows, (kept[i] for i in range(len(kept)))):
            assert len(row_kept) >= 1  # rows without a kept target are dropped
            remaining = list(targets[r])
            for item in row_kept.tolist():  # a sub-multiset of the row's targets, in the row's order
                assert item in remaining, (seed, r, item)
                remaining = remaining[remaining.index(item) + 1:]
        # rows made only of items at or below the median popularity (pi = 1) are always kept, whole
        for r, t in enumerate(targets):
            if all(PI[i] == 1.0 for i in t):
                assert r in rows and kept[int(np.searchsorted(rows, r))].tolist() == t


def test_intervened_queries_carry_the_kept_rows():
    targets = BLOCK * 3
    queries = _queries(targets)
    rows, kept = intervened_rows(queries, COUNTS, seed=5)
    sub = intervened_queries(queries, COUNTS, seed=5)
    np.testing.assert_array_equal(sub.users, queries.users[rows])
    np.testing.assert_array_equal(sub.positions, queries.positions[rows])
    np.testing.assert_array_equal(sub.targets.values, kept.values)
    for j, r in enumerate(rows):
        assert sub.exclude[j].tolist() == [r % 3, 50 + r]  # exclusions are the test split's


def test_keep_rate_per_popularity_level_is_min_1_c_over_phi_plus_1():
    replicas, seeds = 10, 1000
    targets = BLOCK * replicas
    queries = _queries(targets)
    trials = {i: 0 for i in PI}
    for t in targets:
        for i in t:
            trials[i] += seeds
    kept = {i: 0 for i in PI}
    dropped_single_7 = 0  # row [7] (pi = 0.04) is dropped unless its only pair is kept
    for seed in range(seeds):
        rows, kept_targets = intervened_rows(queries, COUNTS, seed=seed)
        for item in kept_targets.values.tolist():
            kept[item] += 1
        dropped_single_7 += int(5 not in rows)  # row 5 of the first block is [7]
    for i, pi in PI.items():
        rate = kept[i] / trials[i]
        bound = 5 * math.sqrt(pi * (1 - pi) / trials[i])
        assert abs(rate - pi) <= bound, (i, rate, pi, bound)
    assert abs(dropped_single_7 / seeds - 0.96) <= 5 * math.sqrt(0.96 * 0.04 / seeds)
    # the nearest wrong constants are far outside the bound: c = median of phi (3, not 4), or pi = c / phi
    assert abs(kept[7] / trials[7] - 3 / 100) > 5 * math.sqrt(0.04 * 0.96 / trials[7])
    assert abs(kept[4] / trials[4] - 4 / 5) > 5 * math.sqrt(PI[4] * (1 - PI[4]) / trials[4])


def test_unbiased_metrics_hand_computed():
    # item 5 is so popular (phi + 1 = 1e12 + 1, c = 1) that its pairs are never kept in practice
    counts = np.array([0, 0, 0, 0, 0, 10**12])
    topk = np.array([[5, 1, 2], [0, 3, 4], [2, 0, 1]])
    queries = _queries([[1, 5], [5], [0, 4]])
    # phi + 1 over the 5 pairs: 1, 1e12+1, 1e12+1, 1, 1 -> median 1; pi(5) = 1e-12, the others 1
    # kept: row 0 -> [1], row 1 dropped, row 2 -> [0, 4]
    out = unbiased_metrics(topk, queries, counts, ks=[1, 2, 3], seed=0)
    assert set(out) == {"unbiased/n_users", *(f"unbiased/{m}@{k}" for m in ("recall", "ndcg") for k in (1, 2, 3))}
    assert out["unbiased/n_users"] == 2
    # @1: row 0's top item is 5, no longer a target; row 2's is 2 -> no hit
    assert out["unbiased/recall@1"] == 0.0 and out["unbiased/ndcg@1"] == 0.0
    # @2: row 0 hits 1 at rank 2 of 1 target (recall 1, ndcg D2); row 2 hits 0 at rank 2 of 2 (1/2, D2 / (1 + D2))
    assert out["unbiased/recall@2"] == pytest.approx((1 + 0.5) / 2)
    assert out["unbiased/ndcg@2"] == pytest.approx((D2 + D2 / (1 + D2)) / 2)
    # @3: row 0 same; row 2 hits 0 (rank 2) of {0, 4} -> recall 1/2, ndcg D2 / (1 + D2)
    assert out["unbiased/recall@3"] == pytest.approx(0.75)
    assert out["unbiased/ndcg@3"] == pytest.approx((D2 + D2 / (1 + D2)) / 2)


def test_unbiased_metrics_are_mean_metrics_on_the_kept_subset():
    rng = np.random.default_rng(3)
    n_items, n_rows, width = 30, 80, 10
    counts = rng.integers(0, 60, n_items)
    targets = [rng.choice(n_items, size=rng.integers(1, 6), replace=False).tolist() for _ in range(n_rows)]
    topk = np.stack([rng.permutation(n_items)[:width] for _ in range(n_rows)])
    queries = _queries(targets)
    for seed in (0, 7):
        rows, kept = intervened_rows(queries, counts, seed=seed)
        assert 0 < len(rows) and sum(len(t) for t in targets) > len(kept.values)  # some pairs are dropped
        expected = mean_metrics(topk[rows], Ragged.from_lists([kept[i] for i in range(len(kept))]), [5, 10])
        out = unbiased_metrics(topk, queries, counts, ks=[5, 10], seed=seed)
        assert out["unbiased/n_users"] == len(rows)
        for name in ("recall@5", "ndcg@5", "recall@10", "ndcg@10"):
            assert out[f"unbiased/{name}"] == pytest.approx(expected[name]), (seed, name)
        # and by hand, one user at a time: recall = |top10 & kept| / |kept|
        recall = np.mean([len(set(topk[r].tolist()) & set(kept[j].tolist())) / len(set(kept[j].tolist()))
                          for j, r in enumerate(rows)])
        assert out["unbiased/recall@10"] == pytest.approx(recall)


# ------------------------------------------------------------------------------------------- end to end

def test_evaluate_test_matches_evaluate_model_and_adds_bias_keys(data):
    torch.manual_seed(0)
    model = MeanPoolTwoTower([], [], data.n_items, dim=8, hidden=(16,), out_dim=8)
    out = evaluate_test(model, data)
    ref = evaluate_model(model, data, "test")
    for k in (10, 20, 50):
        assert out[f"recall@{k}"] == pytest.approx(ref[f"recall@{k}"], abs=1e-12)
        assert out[f"ndcg@{k}"] == pytest.approx(ref[f"ndcg@{k}"], abs=1e-12)
    assert out["n_users"] == ref["n_users"]
    for key in ("arp@50", "coverage@50", "tail_share@50", "unbiased/recall@50", "unbiased/ndcg@50"):
        assert key in out, key
    counts = np.bincount(data.items[data.split == 0], minlength=data.n_items)
    assert 0.0 <= out["arp@50"] <= counts.max()
    assert 50 / data.n_items <= out["coverage@50"] <= 1.0  # one full list of 50 distinct items at least
    assert 0.0 <= out["tail_share@50"] <= 1.0
    assert 0.0 <= out["unbiased/recall@50"] <= 1.0 and 0.0 <= out["unbiased/ndcg@50"] <= 1.0
    assert 0 < out["unbiased/n_users"] <= out["n_users"]

    # the bias metrics from an independent brute-force ranking (numpy scores, exclusions masked)
    queries = data.queries("test")
    items = encode_all_items(model, data)
    users = encode_queries(model, data, queries.users, queries.positions)
    scores = users.astype(np.float64) @ items.astype(np.float64).T
    for q in range(len(scores)):
        scores[q, queries.exclude[q]] = -np.inf
    top = np.argsort(-scores, axis=1, kind="stable")[:, :50]
    order = sorted(range(data.n_items), key=lambda i: (counts[i], i))
    tail = set(order[: (4 * data.n_items) // 5])
    arp = np.mean([np.mean([counts[i] for i in row]) for row in top])
    coverage = len(set(top.ravel().tolist())) / data.n_items
    tail_share = sum(int(i) in tail for i in top.ravel()) / top.size
    assert out["arp@50"] == pytest.approx(arp, rel=1e-9)
    assert out["coverage@50"] == pytest.approx(coverage)
    assert out["tail_share@50"] == pytest.approx(tail_share)
