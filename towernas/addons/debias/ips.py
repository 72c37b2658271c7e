"""IPS: inverse propensity weighting of the training examples (Schnabel et al. ICML 2016; propensity from
item popularity as in Saito et al. WSDM 2020).

Each positive (u, i) — its row of candidates, or its labelled pair for a ranker — is weighted by
1 / theta_i, theta_i = (count_i / max count) ** exponent clipped below at ``min_propensity``, so rarely
exposed items count more. The loss is the *self-normalised* weighted mean sum_b w_b l_b / sum_b w_b (SNIPS,
Swaminathan & Joachims 2015): biased by O(1/B) but with far lower variance than dividing by B, and the
loss keeps the scale (hence the learning rate) of the unweighted one. Any loss, any backbone.
"""

from __future__ import annotations

import torch

from towernas.addons.base import ADDONS, AddOn, check_range, propensity


@ADDONS.register("ips")
class IPS(AddOn):
    """Per-example weights 1 / theta of the positive item."""

    name = "ips"

    def __init__(self, exponent: float = 0.5, min_propensity: float = 0.05) -> None:
        super().__init__()
        self.exponent = check_range("addon.ips.exponent", exponent, 0.0, 1.0)
        self.min_propensity = check_range("addon.ips.min_propensity", min_propensity, 1e-6, 1.0)

    def fit(self, stats) -> None:
        self.register_buffer("theta", propensity(stats, self.exponent, self.min_propensity), persistent=False)

    def weight(self, step):
        theta = self.theta.to(step.ids.device)[step.ids]  # (B, C)
        weights = (step.labels() / theta).sum(1)  # 1 / theta of the row's positive
        return torch.where(step.has_positive, weights, torch.ones_like(weights))  # rows without one: 1
