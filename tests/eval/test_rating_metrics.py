"""RMSE and MAE against hand-computed cases."""

import math

import numpy as np
import pytest

from towernas.eval.rating_metrics import rating_metrics


def test_rmse_and_mae_by_hand():
    m = rating_metrics(np.array([1.0, 2.0, 4.0]), np.array([2.0, 2.0, 2.0]))
    assert m["rmse"] == pytest.approx(math.sqrt((1 + 0 + 4) / 3)) and m["mae"] == pytest.approx(1.0)
    assert m["pairs"] == 3


def test_predictions_are_clipped_to_the_scale_before_the_error():
    # 7 -> 5 (error 0), -1 -> 1 (error 0), 3 (error 1)
    m = rating_metrics(np.array([7.0, -1.0, 3.0]), np.array([5.0, 1.0, 4.0]), low=1.0, high=5.0)
    assert m["rmse"] == pytest.approx(math.sqrt(1 / 3)) and m["mae"] == pytest.approx(1 / 3)


def test_a_perfect_prediction_scores_zero_and_no_pairs_give_nan():
    assert rating_metrics(np.array([3.5]), np.array([3.5]))["rmse"] == 0.0
    empty = rating_metrics(np.zeros(0), np.zeros(0))
    assert math.isnan(empty["rmse"]) and empty["pairs"] == 0


def test_mismatched_lengths_are_a_one_line_error():
    with pytest.raises(ValueError, match="2 predictions for 3 labels"):
        rating_metrics(np.zeros(2), np.zeros(3))
