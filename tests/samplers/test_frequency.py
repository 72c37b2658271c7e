"""The streaming frequency estimator: exact update rule, convergence on a known stream, logQ debiasing."""

import numpy as np
import pytest
import torch

from towernas.losses.retrieval import in_batch_softmax
from towernas.samplers.frequency import StreamingFrequencyEstimator


def _reference(stream, n_items, alpha, duplicates):
    """Independent per-occurrence Python loop of the same rule (bias-corrected gap EMA)."""
    last, ema, count = [0] * n_items, [0.0] * n_items, [0] * n_items
    for t, batch in enumerate(stream, start=1):
        items = sorted(batch) if duplicates == "count" else sorted(set(batch))
        for i in items:
            gap = t - last[i]  # a repeat within the batch has gap 0
            ema[i] = (1 - alpha) * ema[i] + alpha * gap
            count[i] += 1
            last[i] = t
    steps = len(stream)
    return [ema[i] / (1 - (1 - alpha) ** count[i]) if count[i] else steps + 1.0 for i in range(n_items)]


@pytest.mark.parametrize("duplicates", ["count", "once"])
def test_tensorized_update_matches_a_python_loop(duplicates):
    rng = np.random.default_rng(0)
    stream = [rng.integers(0, 12, 7).tolist() for _ in range(40)]  # many in-batch duplicates
    est = StreamingFrequencyEstimator(15, alpha=0.2, duplicates=duplicates)
    for batch in stream:
        est.update(torch.tensor(batch))
    expected = torch.tensor(_reference(stream, 15, 0.2, duplicates), dtype=torch.float64)
    assert torch.allclose(est.expected_gap(torch.arange(15)), expected, rtol=1e-12)
    assert torch.allclose(est.log_q(torch.arange(15)), -expected.log().float())


def _zipf_stream(seed, n_items=1000, batch=256, steps=2000, exponent=1.1):
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, n_items + 1) ** exponent
    p /= p.sum()
    return p, torch.as_tensor(rng.choice(n_items, size=(steps, batch), p=p))


def test_estimates_converge_to_the_true_per_step_rates():
    """Items iid from a Zipf law (p_i ~ i^-1.1) in batches of b = 256, 2000 steps.

    ``once`` targets q_i = 1 - (1 - p_i)^b (probability a batch holds i); ``count`` targets b * p_i
    (expected draws of i per batch). Both are EMAs over ~1/alpha = 100 occurrences, so the relative
    error of one item's estimate has std ~ sqrt(alpha / 2) * CV(gap) ~ 7%: for the 263 items with at
    least 200 expected draws we require median |error| < 8%, 95th percentile < 25% and a mean signed
    error (bias) under 3% (measured: medians 0.035 / 0.049, p95 0.12 / 0.15, bias 0.006 / 0.012).
    """
    p, stream = _zipf_stream(seed=0)
    b, steps = stream.shape[1], stream.shape[0]
    targets = {"once": 1 - (1 - p) ** b, "count": b * p}
    frequent = b * p * steps >= 200
    for duplicates, target in targets.items():
        est = StreamingFrequencyEstimator(len(p), duplicates=duplicates)
        for batch in stream:
            est.update(batch)
        rel = est.probability(torch.arange(len(p))).double().numpy() / target - 1
        assert frequent.sum() > 200
        assert np.median(np.abs(rel[frequent])) < 0.08, duplicates
        assert np.quantile(np.abs(rel[frequent]), 0.95) < 0.25, duplicates
        assert abs(rel[frequent].mean()) < 0.03, duplicates
    # the top item is in every batch (q = 1) but drawn ~46 times per batch: only "count" sees the difference
    assert b * p[0] > 40


def test_state_dict_round_trip_continues_identically():
    _, stream = _zipf_stream(seed=1, n_items=50, batch=16, steps=60)
    a, b = StreamingFrequencyEstimator(50), StreamingFrequencyEstimator(50)
    for batch in stream[:30]:
        a.update(batch)
    b.load_state_dict(a.state_dict())
    for batch in stream[30:]:
        a.update(batch)
        b.update(batch)
    assert b.step == a.step == 60
    assert torch.equal(a.log_q(torch.arange(50)), b.log_q(torch.arange(50)))
    with pytest.raises(ValueError, match="duplicates"):
        StreamingFrequencyEstimator(50, duplicates="once").load_state_dict(a.state_dict())


def _popularity_score_correlation(duplicates, seed=0, n_items=120, n_users=30, set_size=20, batch=64, steps=600):
    """Learn a free score table s[u, j] with in-batch softmax; return corr(centred score, log popularity).

    User u likes a fixed set S_u of ``set_size`` items *uniformly*; items enter sets with Zipf weights, so
    an item's marginal frequency is proportional to the number of sets holding it. The ideal scores are
    constant over S_u: any correlation with popularity is bias. ``duplicates=None`` trains without logQ.
    """
    rng = np.random.default_rng(seed)
    zipf = 1.0 / np.arange(1, n_items + 1)
    sets = np.stack([rng.choice(n_items, set_size, replace=False, p=zipf / zipf.sum()) for _ in range(n_users)])
    popularity = np.bincount(sets.ravel(), minlength=n_items)
    torch.manual_seed(seed)
    scores = torch.zeros(n_users, n_items, requires_grad=True)
    optimizer = torch.optim.Adam([scores], lr=0.05)
    est = StreamingFrequencyEstimator(n_items, duplicates=duplicates or "count")
    one_hot = torch.eye(n_items)  # item "embeddings" e_j, so query @ item.T picks s[u, j]
    for _ in range(steps):
        users = rng.integers(0, n_users, batch)
        items = torch.as_tensor(sets[users, rng.integers(0, set_size, batch)])
        est.update(items)
        log_q = est.log_q(items) if duplicates else None
        loss = in_batch_softmax(scores[torch.as_tensor(users)], one_hot[items], items, temperature=1.0, log_q=log_q)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    liked = scores.detach().numpy()[np.arange(n_users)[:, None], sets]  # (U, set_size)
    centred = liked - liked.mean(1, keepdims=True)
    return np.corrcoef(centred.ravel(), np.log(popularity[sets]).ravel())[0, 1]


def test_logq_correction_removes_popularity_bias():
    """Measured (seed 0): no correction -0.94, ``once`` -0.75, ``count`` -0.05.

    Without logQ, popular items are over-represented among the negatives and get pushed down. With the
    Yi et al. per-batch occurrence probability (``once``) the correction saturates for items that are in
    most batches (b * p up to ~3 here) and most of the bias remains; counting draws removes it.
    """
    uncorrected = _popularity_score_correlation(None)
    once = _popularity_score_correlation("once")
    counted = _popularity_score_correlation("count")
    assert uncorrected < -0.8
    assert uncorrected < once < -0.5
    assert abs(counted) < 0.15
