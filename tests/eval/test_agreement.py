"""Rank agreement statistics vs hand-computed cases."""

import math

import numpy as np
import pytest

from towernas.eval.agreement import bootstrap_tau, kendall_tau, precision_at_k, ranks


def test_kendall_tau_on_hand_computed_cases():
    assert kendall_tau([1, 2, 3, 4], [1, 2, 3, 4]) == 1.0
    assert kendall_tau([1, 2, 3, 4], [4, 3, 2, 1]) == -1.0
    # x = 1 2 3 4, y = 1 3 2 4: 6 pairs, one discordant (2,3): (5 - 1) / 6
    assert kendall_tau([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(4 / 6)
    # tau-b with a tie in y: x = 1 2 3, y = 1 1 2: pairs (1,2) tied in y, (1,3) +, (2,3) +: 2 / sqrt(3 * 2)
    assert kendall_tau([1, 2, 3], [1, 1, 2]) == pytest.approx(2 / math.sqrt(6))
    assert math.isnan(kendall_tau([1, 1, 1], [1, 2, 3]))
    with pytest.raises(ValueError, match="same length"):
        kendall_tau([1, 2], [1, 2, 3])


def test_kendall_tau_matches_a_brute_force_count():
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 5, 30), rng.integers(0, 5, 30)
    conc = disc = tx = ty = 0
    for i in range(30):
        for j in range(i + 1, 30):
            sx, sy = np.sign(x[i] - x[j]), np.sign(y[i] - y[j])
            conc += sx * sy > 0
            disc += sx * sy < 0
            tx += sx == 0
            ty += sy == 0
    n0 = 30 * 29 / 2
    assert kendall_tau(x, y) == pytest.approx((conc - disc) / math.sqrt((n0 - tx) * (n0 - ty)))


def test_bootstrap_interval_brackets_tau_and_is_seeded():
    rng = np.random.default_rng(1)
    x = rng.normal(size=40)
    y = x + rng.normal(scale=0.5, size=40)
    lo, hi = bootstrap_tau(x, y, n_boot=500)
    assert lo < kendall_tau(x, y) < hi and 0 < lo
    assert (lo, hi) == bootstrap_tau(x, y, n_boot=500)


def test_precision_at_k_and_ranks():
    assert precision_at_k([5, 4, 3, 2, 1], [5, 4, 3, 2, 1], k=3) == 1.0
    assert precision_at_k([5, 4, 3, 2, 1], [1, 2, 3, 4, 5], k=2) == 0.0
    assert precision_at_k([1, 2, 3], [1, 2, 3], k=5) == 1.0  # k larger than the list: all of it
    assert ranks([0.1, 0.9, 0.5]) == [3, 1, 2]
