"""IPS: inverse propensity weighting of the training examples (Schnabel et al. ICML 2016; propensity from
item popularity as in Saito et al. WSDM 2020).

Each positive (u, i) — its row of candidates, or its labelled pair for a ranker — is weighted by
1 / theta_i, theta_i = (count_i / max count) ** exponent clipped below at ``min_propensity``, so rarely
exposed items count more. The loss is the *self-normalised* weighted mean sum_b w_b l_b / sum_b w_b (SNIPS,
Swaminathan & Joachims 2015): biased by O(1/B) but with far lower variance than dividing by B, and the
loss keeps the scale (hence the learning rate) of the unweighted one. Any loss, any backbone.
"""

from __future__ import annotations

from towernas.addons.base import ADDONS, PropensityAddOn


@ADDONS.register("ips")
class IPS(PropensityAddOn):
    """Per-example weights 1 / theta of the positive item."""

    name = "ips"

    def weight(self, step):
        return self.inverse_propensity_of_positive(step)
