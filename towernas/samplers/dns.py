"""Hard negatives by dynamic negative sampling (DNS; Zhang et al., SIGIR 2013), batched.

Each step draws a shared pool of ``pool`` distinct uniform candidates (without replacement, so a row never
gets the same negative twice; the whole catalogue when pool >= N), scores them against every query with
the current model (no gradient), and keeps each row's ``n`` highest-scoring candidates as its negatives —
never the row's own positive. The choice is deliberately biased towards hard items, so no correction is
made for it: log q is the uniform pool's, log(min(pool, N) / N), a constant that cancels.
"""

from __future__ import annotations

import math

import torch

from towernas.samplers.base import SAMPLERS, Negatives, Sampler, SamplerError


@SAMPLERS.register("dns")
class DNSSampler(Sampler):
    """Per row, the ``n`` hardest of ``pool`` shared uniform candidates.

    Args:
        pool: candidates scored per step (>= n; the issue's "sampled pool").
    """

    needs_encoder = True
    masks_positives = True

    def __init__(self, seed: int = 0, device: torch.device | str = "cpu", pool: int = 1024) -> None:
        super().__init__(seed, device)
        if pool < 1:
            raise SamplerError(f"sampler.dns.pool={pool}: expected a positive integer")
        self.pool = int(pool)

    def sample(self, query, positives, n, *, encode_items=None) -> Negatives:
        if encode_items is None:
            raise SamplerError("sampler=dns needs the item tower to score its pool (encode_items)")
        if n > self.pool:
            raise SamplerError(f"sampler.dns.pool={self.pool}: expected at least n_negatives={n}")
        if self.pool >= self.n_items:
            ids = torch.arange(self.n_items, device=self.device)
        else:
            ids = torch.randperm(self.n_items, generator=self.generator, device=self.device)[: self.pool]
        if n > len(ids) - 1:
            raise SamplerError(f"sampler.dns.pool={self.pool}: {len(ids)} candidates cannot give n_negatives={n} "
                               "negatives besides the positive")
        with torch.no_grad():
            scores = query @ encode_items(ids).T  # (B, pool)
            scores = scores.masked_fill(ids[None, :] == positives[:, None], float("-inf"))
            hardest = scores.topk(n, dim=1).indices  # (B, n)
        chosen = ids[hardest]  # distinct ids, never the positive (masked; n < the pool's size)
        return Negatives(chosen, self.log_q(query, chosen, n))

    def log_q(self, query, ids, n) -> torch.Tensor:
        return torch.full(ids.shape, math.log(min(self.pool, self.n_items) / self.n_items), device=ids.device)
