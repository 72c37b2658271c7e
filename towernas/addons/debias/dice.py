"""DICE: disentangling interest and conformity with causal embedding (Zheng et al., WWW 2021), on any backbone.

The backbone's towers are the *interest* part; the add-on owns *conformity* embeddings per user and per
item (``dim`` wide). The training logit of (u, j) is interest + conformity = <u, v_j> / tau + <c_u, c_j>.
On top of the main loss, DICE's cause-specific pairwise terms use the popularity order of each
positive i and candidate j (train counts):

- j more popular than i (the user chose i *despite* j's popularity): interest must rank i above j, and
  conformity j above i;
- j less popular than i: conformity must rank i above j (popularity may explain the choice);

each a BPR term, together weighted by ``alpha``. ``beta`` weights a discrepancy term that pushes the two
causes apart: the squared correlation of the interest and conformity logits over the batch's candidates
(the paper penalises the embeddings' distance; towers and id embeddings differ in width, their scores do
not). Inference ranks by interest alone (the deconfounded score), so serving is the backbone's.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from towernas.addons.base import ADDONS, AddOn, check_range


@ADDONS.register("dice")
class DICE(AddOn):
    """Conformity embeddings added in training, cause-specific BPR terms, interest-only inference.

    Args:
        dim: width of the conformity embeddings.
        alpha: weight of the cause-specific BPR terms.
        beta: weight of the discrepancy (squared correlation of the interest and conformity logits).
    """

    name = "dice"
    needs_lists = True

    def __init__(self, dim: int = 16, alpha: float = 0.1, beta: float = 0.01) -> None:
        super().__init__()
        self.dim = int(check_range("addon.dice.dim", dim, 1, None, "a positive integer"))
        self.alpha = check_range("addon.dice.alpha", alpha, 0.0, None)
        self.beta = check_range("addon.dice.beta", beta, 0.0, None)

    def fit(self, stats) -> None:
        if not hasattr(self, "user_conformity"):
            self.user_conformity = nn.Embedding(stats.n_users, self.dim)
            self.item_conformity = nn.Embedding(stats.n_items, self.dim)
            nn.init.normal_(self.user_conformity.weight, std=0.01)
            nn.init.normal_(self.item_conformity.weight, std=0.01)
        self.register_buffer("counts", torch.as_tensor(stats.item_counts, dtype=torch.long), persistent=False)

    def adjust(self, logits, step):
        users = self.user_conformity(step.batch["user"])  # (B, d)
        conformity = torch.einsum("bd,bcd->bc", users, self.item_conformity(step.ids))  # (B, C)
        step.extras["dice"] = (logits, conformity)
        return logits + conformity

    def extra_loss(self, step):
        interest, conformity = step.extras["dice"]
        counts = self.counts.to(step.ids.device)
        pos_count = counts[step.positives][:, None]
        keep = (~step.invalid).scatter(1, step.target[:, None], False) & (step.labels() == 0)
        keep &= step.has_positive[:, None]  # pairs of a positive and a negative of the same row
        more = keep & (counts[step.ids] > pos_count)  # j more popular than the positive
        less = keep & (counts[step.ids] < pos_count)

        def bpr(better: torch.Tensor, worse: torch.Tensor, where: torch.Tensor) -> torch.Tensor:
            return (F.softplus(-(better - worse)) * where).sum() / where.sum().clamp_min(1)

        pick = lambda x: x.gather(1, step.target[:, None])  # noqa: E731  (B, 1) the positive's column
        cause = (bpr(pick(interest), interest, more) + bpr(conformity, pick(conformity), more)
                 + bpr(pick(conformity), conformity, less))
        a, b = interest[keep] - interest[keep].mean(), conformity[keep] - conformity[keep].mean()
        correlation = (a * b).sum() / (a.norm() * b.norm()).clamp_min(1e-8)
        return self.alpha * cause + self.beta * correlation ** 2
