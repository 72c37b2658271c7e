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

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, OmegaConf

from towernas.config.schema import derived_schema

RANKER_ARGUMENTS = ("catalog",)  # what ``build_ranker`` supplies: not options
# per ``rank.task``: the metrics it reports, the first its default ``rank.select``
TASK_METRICS = {"ctr": ("auc", "gauc", "logloss"), "rating": ("rmse", "mae")}


def task_metric(task: str) -> str:
    """The default ``rank.select`` of ``task`` (the ``task_metric`` resolver; an unknown task is reported by the
    command's own check, in one line)."""
    return TASK_METRICS.get(task, TASK_METRICS["ctr"])[0]


OmegaConf.register_new_resolver("task_metric", task_metric, replace=True)


@dataclass
class RankerConfig:
    """Common to every ranker option: its registered name."""

    name: str = MISSING


def ranker_schema(name: str) -> type[RankerConfig]:
    """The config schema of the ranker registered as ``name``, derived from its constructor."""
    from towernas.rankers import RANKERS

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
    # validation metric for early stopping, by default the task's first (TASK_METRICS: ctr: auc | gauc | logloss;
    # rating: rmse | mae; logloss, rmse and mae are lower-is-better)
    select: str = "${task_metric:${.task}}"
    negatives: int = 1  # dataset.ctr.label=implicit: uniform negatives sampled per positive pair
    addons: list[str] = field(default_factory=list)  # ips relmf pda macr dice (options: addon.<name>)
    ratings: str = "mean"  # what rankers read of explicit ratings: none|mean|history|rated (rankers.inputs.Catalog)
    # rankers.pair_features; the five raised validation AUC of fm and din on ML-100K and the embedded set
    pair_features: list[str] = field(default_factory=lambda: ["popularity", "cooccurrence", "category", "item_rating",
                                                              "trend"])


def hyperparameters(ranker_cfg) -> dict:
    """The constructor arguments of a ``ranker`` config: every key but ``name``, through the ranker class's
    ``constructor_arguments`` (``ranker=arch`` reads its ``ranker.arch`` file there)."""
    from towernas.rankers import RANKERS

    values = OmegaConf.to_container(ranker_cfg, resolve=True) if not isinstance(ranker_cfg, dict) else ranker_cfg
    return RANKERS.get(values["name"]).constructor_arguments({k: v for k, v in values.items() if k != "name"})
