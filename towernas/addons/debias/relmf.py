"""RelMF: the unbiased pointwise estimator of Saito et al. (WSDM 2020), on any backbone.

For a positive (u, i) with exposure propensity theta_i the per-pair loss is

    -(1 / theta_i) log sigmoid(l) - (1 - 1 / theta_i) log(1 - sigmoid(l))

and unlabelled (sampled) pairs keep -log(1 - sigmoid(l)). Relative to plain BCE that adds, per positive,
-(1/theta_i - 1) [log sigmoid(l) - log(1 - sigmoid(l))] = -(1/theta_i - 1) l, which is ``extra_loss``
(l = the positive's logit). It is defined for the pointwise loss only: ``loss=bce``.
"""

from __future__ import annotations

from towernas.addons.base import ADDONS, AddOnError, PropensityAddOn


@ADDONS.register("relmf")
class RelMF(PropensityAddOn):
    """BCE with the positives' labels replaced by Y / theta (the unbiased pointwise loss)."""

    name = "relmf"

    def check(self, *, loss, sampler, model=None) -> None:
        if loss != "bce":
            raise AddOnError(f"addon relmf needs the pointwise loss bce (its estimator is pointwise), got {loss}")

    def extra_loss(self, step):
        return -(step.labels() * (1.0 / self.theta_of(step.ids) - 1.0) * step.logits).sum() / step.norm
