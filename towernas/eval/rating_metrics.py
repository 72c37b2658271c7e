"""Rating-prediction metrics over labelled (user, item) pairs: RMSE and MAE.

For predicted ratings r̂_i, clipped to the train split's rating range [low, high] (a prediction outside the scale
is never better than its end), and true ratings r_i over the P pairs:

    RMSE = sqrt(mean_i (clip(r̂_i) - r_i)^2)
    MAE  = mean_i |clip(r̂_i) - r_i|

Both are shift-invariant, so they are computed on centred values (prediction = score, label = rating - mean).

Example:
    >>> import numpy as np
    >>> m = rating_metrics(np.array([0.5, -3.0, 1.0]), np.array([1.0, -1.0, 1.0]), low=-2.0, high=2.0)
    >>> round(m["rmse"], 4), round(m["mae"], 4), m["pairs"]
    (0.6455, 0.5, 3)
"""

from __future__ import annotations

import math

import numpy as np


def rating_metrics(scores: np.ndarray, labels: np.ndarray, low: float = -math.inf, high: float = math.inf) -> dict:
    """RMSE, MAE and the pair count of predictions ``scores`` (clipped to [low, high]) against ``labels``; NaN
    metrics for no pairs."""
    if len(scores) != len(labels):
        raise ValueError(f"rating_metrics: {len(scores)} predictions for {len(labels)} labels")
    if not len(labels):
        return {"rmse": math.nan, "mae": math.nan, "pairs": 0}
    error = np.clip(np.asarray(scores, np.float64), low, high) - np.asarray(labels, np.float64)
    return {"rmse": float(np.sqrt(np.mean(error ** 2))), "mae": float(np.mean(np.abs(error))), "pairs": len(labels)}
