"""Schemas of ``conf/ranker/*.yaml`` (one dataclass per ranker, the same fields as its constructor) and of
``conf/rank.yaml``'s ``rank`` section (training a ranker on the CTR task).

``ranker.name`` picks the registered class (``towernas.rankers.RANKERS``); every other key of the option is
a constructor argument, so a misspelt key fails at composition (the schema) and a schema out of step with
its class fails in ``tests/config`` (fields == constructor parameters, defaults equal).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from omegaconf import MISSING


def _widths(*values: int):
    return field(default_factory=lambda: list(values))


@dataclass
class RankerConfig:
    """Common to every ranker option: its registered name."""

    name: str = MISSING


@dataclass
class LRConfig(RankerConfig):
    name: str = "lr"


@dataclass
class FMConfig(RankerConfig):
    name: str = "fm"
    embed: int = 16


@dataclass
class WideDeepConfig(RankerConfig):
    name: str = "wide_deep"
    embed: int = 16
    hidden: list[int] = _widths(256, 128)
    dropout: float = 0.0


@dataclass
class DeepFMConfig(RankerConfig):
    name: str = "deepfm"
    embed: int = 16
    hidden: list[int] = _widths(256, 128)
    dropout: float = 0.0


@dataclass
class DCNConfig(RankerConfig):
    name: str = "dcn"
    embed: int = 16
    cross_layers: int = 3
    hidden: list[int] = _widths(256, 128)
    dropout: float = 0.0


@dataclass
class DCNv2Config(RankerConfig):
    name: str = "dcnv2"
    embed: int = 16
    cross_layers: int = 3
    rank: Optional[int] = None
    hidden: list[int] = _widths(256, 128)
    dropout: float = 0.0
    structure: str = "stacked"


@dataclass
class XDeepFMConfig(RankerConfig):
    name: str = "xdeepfm"
    embed: int = 16
    cin_layers: list[int] = _widths(64, 64)
    split_half: bool = True
    hidden: list[int] = _widths(256, 128)
    dropout: float = 0.0


@dataclass
class AutoIntConfig(RankerConfig):
    name: str = "autoint"
    embed: int = 16
    attention_layers: int = 3
    heads: int = 2
    head_dim: int = 16
    hidden: list[int] = _widths()
    dropout: float = 0.0


@dataclass
class FiBiNETConfig(RankerConfig):
    name: str = "fibinet"
    embed: int = 16
    reduction: int = 3
    bilinear_type: str = "field_interaction"
    hidden: list[int] = _widths(256, 128)
    dropout: float = 0.0


@dataclass
class DINConfig(RankerConfig):
    name: str = "din"
    embed: int = 16
    attention_hidden: list[int] = _widths(36)
    attention_activation: str = "prelu"
    hidden: list[int] = _widths(200, 80)
    dropout: float = 0.0
    item_features: bool = True  # history items and the candidate include their side features
    recency: bool = True  # a learned recency embedding in the attention keys


@dataclass
class TwoTowerRankerConfig(RankerConfig):
    name: str = "two_tower"
    embed: int = 16
    hidden: list[int] = _widths(128, 64)
    dropout: float = 0.0


RANKER_SCHEMAS: dict[str, type[RankerConfig]] = {
    c.name: c for c in (LRConfig, FMConfig, WideDeepConfig, DeepFMConfig, DCNConfig, DCNv2Config, XDeepFMConfig,
                        AutoIntConfig, FiBiNETConfig, DINConfig, TwoTowerRankerConfig)
}


@dataclass
class RankConfig:
    """Training and evaluating a ranker on the CTR task (pointwise BCE, early stopping on validation)."""

    seeds: list[int] = field(default_factory=lambda: [0])
    max_epochs: int = 30
    patience: int = 3
    batch_size: int = 1024
    lr: float = 0.001
    weight_decay: float = 0.0  # Adam's L2 on every parameter (embeddings included)
    select: str = "auc"  # validation metric for early stopping: auc | gauc | logloss (lower is better)
    negatives: int = 1  # dataset.ctr.label=implicit: uniform negatives sampled per positive pair
    addons: list[str] = field(default_factory=list)  # ips relmf pda macr dice (options: addon.<name>)
    ratings: str = "mean"  # what rankers read of explicit ratings: none | mean | history (rankers.inputs.Catalog)
    # rankers.pair_features; the five raised validation AUC of fm and din on ML-100K and the embedded set
    pair_features: list[str] = field(default_factory=lambda: ["popularity", "cooccurrence", "category", "item_rating",
                                                              "trend"])


def hyperparameters(ranker_cfg) -> dict:
    """The constructor arguments of a ``ranker`` config (every key but ``name``)."""
    from omegaconf import OmegaConf

    values = OmegaConf.to_container(ranker_cfg, resolve=True) if not isinstance(ranker_cfg, dict) else ranker_cfg
    return {k: v for k, v in values.items() if k != "name"}
