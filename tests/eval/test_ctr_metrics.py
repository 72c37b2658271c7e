import itertools

import numpy as np
import pytest

from towernas.eval.ctr_metrics import auc, ctr_metrics, gauc, logloss


def pairwise_auc(scores, labels):
    """The definition: the share of (positive, negative) pairs ordered right, ties counting one half."""
    pos, neg = scores[labels == 1], scores[labels == 0]
    wins = [1.0 if p > q else 0.5 if p == q else 0.0 for p, q in itertools.product(pos, neg)]
    return sum(wins) / len(wins)


def test_auc_hand_computed_case():
    # positives 0.35, 0.8; negatives 0.1, 0.4: pairs (0.35>0.1) (0.35<0.4) (0.8>0.1) (0.8>0.4) -> 3/4
    assert auc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1])) == 0.75


@pytest.mark.parametrize("seed", range(5))
def test_auc_equals_the_pairwise_definition_with_ties(seed):
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 6, 60).astype(float)  # many ties
    labels = rng.integers(0, 2, 60)
    assert auc(scores, labels) == pytest.approx(pairwise_auc(scores, labels), abs=1e-12)


def test_auc_edge_cases():
    assert auc(np.zeros(5), np.array([0, 1, 0, 1, 1])) == 0.5  # a constant scorer
    assert auc(np.array([3.0, 2.0, 1.0]), np.array([1, 0, 0])) == 1.0
    assert np.isnan(auc(np.array([1.0, 2.0]), np.array([1, 1])))
    with pytest.raises(ValueError, match="0 or 1"):
        auc(np.array([1.0, 2.0]), np.array([1, 2]))


@pytest.mark.parametrize("seed", range(3))
def test_gauc_is_the_pair_weighted_mean_of_per_user_auc_skipping_one_class_users(seed):
    rng = np.random.default_rng(seed)
    users = rng.integers(0, 12, 200)
    scores = rng.integers(0, 8, 200).astype(float)
    labels = rng.integers(0, 2, 200)
    labels[users == 3] = 1  # one class only: skipped
    labels[users == 7] = 0
    total = weight = skipped = 0
    for u in np.unique(users):
        rows = users == u
        if len(set(labels[rows])) < 2:
            skipped += 1
            continue
        total += rows.sum() * pairwise_auc(scores[rows], labels[rows])
        weight += rows.sum()
    value, n_skipped = gauc(scores, labels, users)
    assert value == pytest.approx(total / weight, abs=1e-12)
    assert n_skipped == skipped >= 2


def test_gauc_differs_from_auc_when_users_differ_in_base_rate():
    # each user ranks its own pairs perfectly, but user 1's scores are all below user 0's
    users = np.array([0, 0, 1, 1])
    scores = np.array([0.9, 0.8, 0.2, 0.1])
    labels = np.array([1, 0, 1, 0])
    assert gauc(scores, labels, users) == (1.0, 0)
    assert auc(scores, labels) == 0.75


def test_logloss_matches_the_formula_and_stays_finite():
    logits = np.array([2.0, -1.0, 0.0, 50.0])
    labels = np.array([1, 0, 1, 0])
    p = 1 / (1 + np.exp(-logits[:3]))
    expected_first3 = -(np.log(p[0]) + np.log(1 - p[1]) + np.log(p[2]))
    assert logloss(logits, labels) == pytest.approx((expected_first3 + 50.0) / 4, rel=1e-9)
    assert np.isfinite(logloss(np.array([1e4]), np.array([0])))


def test_ctr_metrics_keys():
    out = ctr_metrics(np.array([0.5, -0.5, 1.0]), np.array([1, 0, 1]), np.array([0, 0, 1]))
    assert out["auc"] == 1.0 and out["gauc"] == 1.0 and out["gauc_users_skipped"] == 1
    assert out["pairs"] == 3 and out["positive_rate"] == pytest.approx(2 / 3)
