"""MACR: model-agnostic counterfactual reasoning (Wei et al., KDD 2021), on any backbone.

Two scalar branches: an item branch y_i (how much the item's popularity alone explains a click) and a
user branch y_u (the user's conformity), each a learned scalar per id — the paper's branch modules are
functions of the item (user) embedding alone, which per-id scalars represent without tying the add-on to
a backbone's output width. The
training logit is the backbone's matching logit times sigmoid(y_i) * sigmoid(y_u), and each branch is
trained on its own with binary cross-entropy on the same (positive, negative) candidates, the negatives
importance-weighted by 1 / q (the sampler's log q; see ``branch_weights`` for its limits), weights
``alpha`` (item) and ``beta`` (user). Counterfactual inference removes the direct popularity effect:

    score(u, i) = sigmoid(y_i) * (l_ui - c)        (the user factor is constant per user)

with l_ui = <u, v_i> / tau; it is served as vectors [u, -c tau] . [sigmoid(y_i) v_i, sigmoid(y_i)],
i.e. tau times the score. ``c`` is the reference matching logit of the counterfactual world.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from towernas.addons.base import ADDONS, AddOn, check_range


@ADDONS.register("macr")
class MACR(AddOn):
    """Item and user branches, a multiplicative fusion in training, the counterfactual score at inference.

    Args:
        alpha: weight of the item branch's loss.
        beta: weight of the user branch's loss.
        c: the counterfactual reference matching logit: rank by sigmoid(y_i) * (logit - c).
    """

    name = "macr"
    changes_inference = True

    def __init__(self, alpha: float = 1e-2, beta: float = 1e-3, c: float = 10.0) -> None:
        super().__init__()
        self.alpha = check_range("addon.macr.alpha", alpha, 0.0, None)
        self.beta = check_range("addon.macr.beta", beta, 0.0, None)
        self.c = check_range("addon.macr.c", c, 0.0, None)

    def fit(self, stats) -> None:
        if not hasattr(self, "item_branch"):
            self.item_branch = nn.Embedding(stats.n_items, 1)
            self.user_branch = nn.Embedding(stats.n_users, 1)
            nn.init.zeros_(self.item_branch.weight)
            nn.init.zeros_(self.user_branch.weight)

    def adjust(self, logits, step):
        step.extras["macr_item"] = item = self.item_branch(step.ids)[..., 0]  # (B, C)
        step.extras["macr_user"] = user = self.user_branch(step.batch["user"])  # (B, 1)
        return logits * torch.sigmoid(item) * torch.sigmoid(user)

    def extra_loss(self, step):
        labels = step.labels()
        weight = branch_weights(step)
        item = F.binary_cross_entropy_with_logits(step.extras["macr_item"], labels, weight=weight)
        user = F.binary_cross_entropy_with_logits(step.extras["macr_user"].expand_as(labels), labels, weight=weight)
        return self.alpha * item + self.beta * user

    def query_vectors(self, vectors, batch):
        return torch.cat([vectors, torch.full_like(vectors[..., :1], -self.c * self.temperature)], dim=-1)

    def item_vectors(self, vectors, batch):
        gate = torch.sigmoid(self.item_branch(batch["item"]))  # (N, 1)
        return torch.cat([gate * vectors, gate], dim=-1)

    def inference_scores(self, logits, items, batch):
        return torch.sigmoid(self.item_branch(items)[..., 0]) * (logits - self.c)


def branch_weights(step) -> torch.Tensor:
    """(B, C) weights of the branches' BCE: 1 for positives; for negatives 1 / q_j (the sampler's log q)
    rescaled to mean 1 over the row's valid negatives, so that with an exact q the negatives stand for the
    whole catalogue whatever the sampler. With in-batch negatives q is the streaming estimate, which early in
    training over-estimates rare items' q (their first gap is counted from step 0); measured on two tiny
    synthetic sets, the item branch then still ends anti-correlated with popularity (Spearman -0.15 and
    -0.49 training the branch alone, 300 steps), so this weighting does not by itself make it a popularity
    model."""
    labels, valid = step.labels(), (~step.invalid).float()
    negative = valid * (1.0 - labels)
    log_q = step.log_q.detach().float()
    is_negative = negative > 0
    shift = log_q.masked_fill(~is_negative, float("inf")).amin(1, keepdim=True)  # the rarest negative: weight 1
    shift = torch.where(torch.isfinite(shift), shift, torch.zeros_like(shift))
    w = torch.where(is_negative, torch.exp(-(log_q - shift)), torch.zeros_like(log_q))
    w = w * negative.sum(1, keepdim=True) / w.sum(1, keepdim=True).clamp_min(1e-12)
    return labels * valid + w
