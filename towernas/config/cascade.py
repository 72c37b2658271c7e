"""Schema of ``conf/cascade.yaml``'s ``cascade`` section: retrieve -> rank pipelines and how their rankers train."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional


@dataclass
class CascadeConfig:
    """A retriever artifact's top-K0, reranked by each of ``rankers`` trained with each of ``negatives``."""

    retriever: Optional[str] = None  # artifact directory; None: the latest `make retrain` export (dataset, budget)
    k0: int = 200  # stage 1 list length
    k1: int = 50  # the ranker keeps its top k1
    rankers: list[str] = field(default_factory=lambda: ["din"])  # `ranker=` configures the one of that name
    second_ranker: Optional[str] = None  # optional stage 3 (its constructor's defaults), keeps its top k2
    k2: int = 20
    k0_sweep: list[int] = field(default_factory=list)  # also serve each pipeline at these K0 (towernas.cascade.sweep)
    negatives: list[str] = field(default_factory=lambda: ["uniform", "top_random"])  # uniform|top|top_random|dns
    n_negatives: int = 8  # per training query
    mask_known_positives: bool = True  # list negatives skip items the user consumes later in the train split
    dns_pool: int = 32  # dns: candidates scored per query before the hardest n_negatives are kept
    fuse_retriever: bool = True  # ranker logit + a * retriever score (towernas.cascade.fusion); false: ranker alone
    ratings: str = "mean"  # what rankers read of explicit ratings: none|mean|history|rated (rankers.inputs.Catalog)
    pair_features: list[str] = field(default_factory=lambda: [  # rankers.pair_features (bench-cascade)
        "retriever", "popularity", "cooccurrence", "category", "item_rating", "trend"])
    retriever_temperature: Optional[float] = None  # a starts at 1 / it; None: the retriever's training temperature
    loss: str = "softmax"  # softmax (listwise over the positive and its negatives) | bce
    train_lists: str = "in_sample"  # in_sample | time_split: where rankers' training lists come from (bench-cascade)
    holdout: float = 0.2  # time_split: the latest share of each user's train interactions the rankers train on
    window_anchor: str = "boundary"  # time_split queries: at the window's start (boundary) or before each item
    train_queries: Optional[int] = 20000  # training queries sampled (one per target); None: all
    valid_users: Optional[int] = None  # validation users used for early stopping (None: all)
    seeds: list[int] = field(default_factory=lambda: [0])
    max_epochs: int = 20
    patience: int = 3
    batch_size: int = 256  # training queries per batch (each with 1 + n_negatives candidates)
    lr: float = 0.0001  # at 1e-3 deep rankers overfit their lists within an epoch (best epoch 0-2)
    weight_decay: float = 0.0
    select: str = "ndcg@10"  # validation metric of the reranked list, for early stopping and the best pipeline
    joint: list[str] = field(default_factory=lambda: ["none"])  # none | distill (the ranker teaches the retriever)
    distill_epochs: int = 3  # joint=distill: epochs chosen on validation among 0..distill_epochs
    distill_lr: float = 0.0001
    distill_temperature: Optional[float] = None  # the retriever's softmax temperature; None: its training one
    export: bool = True  # write the pipeline best on validation as a servable cascade (<run dir>/cascade)
    addons: list[str] = field(default_factory=list)  # of every ranker stage: ips relmf pda macr dice (addon.<name>)
