"""Most-popular baseline: every user gets the items most frequent in training, minus their own."""

from __future__ import annotations

import numpy as np

from towernas.data.interactions import InteractionData
from towernas.eval import evaluate


def popularity_metrics(data: InteractionData, split: str, ks=(10, 20, 50), backend: str = "auto") -> dict:
    """Full-ranking metrics of the train-popularity ranking on ``split`` (same masking as any model).

    Popularity is used as a 1-d item vector and every query is the vector [1], so the exact top-k
    (with exclusion of the user's earlier items and the id tie rule) is the shared evaluation path.
    """
    queries = data.queries(split)
    if split == "test":  # what a deployed model would know: train + validation counts
        pop = data.item_popularity("train") + data.item_popularity("valid")
    else:
        pop = data.item_popularity("train")
    items = pop.astype(np.float32)[:, None]
    ones = np.ones((len(queries.users), 1), dtype=np.float32)
    return evaluate(ones, items, queries.targets, queries.exclude, ks=ks, backend=backend)
