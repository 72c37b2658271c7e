"""Stage 1's candidate lists of a cascade run: the retriever's top-K0 for the training, validation and test
queries, computed once per run and shared by every ranker, negative mode and seed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from towernas.cascade.negatives import without_later_train_items
from towernas.cascade.queries import split_queries, subset
from towernas.cascade.retriever_stage import RetrieverStage
from towernas.cascade.stages import Cascade, StageOutput
from towernas.cascade.train_lists import TRAIN_LISTS
from towernas.data import InteractionData
from towernas.rankers.pair_features import PairStatistics


class Candidates:
    """Stage 1's lists for the training, validation and test queries, computed once per run. The training lists
    come from ``cascade.train_lists`` (``towernas.cascade.train_lists``: the served retriever's in-sample lists,
    or a retriever refitted on the earlier part of train); validation and test always from the served one.
    ``run_dir``: where a refitted retriever is kept."""

    def __init__(self, retriever: RetrieverStage, data: InteractionData, cfg: DictConfig, run_dir: Path,
                 device="cpu") -> None:
        c = cfg.cascade
        lists = TRAIN_LISTS.get(c.train_lists)(retriever, data, cfg, run_dir, device)
        self.train_retriever = lists.retriever
        self.queries = {"train": lists.queries, "valid": split_queries(data, "valid"),
                        "test": split_queries(data, "test")}
        self.outputs: dict[str, StageOutput] = {}
        self.vectors: dict[str, np.ndarray] = {}  # the lists' retriever's query vectors, for fused rankers
        for split, queries in self.queries.items():
            source = lists.retriever if split == "train" else retriever
            self.outputs[split], self.vectors[split] = Cascade(source, c.k0, []).retrieve(data, queries)
        # the lists the retriever-based negative modes draw from (towernas.cascade.negatives)
        self.negative_pool = self.outputs["train"].ids
        if c.mask_known_positives:
            self.negative_pool = without_later_train_items(data, lists.after, self.negative_pool)
        # distillation fine-tunes the served retriever on its own lists of the training queries
        self.served_train = (self.outputs["train"].ids, self.vectors["train"])
        if lists.retriever is not retriever and "distill" in c.joint:
            output, vectors = Cascade(retriever, c.k0, []).retrieve(data, self.queries["train"])
            self.served_train = (output.ids, vectors)
        # pair features count the lists' retriever's training part in training, the train split when served
        self.served_statistics = self.train_statistics = None
        if c.pair_features:
            self.served_statistics = PairStatistics.from_data(data)
            self.train_statistics = (self.served_statistics if lists.fitted_on is data
                                     else PairStatistics.from_data(lists.fitted_on))
        self.early_stop = self.queries["valid"]
        self.early_stop_ids, self.early_stop_vectors = self.outputs["valid"].ids, self.vectors["valid"]
        if c.valid_users is not None and len(self.early_stop.users) > c.valid_users:
            keep = np.sort(np.random.default_rng(cfg.seed).choice(len(self.early_stop.users), c.valid_users, False))
            self.early_stop = subset(self.early_stop, keep)
            self.early_stop_ids, self.early_stop_vectors = self.early_stop_ids[keep], self.early_stop_vectors[keep]
