"""bench_ceiling: the Bayes scorers beat what they bound, on a small synthetic dataset."""

import numpy as np

from benchmarks.bench_ceiling import ctr_ceiling, topk_ceiling
from towernas.config.dataset import DatasetConfig
from towernas.data.load import load_dataset
from towernas.eval.metrics import mean_metrics

OPTIONS = {"n_users": 120, "n_items": 300, "mean_length": 40, "seed": 3}


def _cfg() -> DatasetConfig:
    return DatasetConfig(name="ceiling-small", reader="synthetic", cache=False, max_len=20, options=OPTIONS)


def test_the_topk_ceiling_beats_popularity_and_grows_with_rollouts(data_root):
    data = load_dataset(_cfg(), progress=False)
    queries = data.queries("test")
    popularity = np.bincount(data.items[data.rows("train")], minlength=data.n_items).astype(float)
    top = []
    for i in range(len(queries.users)):
        s = popularity.copy()
        s[queries.exclude[i]] = -np.inf
        top.append(np.argsort(-s, kind="stable")[:50])
    popular = mean_metrics(np.array(top), queries.targets, (10,))["ndcg@10"]
    few, many = topk_ceiling(_cfg(), 2), topk_ceiling(_cfg(), 32)
    assert many["ndcg@10"] > popular + 0.05
    assert many["recall@50"] >= few["recall@50"] - 0.02  # more rollouts: a sharper estimate, not a worse one


def test_the_ctr_ceiling_knows_more_than_its_structural_part(data_root):
    out = ctr_ceiling(_cfg())
    full, structural = out["all"]["test"]["auc"], out["no_id_latents"]["test"]["auc"]
    assert 0.5 < structural < full <= 1.0
    # dropping a term does not help the Bayes scorer (up to sampling noise of a finite test set)
    assert all(v <= full + 0.005 for v in out["without"].values())
