"""Ranking metrics against hand-computed values, and evaluate() end to end."""

import math

import numpy as np
import pytest

from towernas.data.ragged import Ragged
from towernas.eval import evaluate, mean_metrics, per_query_metrics

D2, D3, D4, D5 = 1 / math.log2(3), 1 / math.log2(4), 1 / math.log2(5), 1 / math.log2(6)  # 1/log2(rank+1)


def test_hand_computed_per_query_values():
    topk = np.array([
        [5, 7, 9, 1, 2],   # user 0: targets {9, 1, 4}  -> hits at ranks 3, 4
        [3, 8, 6, 0, 4],   # user 1: targets {3}        -> hit at rank 1 (fewer targets than K)
        [1, 2, 3, 4, 5],   # user 2: targets {7, 8}     -> no hit
        [6, 0, -1, -1, -1],  # user 3: targets {0, 6, 6} -> de-duplicated {0, 6}; hits at ranks 1, 2; padded
    ])
    targets = Ragged.from_lists([[9, 1, 4], [3], [7, 8], [0, 6, 6]])
    m = per_query_metrics(topk, targets, ks=[2, 5])
    # K=2: user 0 no hit; user 1 hit@1; user 2 none; user 3 hits@1,2
    np.testing.assert_allclose(m["recall@2"], [0, 1, 0, 1])
    np.testing.assert_allclose(m["precision@2"], [0, 0.5, 0, 1])
    np.testing.assert_allclose(m["hitrate@2"], [0, 1, 0, 1])
    np.testing.assert_allclose(m["mrr@2"], [0, 1, 0, 1])
    # user 3 NDCG@2: DCG = 1 + D2, IDCG over min(2, 2) = 2 ones = 1 + D2 -> 1
    np.testing.assert_allclose(m["ndcg@2"], [0, 1, 0, 1])
    # K=5, user 0: hits 2 of 3 targets -> recall 2/3, precision 2/5, MRR 1/3,
    #   DCG = D3 + D4 = 1/log2(4) + 1/log2(5) = 0.5 + 0.430677; IDCG = 1 + D2 + D3 (3 targets)
    ndcg0 = (D3 + D4) / (1 + D2 + D3)
    np.testing.assert_allclose(m["recall@5"], [2 / 3, 1, 0, 1])
    np.testing.assert_allclose(m["precision@5"], [2 / 5, 1 / 5, 0, 2 / 5])
    np.testing.assert_allclose(m["hitrate@5"], [1, 1, 0, 1])
    np.testing.assert_allclose(m["mrr@5"], [1 / 3, 1, 0, 1])
    # user 1: 1 target hit at rank 1 -> IDCG over min(5, 1) = 1 -> NDCG 1 (not 1 / (1 + D2 + ...))
    np.testing.assert_allclose(m["ndcg@5"], [ndcg0, 1, 0, 1])
    assert ndcg0 == pytest.approx(0.930677 / 2.130930, abs=1e-6)


def test_ideal_dcg_uses_min_of_k_and_targets():
    # 4 targets, K=2, hits at rank 2 only: DCG = D2 = 0.630930; IDCG = 1 + D2 = 1.630930 -> 0.386853
    m = mean_metrics(np.array([[9, 1, 8]]), Ragged.from_lists([[1, 2, 3, 4]]), ks=[2, 3])
    assert m["ndcg@2"] == pytest.approx(0.630930 / 1.630930, abs=1e-6)
    assert m["recall@2"] == pytest.approx(0.25) and m["mrr@2"] == pytest.approx(0.5)
    # K=3: still one hit; IDCG over 3 ones = 1 + D2 + 0.5 = 2.130930
    assert m["ndcg@3"] == pytest.approx(0.630930 / 2.130930, abs=1e-6)
    assert m["precision@3"] == pytest.approx(1 / 3)


def test_means_average_over_users():
    topk = np.array([[1, 2], [3, 4]])
    targets = Ragged.from_lists([[2], [5]])  # user 0 hit at rank 2, user 1 none
    m = mean_metrics(topk, targets, ks=[1, 2])
    assert m == pytest.approx({
        "recall@1": 0.0, "ndcg@1": 0.0, "hitrate@1": 0.0, "mrr@1": 0.0, "precision@1": 0.0,
        "recall@2": 0.5, "ndcg@2": D2 / 2, "hitrate@2": 0.5, "mrr@2": 0.25, "precision@2": 0.25,
    })


def test_metrics_reject_bad_inputs():
    with pytest.raises(ValueError, match="no targets"):
        mean_metrics(np.array([[1, 2]]), Ragged.from_lists([[]]), ks=[1])
    with pytest.raises(ValueError, match="repeats"):
        mean_metrics(np.array([[1, 1]]), Ragged.from_lists([[1]]), ks=[2])
    with pytest.raises(ValueError, match="1..2"):
        mean_metrics(np.array([[1, 2]]), Ragged.from_lists([[1]]), ks=[3])
    with pytest.raises(ValueError, match="rows"):
        mean_metrics(np.array([[1, 2]]), Ragged.from_lists([[1], [2]]), ks=[1])


def test_vectorized_metrics_match_a_per_user_loop():
    rng = np.random.default_rng(0)
    n_users, n_items, k_max = 300, 60, 20
    topk = np.stack([rng.permutation(n_items)[:k_max] for _ in range(n_users)])
    topk[::7, -3:] = -1  # some padded rows
    targets = Ragged.from_lists([rng.integers(0, n_items, size=rng.integers(1, 12)) for _ in range(n_users)])
    got = per_query_metrics(topk, targets, ks=[1, 5, 20])
    for u in range(n_users):
        t = set(targets[u].tolist())
        for k in (1, 5, 20):
            hit = [int(i in t) for i in topk[u, :k]]
            ranks = [r + 1 for r, h in enumerate(hit) if h]
            dcg = sum(1 / math.log2(r + 1) for r in ranks)
            idcg = sum(1 / math.log2(r + 1) for r in range(1, min(k, len(t)) + 1))
            assert got[f"recall@{k}"][u] == pytest.approx(sum(hit) / len(t))
            assert got[f"precision@{k}"][u] == pytest.approx(sum(hit) / k)
            assert got[f"hitrate@{k}"][u] == float(any(hit))
            assert got[f"mrr@{k}"][u] == pytest.approx(1 / ranks[0] if ranks else 0.0)
            assert got[f"ndcg@{k}"][u] == pytest.approx(dcg / idcg)


@pytest.mark.parametrize("backend", ["faiss", "torch"])
def test_evaluate_end_to_end(backend):
    # items on a line: item i = (i, 1). user 0 = (1, 0) ranks items by i: 5, 4, 3, 2, 1, 0.
    # user 1 = (-1, 0) ranks 0, 1, 2, ... ; user 2 = (0, 1) scores all 1 -> tie -> order 0, 1, 2, ...
    items = np.array([[i, 1] for i in range(6)], dtype=np.float32)
    users = np.array([[1, 0], [-1, 0], [0, 1]], dtype=np.float32)
    exclude = Ragged.from_lists([[5], [0, 1], []])  # -> user 0: 4, 3, 2; user 1: 2, 3, 4; user 2: 0, 1, 2
    targets = Ragged.from_lists([[3], [4, 0], [2]])
    out = evaluate(users, items, targets, exclude, ks=(1, 3), backend=backend, batch_size=2)
    # user 0: target 3 at rank 2; user 1: 4 at rank 3 (0 is excluded, never hit); user 2: 2 at rank 3
    assert out["n_users"] == 3
    assert out["recall@1"] == 0.0
    assert out["recall@3"] == pytest.approx((1 + 0.5 + 1) / 3)
    assert out["mrr@3"] == pytest.approx((1 / 2 + 1 / 3 + 1 / 3) / 3)
    # NDCG@3: user 0 D2 / 1; user 1 D3 / (1 + D2) (2 targets); user 2 D3 / 1
    assert out["ndcg@3"] == pytest.approx((D2 + D3 / (1 + D2) + D3) / 3)
    assert out["precision@3"] == pytest.approx(1 / 3)
    assert out["hitrate@1"] == 0.0 and out["hitrate@3"] == 1.0
