"""Popularity negatives: a shared pool of ``n`` ids drawn with q_j proportional to (count_j + smoothing)^exponent.

``exponent`` 0 is uniform, 1 the unigram distribution of the train split, 0.75 word2vec's choice. Draws
are inverse-CDF lookups (``torch.searchsorted`` on the cumulative distribution), O(n log N) per step.
log q_j = log(n * p_j), the expected number of draws of j per step.
"""

from __future__ import annotations

import torch

from towernas.samplers.base import SAMPLERS, Negatives, Sampler, SamplerError


def check_exponent(exponent: float, key: str) -> None:
    if not 0.0 <= exponent <= 1.0:
        raise SamplerError(f"{key}={exponent}: expected an exponent in [0, 1]")


@SAMPLERS.register("popularity")
class PopularitySampler(Sampler):
    """``n`` ids per step, shared by every row, from the smoothed popularity distribution.

    Args:
        exponent: in [0, 1]; q proportional to (count + smoothing) ** exponent (0: uniform, 1: unigram).
        smoothing: added to every train count (> 0, so unseen items can be drawn).
    """

    def __init__(self, seed: int = 0, device: torch.device | str = "cpu", exponent: float = 0.75,
                 smoothing: float = 1.0) -> None:
        super().__init__(seed, device)
        check_exponent(exponent, "sampler.popularity.exponent")
        if not smoothing > 0:
            raise SamplerError(f"sampler.popularity.smoothing={smoothing}: expected a positive number")
        self.exponent, self.smoothing = float(exponent), float(smoothing)

    def fit(self, stats) -> None:
        super().fit(stats)
        counts = torch.as_tensor(stats.item_counts, dtype=torch.float64, device=self.device)
        p = (counts + self.smoothing) ** self.exponent
        self.probability = p / p.sum()  # (N,) float64
        self.cdf = torch.cumsum(self.probability, 0)
        self.cdf[-1] = 1.0
        self.log_probability = self.probability.log().float()

    def draw(self, shape: tuple[int, ...]) -> torch.Tensor:
        """Ids of the given shape, iid from ``probability``."""
        u = torch.rand(shape, generator=self.generator, device=self.device, dtype=torch.float64)
        return torch.searchsorted(self.cdf, u, right=True).clamp_max(self.n_items - 1)

    def sample(self, query, positives, n, *, encode_items=None) -> Negatives:
        ids = self.draw((n,))
        return Negatives(ids, self.log_q(None, ids, n))

    def log_q(self, query, ids, n) -> torch.Tensor:
        return self.log_probability.to(ids.device)[ids] + torch.log(torch.tensor(float(n)))
