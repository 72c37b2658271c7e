"""Run by the distributed tests under ``python -m torch.distributed.run`` (or alone): train a tiny supernet, a
two-tower model or a ranker for a few steps at a global batch and write what rank 0 saw as JSON.

Usage: ``python tests/train/ddp_worker.py <supernet|fit|ranker> <data root> <out.json>``.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import torch


def tiny_data(root: str):
    from towernas.config import DatasetConfig
    from towernas.data import load_dataset

    return load_dataset(DatasetConfig(name="ddp", reader="synthetic", root=root, max_len=10,
                                      options={"n_users": 120, "n_items": 200, "mean_length": 30, "seed": 1}),
                        progress=False)


def weights(model) -> list[float]:
    """Every parameter, flattened (the models here are small)."""
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()]).double().tolist()


def supernet_losses(data) -> dict:
    from supernet import Supernet, train_supernet
    from towernas.data.spec import DatasetSpec
    from towernas.space import Dims
    from towernas.train.settings import SupernetSettings

    torch.manual_seed(0)
    net = Supernet(DatasetSpec.from_data(data), Dims(embed=16, block=16, out=16), 3, 3)
    settings = SupernetSettings(steps=12, batch_size=64, lr=3e-3, temperature=0.1, seed=0)
    out = train_supernet(net, data, settings, device="cpu", progress=False)
    return {"losses": out["losses"], "weights": weights(net)}


def fit_losses(data) -> dict:
    from towernas.retrievers.mean_pool import MeanPoolTwoTower
    from towernas.train.loop import train_two_tower

    torch.manual_seed(0)
    model = MeanPoolTwoTower([], [], data.n_items, dim=8, hidden=(16,), out_dim=8)
    losses = train_two_tower(model, data, epochs=2, batch_size=100, lr=3e-3, temperature=0.1, seed=0,
                             progress=False)  # 100 does not divide the rows: the last batch is uneven too
    return {"losses": losses, "weights": weights(model)}


def ranker_losses(data) -> dict:
    from towernas.train.ranker_loop import train_epoch
    from towernas.train.optim import adam

    torch.manual_seed(0)
    scorer = torch.nn.Sequential(torch.nn.Embedding(data.n_items + 1, 8), torch.nn.Flatten(), torch.nn.Linear(8, 1))

    class Ranker(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = scorer

        def score(self, batch, items):
            return self.net(items).view(len(items), -1)

    ranker = Ranker()
    rng = np.random.default_rng(0)
    items = rng.integers(0, data.n_items, (300, 1))
    labels = (items % 3 == 0).astype(np.float32)

    def batches():
        for start in range(0, 300, 64):
            sl = slice(start, start + 64)
            yield ({"user": torch.arange(len(items[sl]))}, torch.as_tensor(items[sl]), torch.as_tensor(labels[sl]))

    optimizer = adam(ranker.parameters(), 1e-2)
    losses = [train_epoch(ranker, batches(), optimizer, progress=False) for _ in range(3)]
    return {"losses": losses, "weights": weights(ranker)}


if __name__ == "__main__":
    from towernas.train import distributed

    what, root, out = sys.argv[1:4]
    here, _ = distributed.setup(torch.device("cpu"))
    data = tiny_data(root)
    result = {"supernet": supernet_losses, "fit": fit_losses, "ranker": ranker_losses}[what](data)
    result["world_size"] = here.size
    if here.is_main:
        with open(out, "w") as fh:
            json.dump(result, fh)
    distributed.cleanup()
