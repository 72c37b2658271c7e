"""The ``ranker`` group and ``conf/rank.yaml``'s ``rank`` section (training a ranker on the CTR or rating task).

Every registered ranker is the group option ``ranker=<name>``: a ``RankerConfig`` with ``name`` set and one field
per constructor parameter after ``catalog``, of its annotation and default (``towernas.config.schema``). So a
ranker's defaults are written once, in its signature; ``ranker=din ranker.embed=32`` overrides one, and a
misspelt key fails at composition. ``ranker.name`` picks the class (``towernas.rankers.RANKERS``).

Example:
    >>> from omegaconf import OmegaConf
    >>> din = OmegaConf.structured(ranker_schema("din"))
    >>> din.name, din.embed, din.hidden, hyperparameters(din)["recency"]
    ('din', 16, [200, 80], True)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from towernas.config.schema import derived_schema

RANKER_ARGUMENTS = ("catalog",)  # what ``build_ranker`` supplies: not options


@dataclass
class RankerConfig:
    """Common to every ranker option: its registered name."""

    name: str = MISSING


def ranker_schema(name: str) -> type[RankerConfig]:
    """The config schema of the ranker registered as ``name``, derived from its constructor."""
    from towernas.rankers.base import RANKERS  # the registry alone: towernas.rankers may be mid-import

    cls = RANKERS.get(name)
    return derived_schema(cls, f"{cls.__name__}Config", module=__name__, skip=RANKER_ARGUMENTS,
                          bases=(RankerConfig,), extra=(("name", str, name), *getattr(cls, "config_extra", ())))


def store_ranker_option(name: str, cls: type) -> None:
    """Store ``ranker_schema(name)`` as Hydra's group option ``ranker/<name>`` (a ``RANKERS`` listener)."""
    ConfigStore.instance().store(group="ranker", name=name, node=ranker_schema(name))


@dataclass
class RankConfig:
    """Training and evaluating a ranker on the CTR task (pointwise BCE) or the rating task (MSE on explicit
    ratings), early stopping on validation."""

    task: str = "ctr"  # ctr: labelled clicks (dataset.ctr) | rating: the explicit ratings (towernas.rank.TASKS)
    seeds: list[int] = field(default_factory=lambda: [0])
    max_epochs: int = 30
    patience: int = 3
    batch_size: int = 1024
    lr: float = 0.001
    weight_decay: float = 0.0  # Adam's L2 on every parameter (embeddings included)
    # validation metric for early stopping; None: the task's first (ctr: auc | gauc | logloss; rating: rmse | mae;
    # logloss, rmse and mae are lower-is-better)
    select: Optional[str] = None
    negatives: int = 1  # dataset.ctr.label=implicit: uniform negatives sampled per positive pair
    addons: list[str] = field(default_factory=list)  # ips relmf pda macr dice (options: addon.<name>)
    ratings: str = "mean"  # what rankers read of explicit ratings: none|mean|history|rated (rankers.inputs.Catalog)
    # rankers.pair_features; the five raised validation AUC of fm and din on ML-100K and the embedded set
    pair_features: list[str] = field(default_factory=lambda: ["popularity", "cooccurrence", "category", "item_rating",
                                                              "trend"])


def hyperparameters(ranker_cfg) -> dict:
    """The constructor arguments of a ``ranker`` config (every key but ``name``). ``ranker=arch``: a
    ``ranker.arch`` file's architecture (``RankerArch``) gives them, and another key set beside it is a one-line
    error (which one would win?)."""
    from omegaconf import OmegaConf

    values = OmegaConf.to_container(ranker_cfg, resolve=True) if not isinstance(ranker_cfg, dict) else ranker_cfg
    values = {k: v for k, v in values.items() if k != "name"}
    path = values.pop("arch", None)
    if path is None:
        return values
    from towernas.space.ranker_arch import RankerArch

    defaults = OmegaConf.to_container(OmegaConf.structured(ranker_schema(ranker_cfg["name"])), resolve=True)
    changed = sorted(k for k, v in values.items() if v != defaults.get(k))
    if changed:
        raise ValueError(f"ranker.arch={path} and ranker.{changed[0]}={values[changed[0]]!r}: the file gives every "
                         "key of the architecture; set one or the other")
    return RankerArch.load(path).hyperparameters()
