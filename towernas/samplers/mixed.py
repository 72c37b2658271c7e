"""Mixed negative sampling (Yang et al., WWW 2020): the in-batch pool plus ``n`` uniform ids, shared.

In-batch negatives are drawn by popularity, so rare items are seldom contrasted; the uniform part fixes
that. The pool holds item j on average b * p_j (in-batch, streamed estimate) + n / N (uniform) times per
step, and log q_j is the log of that sum for every column.
"""

from __future__ import annotations

import torch

from towernas.samplers.base import SAMPLERS, Negatives
from towernas.samplers.in_batch import InBatchSampler


@SAMPLERS.register("mixed")
class MixedSampler(InBatchSampler):
    """The batch's positives followed by ``n`` uniform ids; log q of the mixture (Yang et al. 2020).

    Args:
        alpha: EMA rate of the in-batch part's streaming frequency estimator (0 < alpha <= 1).
    """

    name = "mixed"

    def sample(self, query, positives, n, *, encode_items=None) -> Negatives:
        ids = torch.cat([positives, self._uniform_ids((n,))])
        return Negatives(ids, self.log_q(None, ids, n), includes_positives=True)

    def log_q(self, query, ids, n) -> torch.Tensor:
        expected = self.estimator.probability(ids).double() + n / self.n_items
        return expected.log().float()
