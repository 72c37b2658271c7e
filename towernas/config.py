"""Typed Hydra config schemas. A typo'd or mistyped key fails at composition, not at run time.

Only entry functions (``run_*(cfg)``) read configs; library code takes plain values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING


@dataclass
class SplitConfig:
    """Per-user chronological split. ``ratio``: first (1 - valid - test) train, then valid, then test;
    ``leave_one_out``: last interaction test, the one before validation, the rest train."""

    method: str = "ratio"
    valid: float = 0.25
    test: float = 0.25


@dataclass
class DatasetConfig:
    """Which reader, where its files are, and how to preprocess them.

    ``options`` are the reader's own settings, checked against that reader's ``Options`` dataclass
    (unknown keys fail with the list of valid ones).
    """

    name: str = MISSING
    reader: str = MISSING
    root: Optional[str] = None  # None: $TOWERNAS_DATA, else ~/.cache/towernas
    download: bool = True
    min_rating: Optional[float] = None
    k_core_user: int = 0
    k_core_item: int = 0
    max_len: int = 20
    split: SplitConfig = field(default_factory=SplitConfig)
    cache: bool = True
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class EvalConfig:
    ks: list[int] = field(default_factory=lambda: [10, 20, 50])
    batch_size: int = 4096
    backend: str = "auto"  # auto | faiss | torch


@dataclass
class TrackingConfig:
    wandb: bool = False
    project: str = "towernas"


@dataclass
class BudgetConfig:
    """Hydra schema of ``conf/budget/*.yaml`` (``null`` per-tower limit = no limit)."""

    name: str = MISSING
    params: int = MISSING
    flops: int = MISSING
    user_params: Optional[int] = None
    user_flops: Optional[int] = None
    item_params: Optional[int] = None
    item_flops: Optional[int] = None


@dataclass
class DimsConfig:
    """Widths of the search space (see towernas.space.dims.Dims)."""

    embed: int = 64
    block: int = 32
    out: int = 64
    head: int = 8
    attn: int = 16


@dataclass
class SupernetConfig:
    """Weight-sharing supernet and its SPOS training."""

    depth_user: int = 5
    depth_item: int = 5
    searchable_depth: bool = False  # adds the "skip" op at positions >= 2
    dims: DimsConfig = field(default_factory=DimsConfig)
    steps: int = 3000  # upper bound: training stops early when validation stops improving
    batch_size: int = 512
    lr: float = 1e-3
    temperature: float = 0.05
    checkpoint_every: int = 500
    monitor_every: int = 100  # steps between validation checks (0: no early stopping)
    patience: int = 4  # checks without improvement before stopping (0: train all steps)
    monitor_archs: int = 6  # fixed feasible architectures whose mean validation loss is monitored


@dataclass
class SearchConfig:
    """Complexity-aware evolution (paper: population 50, 50 generations, mutation 0.1)."""

    mode: str = "single"  # single | pareto
    population: int = 50
    generations: int = 50
    mutation_prob: float = 0.1
    crossover_prob: float = 0.5
    top_k: int = 5
    val_batches: int = 4
    val_batch_size: int = 1024
    random_baseline: int = 20  # random feasible archs scored for the "best vs random" summary
    # pareto mode: the budgets to report the best architecture for (composed from conf/budget/)
    budgets: dict[str, BudgetConfig] = field(default_factory=dict)


@dataclass
class RetrainConfig:
    """Retraining architectures (and human baselines) from scratch, selected on validation."""

    archs: list[str] = field(default_factory=list)  # Arch JSON paths; empty: top_k of the latest search run
    search_dir: Optional[str] = None  # a search run directory; None: the latest for this dataset and budget
    top_k: int = 3
    baselines: list[str] = field(default_factory=list)  # google_dnn, senet, bst, mind
    seeds: list[int] = field(default_factory=lambda: [0])
    max_epochs: int = 30
    patience: int = 5
    batch_size: int = 512
    lr: float = 0.002
    temperature: float = 0.05
    select: str = "recall@50"  # validation metric for early stopping / model selection
    export: bool = True  # export the best model (by validation) as a retriever artifact
    index: str = "flat"  # faiss index of the artifact: flat (exact) | ivf | hnsw


@dataclass
class BaseConfig:
    """The root of ``conf/config.yaml``: every key of every entry point is declared here."""

    dataset: DatasetConfig = MISSING
    budget: BudgetConfig = MISSING
    supernet: SupernetConfig = field(default_factory=SupernetConfig)
    search: SearchConfig = field(default_factory=SearchConfig)
    retrain: RetrainConfig = field(default_factory=RetrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    seed: int = 0
    device: str = "auto"
    progress: bool = True


def register_configs() -> None:
    """Register schemas so ``conf/`` YAML files are validated against them."""
    cs = ConfigStore.instance()
    cs.store(name="base_config", node=BaseConfig)


register_configs()  # schemas are available as soon as the config module is imported
