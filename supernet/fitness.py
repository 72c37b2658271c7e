"""The search's recall fitness of many paths through one trained supernet, with item vectors reused.

A path's item vectors depend only on its item-tower genome (the history pooling and the user tower act on
the query side), and over a large catalogue encoding every item is most of a fitness evaluation (1–3 s of
~2.5 s at 160k items on 2 CPU cores). ``RecallFitness`` keeps the item matrices of the most recent item
towers (least recently used out first, within ``cache_mib``), so children that inherit their parent's item
tower cost only their queries and the ranking. The supernet's weights must not change while one is in use
(build it after training).

Usage::

    fitness = RecallFitness(net, data, data.queries("valid"))
    fitness(arch)  # minus Recall@50, lower is better
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import torch

from supernet.model import Supernet
from supernet.trainer import PathModel
from towernas.data.interactions import EvalQueries, InteractionData
from towernas.eval import evaluate
from towernas.eval.encode import encode_all_items, encode_queries, ranking_items
from towernas.space.arch import Arch


class RecallFitness:
    """``fitness(arch) = -Recall@k`` on ``queries`` by full ranking through ``supernet``'s frozen weights.

    Args:
        supernet, data: the trained supernet and its dataset.
        queries: the validation queries (all, or a fixed sample: ``eval.encode.sample_queries``).
        k: the recall cut-off.
        device: where the towers run.
        cache_mib: memory for cached item matrices (0: no cache).
    """

    def __init__(self, supernet: Supernet, data: InteractionData, queries: EvalQueries, *, k: int = 50,
                 device: torch.device | str = "cpu", cache_mib: float = 1024) -> None:
        self.supernet, self.data, self.queries, self.k, self.device = supernet, data, queries, k, device
        self.capacity = int(cache_mib * 2**20 // max(1, data.n_items * supernet.dims.out * 4))
        self.cache: OrderedDict[tuple[str, ...], np.ndarray] = OrderedDict()
        self.hits = self.misses = 0

    def item_vectors(self, arch: Arch) -> np.ndarray:
        key = tuple(arch.item)
        if key in self.cache:
            self.hits += 1
            self.cache.move_to_end(key)
            return self.cache[key]
        self.misses += 1
        vectors = encode_all_items(PathModel(self.supernet, arch), self.data, device=self.device)
        if self.capacity:
            self.cache[key] = vectors
            while len(self.cache) > self.capacity:
                self.cache.popitem(last=False)
        return vectors

    @torch.no_grad()
    def __call__(self, arch: Arch) -> float:
        was_training = self.supernet.training
        try:
            self.supernet.eval()
            items = self.item_vectors(arch)
            users = encode_queries(PathModel(self.supernet, arch), self.data, self.queries.users,
                                   self.queries.positions, device=self.device)
            metrics = evaluate(users, ranking_items(items, self.device), self.queries.targets, self.queries.exclude,
                               ks=(self.k,))
            return -float(metrics[f"recall@{self.k}"])
        finally:
            self.supernet.train(was_training)
