"""PDA: popularity-bias deconfounding and adjusting (Zhang et al., SIGIR 2021), on any backbone.

Training models the observed score as the backbone's matching score times m_i ** gamma (m_i = item i's
share of train interactions, smoothed): with cosine logits that is ``logit + gamma * log m_i``, so the
popularity effect is learned by the fixed term instead of the towers. Inference:

- ``inference_gamma = 0`` (PD, the default): rank by the deconfounded matching score alone;
- ``inference_gamma > 0`` (PDA): add ``inference_gamma * log m~_i`` with m~ the popularity of the latest
  10% of train rows (the paper's "recent" popularity), served as one extra vector dimension
  (query 1, item tau * gamma~ * log m~_i), so full ranking and faiss stay exact.
"""

from __future__ import annotations

import torch

from towernas.addons.base import ADDONS, AddOn, check_range


@ADDONS.register("pda")
class PDA(AddOn):
    """Training logits + gamma log m_i; inference without it (PD) or with recent popularity (PDA).

    Args:
        gamma: in [0, 1]; the training logit is logit + gamma * log (popularity share).
        inference_gamma: in [0, 1]; 0: PD (rank by the deconfounded score); > 0: PDA with recent popularity.
    """

    name = "pda"

    def __init__(self, gamma: float = 0.1, inference_gamma: float = 0.0) -> None:
        super().__init__()
        self.gamma = check_range("addon.pda.gamma", gamma, 0.0, 1.0)
        self.inference_gamma = check_range("addon.pda.inference_gamma", inference_gamma, 0.0, 1.0)
        self.changes_inference = self.inference_gamma > 0

    def fit(self, stats) -> None:
        def log_share(counts) -> torch.Tensor:
            c = torch.as_tensor(counts, dtype=torch.float64) + 1.0
            return (c / c.sum()).log().float()

        self.register_buffer("log_m", log_share(stats.item_counts), persistent=False)
        self.register_buffer("log_recent", log_share(stats.recent_item_counts), persistent=False)

    def adjust(self, logits, step):
        return logits + self.gamma * self.log_m.to(logits.device)[step.ids]

    def query_vectors(self, vectors, batch):
        if not self.changes_inference:
            return vectors
        return torch.cat([vectors, torch.ones_like(vectors[..., :1])], dim=-1)

    def item_vectors(self, vectors, batch):
        if not self.changes_inference:
            return vectors
        bias = self.temperature * self.inference_gamma * self.log_recent.to(vectors.device)[batch["item"]]
        return torch.cat([vectors, bias[:, None]], dim=-1)



    def inference_scores(self, logits, items, batch):
        if not self.changes_inference:
            return logits
        return logits + self.inference_gamma * self.log_recent.to(logits.device)[items]
