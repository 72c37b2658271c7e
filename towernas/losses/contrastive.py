"""InfoNCE between two views in its NT-Xent form (Chen et al., SimCLR 2020; as CL4SRec uses it).

For B pairs of views (a_i, b_i), stack z = [a_1..a_B, b_1..b_B] (2B rows) and let s_kl = <z_k, z_l> / tau.
Each of the 2B rows is classified against the other 2B - 1 (itself excluded): its positive is its pair's
other view, its 2B - 2 negatives are both views of every other example. The loss is the mean over the 2B
rows of -log softmax_l(s_kl)[pair(k)].
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def info_nce(a: torch.Tensor, b: torch.Tensor, temperature: float = 0.2) -> torch.Tensor:
    """NT-Xent of (B, D) views ``a`` and ``b`` (row i of each is the same example).

    Example:
        >>> v = F.normalize(torch.eye(4), dim=-1)
        >>> round(float(info_nce(v, v, temperature=0.1)), 4)  # identical, orthogonal views: near 0
        0.0003
    """
    n = len(a)
    z = torch.cat([a, b])  # (2B, D)
    logits = (z @ z.T / temperature).masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(z.device)
    return F.cross_entropy(logits, target)
