"""Scoring labelled pairs with a ranker and reading the metrics of a split: CTR (AUC, GAUC, logloss) or rating
(RMSE, MAE)."""

from __future__ import annotations

import numpy as np
import torch

from towernas.data.batches import user_inputs
from towernas.data.ctr import CtrPairs, RatingScale
from towernas.data.interactions import InteractionData
from towernas.eval.ctr_metrics import ctr_metrics
from towernas.eval.rating_metrics import rating_metrics


@torch.no_grad()
def pair_logits(ranker, data: InteractionData, pairs: CtrPairs, batch_size: int = 4096, device="cpu") -> np.ndarray:
    """(P,) logits of every pair: the ranker scores item ``pairs.items[p]`` for the query right before row
    ``pairs.rows[p]`` (its user, that user's features and the history before the row)."""
    was_training = ranker.training
    ranker.eval()
    out = []
    try:
        for start in range(0, len(pairs), batch_size):
            rows = pairs.rows[start:start + batch_size]
            batch = user_inputs(data, pairs.users[start:start + batch_size], rows, device)
            items = torch.as_tensor(pairs.items[start:start + batch_size, None], device=device)
            out.append(ranker.score(batch, items)[:, 0].float().cpu().numpy())
    finally:
        ranker.train(was_training)
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def evaluate_ctr(ranker, data: InteractionData, pairs: CtrPairs, batch_size: int = 4096, device="cpu") -> dict:
    """AUC, GAUC, logloss (and pair counts) of ``ranker`` on ``pairs``."""
    return ctr_metrics(pair_logits(ranker, data, pairs, batch_size, device), pairs.labels, pairs.users)


def evaluate_rating(ranker, data: InteractionData, pairs: CtrPairs, scale: RatingScale, batch_size: int = 4096,
                    device="cpu") -> dict:
    """RMSE, MAE (and the pair count) of ``ranker``'s predicted ratings ``scale.mean + score`` on ``pairs``
    (``rating_pairs``: centred labels), clipped to the train split's rating range."""
    return rating_metrics(pair_logits(ranker, data, pairs, batch_size, device), pairs.labels,
                          scale.low - scale.mean, scale.high - scale.mean)
