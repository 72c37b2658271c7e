"""The data → train → evaluate path on the embedded dataset, through the real entry function."""

import numpy as np

from tests.conftest import compose_config
from towernas.config import DatasetConfig
from towernas.data import load_dataset
from towernas.data.interactions import InteractionData
from towernas.eval import evaluate
from towernas.eval.encode import evaluate_model
from towernas.retrievers.mean_pool import MeanPoolTwoTower
from towernas.train.loop import train_two_tower


def popularity_metrics(data: InteractionData, split: str, ks=(10, 20, 50)) -> dict:
    """Full-ranking metrics of the most-popular ranking on ``split``, minus each user's own items (the masking
    of any model): popularity is a 1-d item vector and every query the vector [1], so the exact top-k with
    its exclusions and id tie rule is the shared evaluation path. Test counts train + validation."""
    queries = data.queries(split)
    pop = data.item_popularity("train")
    if split == "test":  # what a deployed model would know
        pop = pop + data.item_popularity("valid")
    ones = np.ones((len(queries.users), 1), dtype=np.float32)
    return evaluate(ones, pop.astype(np.float32)[:, None], queries.targets, queries.exclude, ks=ks)


def test_two_tower_clearly_beats_popularity_on_the_embedded_dataset(tmp_path):
    cfg = DatasetConfig(name="s", reader="synthetic", root=str(tmp_path),
                        options={"n_users": 600, "n_items": 1000, "mean_length": 100, "seed": 0})
    data = load_dataset(cfg)
    pop = popularity_metrics(data, "valid")
    model = MeanPoolTwoTower(data.user_features.fields, data.item_features.fields, data.n_items, dim=32)
    losses = train_two_tower(model, data, epochs=4, batch_size=512, lr=2e-3, seed=0, progress=False)
    assert losses[-1] < losses[0]
    learned = evaluate_model(model, data, "valid")
    assert learned["recall@20"] > 1.3 * pop["recall@20"], (learned, pop)
    assert learned["ndcg@20"] > 1.3 * pop["ndcg@20"]


def test_popularity_uses_train_counts_and_masks_seen_items(tmp_path):
    cfg = DatasetConfig(name="s", reader="synthetic", root=str(tmp_path), cache=False,
                        options={"n_users": 100, "n_items": 200, "mean_length": 20})
    data = load_dataset(cfg)
    metrics = popularity_metrics(data, "valid", ks=(5,))
    assert 0 < metrics["recall@5"] < 1 and metrics["n_users"] == len(data.queries("valid").users)


def test_typo_in_config_fails_at_composition():
    import pytest
    from hydra.errors import ConfigCompositionException

    with pytest.raises(ConfigCompositionException):
        compose_config("dataset.max_lenn=5", tiny=False)
    with pytest.raises(Exception, match="max_len"):
        compose_config("dataset.max_len=abc", tiny=False)
