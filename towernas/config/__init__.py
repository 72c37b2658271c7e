"""Typed Hydra config schemas, one module per config group. A typo'd or mistyped key fails at
composition, not at run time. The options of rankers, samplers and add-ons are derived from their constructors
(``ranker``, ``addons``), so each default is written once, where the class is defined.

Only entry functions (``run_*(cfg)``) read configs; library code takes plain values.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from towernas.config.addons import AddonConfig, SamplerConfig, addon_options, sampler_options
from towernas.config.budget import BudgetConfig
from towernas.config.cascade import CascadeConfig
from towernas.config.cascade_search import CascadeSearchConfig
from towernas.config.dataset import DatasetConfig, SplitConfig
from towernas.config.ranker import RankConfig, RankerConfig, store_ranker_option
from towernas.config.ranker_search import RankerSearchConfig
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
    sampler: SamplerConfig = field(default_factory=sampler_options)  # + sampler.<name> of every registered one
    addon: AddonConfig = field(default_factory=addon_options)  # addon.<name> of every registered one
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
class RankerSearchRootConfig(RankRootConfig):
    """The root of ``conf/search_ranker.yaml`` (``python -m towernas.search task=ctr|rating``): the rank config
    (how finalists and the supernet train) plus the ranker search's space, budget and schedule."""

    task: str = "ctr"  # ctr | rating (towernas.config.ranker_search.TASKS); rank.task follows it
    ranker_search: RankerSearchConfig = field(default_factory=RankerSearchConfig)


@dataclass
class CascadeRootConfig(RankRootConfig):
    """The root of ``conf/cascade.yaml``: the rank config plus the cascade's stages and ranker training."""

    cascade: CascadeConfig = field(default_factory=CascadeConfig)


@dataclass
class CascadeSearchRootConfig(CascadeRootConfig):
    """The root of ``conf/search_cascade.yaml`` (``python -m towernas.search task=cascade``): the cascade config
    (how the rankers train on the retriever's lists) plus the ranker space and schedule and the request budget."""

    task: str = "cascade"
    ranker_search: RankerSearchConfig = field(default_factory=RankerSearchConfig)
    cascade_search: CascadeSearchConfig = field(default_factory=CascadeSearchConfig)


def register_configs() -> None:
    """Register schemas so ``conf/`` YAML files are validated against them; every ranker of ``RANKERS`` (now
    and registered later) as the group option ``ranker=<name>``, and the roots again whenever a sampler or add-on
    registers (their ``sampler`` and ``addon`` sections hold every registered one's options)."""
    from towernas.addons import ADDONS
    from towernas.rankers import RANKERS
    from towernas.samplers import SAMPLERS

    store_roots()
    RANKERS.subscribe(store_ranker_option)
    SAMPLERS.subscribe(store_roots)
    ADDONS.subscribe(store_roots)


_STORED_SECTIONS: list[tuple[type, type]] = []


def store_roots(*_: object) -> None:
    """Store the root schemas (``base_config`` and the rank and cascade roots) unless they are stored with the
    current ``sampler`` and ``addon`` sections already (a ``SAMPLERS`` / ``ADDONS`` listener)."""
    sections = (type(sampler_options()), type(addon_options()))
    if _STORED_SECTIONS == [sections]:
        return
    cs = ConfigStore.instance()
    cs.store(name="base_config", node=BaseConfig)
    cs.store(name="rank_base_config", node=RankRootConfig)
    cs.store(name="cascade_base_config", node=CascadeRootConfig)
    cs.store(name="ranker_search_base_config", node=RankerSearchRootConfig)
    cs.store(name="cascade_search_base_config", node=CascadeSearchRootConfig)
    _STORED_SECTIONS[:] = [sections]


register_configs()  # schemas are available as soon as the config module is imported

__all__ = ["AddonConfig", "SamplerConfig", "BaseConfig", "BudgetConfig", "CascadeConfig", "CascadeRootConfig", "RankConfig", "RankRootConfig", "RankerConfig", "DatasetConfig", "DimsConfig", "EvalConfig", "JobsConfig", "RetrainConfig",
           "SearchConfig", "SpaceConfig", "SplitConfig", "SupernetConfig", "TrackingConfig", "register_configs",
           "store_roots"]
