"""Typed Hydra config schemas, one module per config group. A typo'd or mistyped key fails at
composition, not at run time.

Only entry functions (``run_*(cfg)``) read configs; library code takes plain values.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from towernas.config.addons import AddonConfig, SamplerConfig
from towernas.config.budget import BudgetConfig
from towernas.config.cascade import CascadeConfig
from towernas.config.dataset import DatasetConfig, SplitConfig
from towernas.config.ranker import RANKER_SCHEMAS, RankConfig, RankerConfig
from towernas.config.retrain import RetrainConfig
from towernas.config.run import EvalConfig, JobsConfig, TrackingConfig
from towernas.config.search import SearchConfig
from towernas.config.space import DimsConfig, SpaceConfig
from towernas.config.supernet import SupernetConfig


@dataclass
class BaseConfig:
    """The root of ``conf/config.yaml``: every key of every entry point is declared here."""

    dataset: DatasetConfig = MISSING
    budget: BudgetConfig = MISSING  # type: ignore[valid-type]
    space: SpaceConfig = field(default_factory=SpaceConfig)
    supernet: SupernetConfig = field(default_factory=SupernetConfig)
    search: SearchConfig = field(default_factory=SearchConfig)
    retrain: RetrainConfig = field(default_factory=RetrainConfig)
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    addon: AddonConfig = field(default_factory=AddonConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    jobs: JobsConfig = field(default_factory=JobsConfig)
    seed: int = 0
    device: str = "auto"
    precision: str = "fp32"  # fp32 | bf16 | fp16 | auto (towernas.train.precision)
    progress: bool = True


@dataclass
class RankRootConfig(BaseConfig):
    """The root of ``conf/rank.yaml``: the main config plus the ranker and its CTR training (the search and
    retrain configs stay free of them, so their run hashes do not move when a ranker default does)."""

    ranker: RankerConfig = MISSING
    rank: RankConfig = field(default_factory=RankConfig)


@dataclass
class CascadeRootConfig(RankRootConfig):
    """The root of ``conf/cascade.yaml``: the rank config plus the cascade's stages and ranker training."""

    cascade: CascadeConfig = field(default_factory=CascadeConfig)


def register_configs() -> None:
    """Register schemas so ``conf/`` YAML files are validated against them."""
    cs = ConfigStore.instance()
    cs.store(name="base_config", node=BaseConfig)
    cs.store(name="rank_base_config", node=RankRootConfig)
    cs.store(name="cascade_base_config", node=CascadeRootConfig)
    for name, schema in RANKER_SCHEMAS.items():  # conf/ranker/<name>.yaml: defaults [<name>_schema]
        cs.store(group="ranker", name=f"{name}_schema", node=schema)


register_configs()  # schemas are available as soon as the config module is imported

__all__ = ["AddonConfig", "SamplerConfig", "BaseConfig", "BudgetConfig", "CascadeConfig", "CascadeRootConfig", "RankConfig", "RankRootConfig", "RankerConfig", "DatasetConfig", "DimsConfig", "EvalConfig", "JobsConfig", "RetrainConfig",
           "SearchConfig", "SpaceConfig", "SplitConfig", "SupernetConfig", "TrackingConfig", "register_configs"]
