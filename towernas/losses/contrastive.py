"""InfoNCE between two views (van den Oord et al. 2018; the NT-Xent form of SimCLR / CL4SRec).

For B pairs of unit vectors (a_i, b_i): logits_ij = <a_i, b_j> / tau, and the loss is the mean of the
cross-entropies a -> b and b -> a with targets on the diagonal, so every other row is a negative.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def info_nce(a: torch.Tensor, b: torch.Tensor, temperature: float = 0.2) -> torch.Tensor:
    """Symmetric InfoNCE of (B, D) views ``a`` and ``b`` (row i of each is the same example).

    Example:
        >>> v = F.normalize(torch.eye(4), dim=-1)
        >>> round(float(info_nce(v, v, temperature=0.1)), 4)  # identical, orthogonal views: near 0
        0.0001
    """
    logits = a @ b.T / temperature
    target = torch.arange(len(a), device=a.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))
