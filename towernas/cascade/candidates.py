"""Stage 1's candidate lists of a cascade run: the retriever's top-K0 for the training, validation and test
queries, computed once per run and shared by every ranker, negative mode and seed."""

from __future__ import annotations

import numpy as np
from omegaconf import DictConfig

from towernas.cascade.negatives import without_later_train_items
from towernas.cascade.queries import split_queries, subset, train_queries
from towernas.cascade.retriever_stage import RetrieverStage
from towernas.cascade.stages import Cascade, StageOutput
from towernas.data import InteractionData


class Candidates:
    """Stage 1's lists for the training, validation and test queries, computed once per run."""

    def __init__(self, retriever: RetrieverStage, data: InteractionData, cfg: DictConfig) -> None:
        c = cfg.cascade
        self.queries = {"train": train_queries(data, c.train_queries, seed=cfg.seed),
                        "valid": split_queries(data, "valid"), "test": split_queries(data, "test")}
        self.outputs: dict[str, StageOutput] = {}
        self.vectors: dict[str, np.ndarray] = {}  # the retriever's query vectors, for fused rankers
        for split, queries in self.queries.items():
            self.outputs[split], self.vectors[split] = Cascade(retriever, c.k0, []).retrieve(data, queries)
        # the lists the retriever-based negative modes draw from (towernas.cascade.negatives)
        self.negative_pool = self.outputs["train"].ids
        if c.mask_known_positives:
            self.negative_pool = without_later_train_items(data, self.queries["train"].positions, self.negative_pool)
        self.early_stop = self.queries["valid"]
        self.early_stop_ids, self.early_stop_vectors = self.outputs["valid"].ids, self.vectors["valid"]
        if c.valid_users is not None and len(self.early_stop.users) > c.valid_users:
            keep = np.sort(np.random.default_rng(cfg.seed).choice(len(self.early_stop.users), c.valid_users, False))
            self.early_stop = subset(self.early_stop, keep)
            self.early_stop_ids, self.early_stop_vectors = self.early_stop_ids[keep], self.early_stop_vectors[keep]
