"""Uniform negatives: a shared pool of ``n`` ids drawn uniformly with replacement over the catalogue.

q_j = n / N for every item (expected draws per step): a constant, so the logQ correction cancels.
"""

from __future__ import annotations

import math

import torch

from towernas.samplers.base import SAMPLERS, Negatives, Sampler


@SAMPLERS.register("uniform")
class UniformSampler(Sampler):
    """``n`` uniform ids per step, shared by every row."""

    def sample(self, query, positives, n, *, encode_items=None) -> Negatives:
        ids = self._uniform_ids((n,))
        return Negatives(ids, self.log_q(None, ids, n))

    def log_q(self, query, ids, n) -> torch.Tensor:
        return torch.full(ids.shape, math.log(n / self.n_items), device=ids.device)
