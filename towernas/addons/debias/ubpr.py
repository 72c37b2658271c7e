"""UBPR: the unbiased pairwise estimator of Saito (SIGIR 2020), on any backbone.

For a positive i and a negative j of user u, BPR's -log sigmoid(l_i - l_j) is weighted by

    (1 / theta_i) * (1 - Y_uj / theta_j)

where Y_uj = 1 if j is one of u's train positives (an in-batch or sampled "negative" the user did
consume elsewhere), else 0: a known positive j gets weight 1 - 1/theta_j <= 0. The row weight is
``weight``, the pair factor ``pair_weights``; rows are averaged self-normalised by their weights (SNIPS, as
``ips``). Defined for the pairwise loss only: ``loss=bpr``.
"""

from __future__ import annotations

import torch

from towernas.addons.base import ADDONS, AddOnError, PropensityAddOn


@ADDONS.register("ubpr")
class UBPR(PropensityAddOn):
    """BPR with inverse-propensity pair weights."""

    name = "ubpr"

    def check(self, *, loss, sampler, model=None) -> None:
        if loss != "bpr":
            raise AddOnError(f"addon ubpr needs the pairwise loss bpr (its estimator is pairwise), got {loss}")

    def fit(self, stats) -> None:
        super().fit(stats)
        self.register_buffer("pair_keys", torch.as_tensor(stats.pair_keys, dtype=torch.long), persistent=False)
        self.n_items = stats.n_items

    def known(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """(B, C) bool: is (user b, item) a train interaction."""
        keys = users[:, None] * self.n_items + items
        keys_all = self.pair_keys.to(keys.device)
        if len(keys_all) == 0:
            return torch.zeros_like(keys, dtype=torch.bool)
        pos = torch.searchsorted(keys_all, keys).clamp_max(len(keys_all) - 1)
        return keys_all[pos] == keys

    def weight(self, step):
        return 1.0 / self.theta_of(step.positives)

    def pair_weights(self, step):
        return 1.0 - self.known(step.batch["user"], step.ids).float() / self.theta_of(step.ids)
