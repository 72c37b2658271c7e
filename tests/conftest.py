"""Test-wide settings: one torch thread per xdist worker (no oversubscription), wandb off, no network."""

import os

os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("TOWERNAS_OFFLINE", "1")

import torch  # noqa: E402

torch.set_num_threads(1)


import pytest  # noqa: E402


@pytest.fixture(scope="session")
def data(tmp_path_factory):
    """A tiny embedded dataset (100 users, 200 items) shared by the model-level tests."""
    from towernas.config import DatasetConfig
    from towernas.data import load_dataset

    cfg = DatasetConfig(name="t", reader="synthetic", root=str(tmp_path_factory.mktemp("data")),
                        options={"n_users": 100, "n_items": 200, "mean_length": 20})
    return load_dataset(cfg, progress=False)


@pytest.fixture(scope="session")
def spec(data):
    from towernas.towers import DatasetSpec

    return DatasetSpec.from_data(data)
