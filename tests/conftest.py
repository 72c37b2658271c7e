"""Test-wide settings and the fixtures every test package shares.

One torch thread per xdist worker (no oversubscription), wandb off, no network. Shared here: the
checkout's config directory and the shrunk overrides that make every command run in seconds
(``compose_config``), an isolated data root (``data_root``), and a tiny embedded dataset (``data``,
``spec``).
"""

import os
from pathlib import Path

os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("TOWERNAS_OFFLINE", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)

REPO = Path(__file__).resolve().parents[1]
CONF_DIR = REPO / "conf"
# what makes `python -m towernas.search` / `towernas.retrain` take seconds on the tiny embedded dataset
TINY = {
    "config": ["dataset=synthetic-tiny", "supernet=tiny", "space.depth_user=3", "space.depth_item=3", "search.population=8", "search.generations=2",
               "search.val_batches=2", "search.val_batch_size=128", "search.random_baseline=4", "search.final_candidates=3",
               "search.short_epochs=1", "search.final_top=1", "retrain.max_epochs=2", "retrain.patience=1",
               "retrain.batch_size=128", "progress=false",
               "device=cpu"],
    "retrain": ["dataset=synthetic-tiny", "progress=false", "device=cpu", "retrain.max_epochs=3",
                "retrain.patience=1", "retrain.batch_size=128"],
    "cascade": ["dataset=synthetic-tiny", "progress=false", "device=cpu", "cascade.k0=40", "cascade.k1=20",
                "cascade.max_epochs=2", "cascade.patience=1", "cascade.train_queries=600", "cascade.n_negatives=4",
                "cascade.dns_pool=8"],
    "rank": ["dataset=synthetic-tiny", "progress=false", "device=cpu", "rank.max_epochs=2", "rank.patience=1",
             "rank.batch_size=256"],
    "search_ranker": ["dataset=synthetic-tiny", "progress=false", "device=cpu", "rank.max_epochs=2",
                      "rank.patience=1", "rank.batch_size=256", "ranker_search.supernet_epochs=2",
                      "ranker_search.monitor_paths=2", "ranker_search.fitness_pairs=2000",
                      "ranker_search.final_candidates=2", "ranker_search.space.depth=2",
                      "ranker_search.space.blocks=[FM,MLP-16,MLP-64,EW-ip,DP,CROSS-1,SA-1]", "search.population=8",
                      "search.generations=2"],
    "search_cascade": ["dataset=synthetic-tiny", "progress=false", "device=cpu", "cascade.k1=20",
                       "cascade.max_epochs=2", "cascade.patience=1", "cascade.train_queries=600",
                       "cascade.n_negatives=4", "cascade_search.k0s=[10,20,40]", "ranker_search.supernet_epochs=2",
                       "ranker_search.monitor_paths=2", "ranker_search.finetune_steps=3",
                       "ranker_search.final_candidates=2", "ranker_search.space.depth=2",
                       "ranker_search.space.embed=4", "ranker_search.space.block=4",
                       "ranker_search.space.blocks=[FM,MLP-16,EW-ip,DP,CROSS-1]", "search.population=6",
                       "search.generations=2"],
}


def compose_config(*overrides: str, name: str = "config", tiny: bool = True):
    """The config ``name`` of the checkout's ``conf/`` with the ``TINY`` overrides of that command (if
    ``tiny``), then ``overrides`` — through Hydra's compose API, independent of the working directory."""
    from benchmarks.common import compose

    return compose(*(TINY[name] if tiny else []), *overrides, config=name)


@pytest.fixture
def data_root(tmp_path, monkeypatch) -> Path:
    """``$TOWERNAS_DATA`` pointing at a fresh directory of this test."""
    root = tmp_path / "data"
    monkeypatch.setenv("TOWERNAS_DATA", str(root))
    return root


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
    from towernas.data.spec import DatasetSpec

    return DatasetSpec.from_data(data)
