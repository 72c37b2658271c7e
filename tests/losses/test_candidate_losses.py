"""The candidate losses (softmax, infonce, bpr, bce), the in-batch softmax and InfoNCE against per-row Python
loops with math.log / math.exp on small float64 tensors.

Definitions pinned here (per row r with target column t and logits l; N_r = the columns that are neither t
nor invalid; w_rj the pair weights, 1 when not given; rows averaged with weights w_r, sum_r w_r L_r / sum_r w_r):

- softmax: L_r = -l_t + log sum_{j not invalid} exp(l_j)
- bpr:     L_r = sum_{j in N_r} w_rj * -log sigmoid(l_t - l_j) / max(|N_r|, 1)
- bce:     L_r = -log sigmoid(l_t) + sum_{j in N_r} w_rj * -log(1 - sigmoid(l_j)) / max(|N_r|, 1)

The BPR / BCE divisor is the *number* of valid negatives, not the sum of their pair weights.
"""

import math

import pytest
import torch

from towernas.losses.contrastive import info_nce
from towernas.losses.retrieval import (CORRECTED, LOSSES, bce_loss, bpr_loss, in_batch_softmax,
                                       in_batch_softmax_scores, softmax_loss)

B, C = 5, 7


def _log_sigmoid(x: float) -> float:
    return -math.log(1 + math.exp(-x))


def _case(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(B, C, generator=g, dtype=torch.float64) * 2
    target = torch.randint(0, C, (B,), generator=g)
    invalid = torch.rand(B, C, generator=g) < 0.3
    invalid[torch.arange(B), target] = False  # the positive column is never invalid
    weights = torch.rand(B, generator=g, dtype=torch.float64) + 0.1
    pair_weights = torch.rand(B, C, generator=g, dtype=torch.float64) * 2
    return logits, target, invalid, weights, pair_weights


def _negatives(r, target, invalid):
    return [j for j in range(invalid.shape[1]) if j != int(target[r]) and not bool(invalid[r, j])]


def _softmax_rows(logits, target, invalid):
    out = []
    for r in range(len(logits)):
        valid = [j for j in range(logits.shape[1]) if not bool(invalid[r, j])]
        lse = math.log(sum(math.exp(float(logits[r, j])) for j in valid))
        out.append(-float(logits[r, int(target[r])]) + lse)
    return out


def _bpr_rows(logits, target, invalid, pair_weights=None):
    out = []
    for r in range(len(logits)):
        neg = _negatives(r, target, invalid)
        pos = float(logits[r, int(target[r])])
        total = sum((1.0 if pair_weights is None else float(pair_weights[r, j]))
                    * -_log_sigmoid(pos - float(logits[r, j])) for j in neg)
        out.append(total / max(len(neg), 1))
    return out


def _bce_rows(logits, target, invalid, pair_weights=None):
    out = []
    for r in range(len(logits)):
        neg = _negatives(r, target, invalid)
        total = 0.0
        for j in neg:
            p = 1 / (1 + math.exp(-float(logits[r, j])))
            total += (1.0 if pair_weights is None else float(pair_weights[r, j])) * -math.log(1 - p)
        out.append(-_log_sigmoid(float(logits[r, int(target[r])])) + total / max(len(neg), 1))
    return out


def _mean(rows, weights=None):
    if weights is None:
        return sum(rows) / len(rows)
    return sum(w * x for w, x in zip(weights.tolist(), rows)) / float(weights.sum())


def test_registry_names_and_the_corrected_set():
    assert set(LOSSES) == {"softmax", "infonce", "bpr", "bce"}
    assert LOSSES["softmax"] is softmax_loss and LOSSES["infonce"] is softmax_loss
    assert LOSSES["bpr"] is bpr_loss and LOSSES["bce"] is bce_loss
    assert CORRECTED == frozenset({"softmax"})  # only the sampled softmax takes the logQ correction


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_softmax_drops_invalid_columns(seed):
    logits, target, invalid, weights, _ = _case(seed)
    assert bool(invalid.any())
    rows = _softmax_rows(logits, target, invalid)
    assert float(softmax_loss(logits, target, invalid)) == pytest.approx(_mean(rows), rel=1e-10)
    assert float(softmax_loss(logits, target, invalid, weights)) == pytest.approx(_mean(rows, weights), rel=1e-10)
    assert float(LOSSES["infonce"](logits, target, invalid)) == pytest.approx(_mean(rows), rel=1e-10)
    # the invalid columns matter: with none masked the loss is larger (more terms in the log-sum-exp)
    none = torch.zeros_like(invalid)
    assert float(softmax_loss(logits, target, none)) > float(softmax_loss(logits, target, invalid))


def test_softmax_refuses_pair_weights():
    logits, target, invalid, _, pair_weights = _case(0)
    with pytest.raises(ValueError, match="pair_weights"):
        softmax_loss(logits, target, invalid, pair_weights=pair_weights)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("loss, rows_of", [(bpr_loss, _bpr_rows), (bce_loss, _bce_rows)],
                         ids=["bpr", "bce"])
def test_pairwise_losses_are_the_weighted_mean_of_their_rows(loss, rows_of, seed):
    """BPR: the mean over valid negatives; BCE: the positive term plus that mean; pair weights multiply each pair's
    term, example weights each row's."""
    logits, target, invalid, weights, pair_weights = _case(seed)
    rows = rows_of(logits, target, invalid)
    assert float(loss(logits, target, invalid)) == pytest.approx(_mean(rows), rel=1e-10)
    assert float(loss(logits, target, invalid, weights)) == pytest.approx(_mean(rows, weights), rel=1e-10)
    rows_pw = rows_of(logits, target, invalid, pair_weights)
    assert float(loss(logits, target, invalid, weights, pair_weights)) == pytest.approx(_mean(rows_pw, weights),
                                                                                          rel=1e-10)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bpr_pair_weights_keep_the_number_of_negatives_as_divisor(seed):
    logits, target, invalid, weights, pair_weights = _case(seed)
    rows_pw = _bpr_rows(logits, target, invalid, pair_weights)
    got = float(bpr_loss(logits, target, invalid, weights, pair_weights))
    normalised_by_weight_sum = []  # the other plausible definition, sum w l / sum w: a different number
    for r in range(B):
        neg = _negatives(r, target, invalid)
        s = sum(float(pair_weights[r, j]) for j in neg)
        normalised_by_weight_sum.append(rows_pw[r] * max(len(neg), 1) / s if s else 0.0)
    assert got != pytest.approx(_mean(normalised_by_weight_sum, weights), rel=1e-6)


def test_bpr_and_bce_hand_values():
    # one row, target column 0, column 2 invalid: negatives {1, 3}
    logits = torch.tensor([[1.0, 0.0, 5.0, 2.0]], dtype=torch.float64)
    target, invalid = torch.tensor([0]), torch.tensor([[False, False, True, False]])
    # BPR: (log(1 + e^-1) + log(1 + e^1)) / 2
    bpr = (math.log(1 + math.exp(-1)) + math.log(1 + math.exp(1))) / 2
    assert float(bpr_loss(logits, target, invalid)) == pytest.approx(bpr, rel=1e-12)
    # BCE: log(1 + e^-1) + (log(1 + e^0) + log(1 + e^2)) / 2
    bce = math.log(1 + math.exp(-1)) + (math.log(2) + math.log(1 + math.exp(2))) / 2
    assert float(bce_loss(logits, target, invalid)) == pytest.approx(bce, rel=1e-12)
    # pair weights (0, 3, 100, 0.5): the invalid column's weight is ignored, the divisor stays 2
    pw = torch.tensor([[0.0, 3.0, 100.0, 0.5]], dtype=torch.float64)
    bpr_w = (3 * math.log(1 + math.exp(-1)) + 0.5 * math.log(1 + math.exp(1))) / 2
    assert float(bpr_loss(logits, target, invalid, pair_weights=pw)) == pytest.approx(bpr_w, rel=1e-12)


def test_in_batch_softmax_is_softmax_over_the_batch_with_accidental_hits_masked():
    g = torch.Generator().manual_seed(4)
    b, d, tau = 6, 5, 0.3
    query = torch.nn.functional.normalize(torch.randn(b, d, generator=g, dtype=torch.float64), dim=1)
    item = torch.nn.functional.normalize(torch.randn(b, d, generator=g, dtype=torch.float64), dim=1)
    item_ids = torch.tensor([3, 1, 3, 2, 1, 3])  # accidental hits: rows 0/2/5 and 1/4
    log_q = torch.log(torch.rand(b, generator=g, dtype=torch.float64) * 0.5 + 0.01)
    weights = torch.rand(b, generator=g, dtype=torch.float64) + 0.5
    rows = []
    for i in range(b):
        s = [float(query[i] @ item[j]) / tau - float(log_q[j]) for j in range(b)]
        valid = [j for j in range(b) if j == i or int(item_ids[j]) != int(item_ids[i])]
        rows.append(-s[i] + math.log(sum(math.exp(s[j]) for j in valid)))
    got = in_batch_softmax(query, item, item_ids, temperature=tau, log_q=log_q, weights=weights)
    assert float(got) == pytest.approx(_mean(rows, weights), rel=1e-10)
    # the same as softmax_loss on the (B, B) logits with the accidental hits invalid
    logits = query @ item.T / tau - log_q[None, :]
    accidental = (item_ids[:, None] == item_ids[None, :]) & ~torch.eye(b, dtype=torch.bool)
    ref = softmax_loss(logits, torch.arange(b), accidental, weights)
    assert float(got) == pytest.approx(float(ref), rel=1e-12)
    assert float(in_batch_softmax_scores(query @ item.T, item_ids, temperature=tau, log_q=log_q,
                                         weights=weights)) == pytest.approx(float(ref), rel=1e-12)
    # without logQ and weights: the plain mean
    rows = []
    for i in range(b):
        s = [float(query[i] @ item[j]) / tau for j in range(b)]
        valid = [j for j in range(b) if j == i or int(item_ids[j]) != int(item_ids[i])]
        rows.append(-s[i] + math.log(sum(math.exp(s[j]) for j in valid)))
    assert float(in_batch_softmax(query, item, item_ids, temperature=tau)) == pytest.approx(_mean(rows), rel=1e-10)


def test_info_nce_is_nt_xent_over_both_views():
    g = torch.Generator().manual_seed(5)
    b, d, tau = 5, 4, 0.2
    a = torch.nn.functional.normalize(torch.randn(b, d, generator=g, dtype=torch.float64), dim=1)
    v = torch.nn.functional.normalize(torch.randn(b, d, generator=g, dtype=torch.float64), dim=1)
    z = [a[i] for i in range(b)] + [v[i] for i in range(b)]
    total = 0.0
    for k in range(2 * b):  # each row against the 2B - 1 others; its positive is the other view of its example
        pair = (k + b) % (2 * b)
        others = [float(z[k] @ z[m]) / tau for m in range(2 * b) if m != k]
        total += -float(z[k] @ z[pair]) / tau + math.log(sum(math.exp(x) for x in others))
    expected = total / (2 * b)
    assert float(info_nce(a, v, temperature=tau)) == pytest.approx(expected, rel=1e-10)
    assert float(info_nce(v, a, temperature=tau)) == pytest.approx(expected, rel=1e-10)
    cross_only = sum(-float(a[i] @ v[i]) / tau + math.log(sum(math.exp(float(a[i] @ v[j]) / tau) for j in range(b)))
                     for i in range(b)) / b
    assert abs(cross_only - expected) > 1e-3  # the same-view negatives matter here
    # identical orthogonal views: -log(e^{1/tau} / (e^{1/tau} + 2(B-1))) per row
    e = torch.eye(4, dtype=torch.float64)
    assert float(info_nce(e, e, temperature=0.1)) == pytest.approx(-math.log(math.exp(10) / (math.exp(10) + 6)),
                                                                   rel=1e-10)


def test_a_row_without_valid_negatives_gives_finite_gradients():
    # row 0: every column but the target invalid; row 1: ordinary
    base = torch.tensor([[0.5, -1.0, 2.0], [0.3, 0.1, -0.4]], dtype=torch.float64)
    target = torch.tensor([1, 0])
    invalid = torch.tensor([[True, False, True], [False, False, False]])
    for name, loss in LOSSES.items():
        logits = base.clone().requires_grad_(True)
        value = loss(logits, target, invalid)
        value.backward()
        assert torch.isfinite(value) and bool(torch.isfinite(logits.grad).all()), name
        assert bool((logits.grad[0, [0, 2]] == 0).all()), name  # the invalid columns get no gradient
    # alone, the row costs 0 for BPR and the softmax, and only its positive term for BCE
    one, t, inv = base[:1], target[:1], invalid[:1]
    assert float(bpr_loss(one, t, inv)) == 0.0
    assert float(softmax_loss(one, t, inv)) == pytest.approx(0.0, abs=1e-15)
    assert float(bce_loss(one, t, inv)) == pytest.approx(math.log(1 + math.exp(1.0)), rel=1e-12)
    # in a batch, the empty row enters BPR's mean as 0: (0 + row 1) / 2
    row1 = _bpr_rows(base[1:], target[1:], invalid[1:])[0]
    assert float(bpr_loss(base, target, invalid)) == pytest.approx(row1 / 2, rel=1e-12)
