"""In-batch negatives: every row's positive is a negative of every other row (Yi et al., RecSys 2019).

q is the streaming frequency estimate of how often an item is drawn per batch (``frequency.py``), so the
logQ-corrected in-batch softmax is the supernet's and the retrainer's default loss.
"""

from __future__ import annotations

import torch

from towernas.samplers.base import SAMPLERS, Negatives, Sampler, SamplerError
from towernas.samplers.frequency import StreamingFrequencyEstimator


@SAMPLERS.register("in_batch")
class InBatchSampler(Sampler):
    """The batch's own positives as the shared pool; ``n`` is ignored (the pool is the batch).

    Args:
        alpha: EMA rate of the streaming frequency estimate of q (0 < alpha <= 1; Yi et al. 2019).
    """

    name = "in_batch"  # of its options' config key

    def __init__(self, seed: int = 0, device: torch.device | str = "cpu", alpha: float = 0.01) -> None:
        super().__init__(seed, device)
        if not 0.0 < alpha <= 1.0:
            raise SamplerError(f"sampler.{self.name}.alpha={alpha}: expected 0 < alpha <= 1")
        self.alpha = alpha
        self.estimator: StreamingFrequencyEstimator | None = None

    def fit(self, stats) -> None:
        super().fit(stats)
        self.estimator = StreamingFrequencyEstimator(stats.n_items, alpha=self.alpha, device=self.device)

    def observe(self, positives: torch.Tensor) -> None:
        self.estimator.update(positives)  # the batch counts towards its own sampling probabilities

    def sample(self, query, positives, n, *, encode_items=None) -> Negatives:
        return Negatives(positives, self.estimator.log_q(positives), includes_positives=True)

    def log_q(self, query, ids, n) -> torch.Tensor:
        return self.estimator.log_q(ids)

    def state_dict(self) -> dict:
        return {**super().state_dict(), "estimator": self.estimator.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.estimator.load_state_dict(state["estimator"])
