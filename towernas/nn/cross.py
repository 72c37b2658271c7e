"""Cross networks over a flat input vector (B, D): DCN's ``CrossNet`` and DCN-V2's ``CrossNetV2``.

A ranker feeds them the concatenated field embeddings (``x.flatten(-2)``) and usually runs an MLP beside
(parallel) or after (stacked) them. Each layer raises the polynomial degree of the crossing by one and
keeps a residual, so ``n_layers`` layers cross up to ``n_layers + 1`` features.
"""

from __future__ import annotations

import torch
from torch import nn


class CrossNet(nn.Module):
    """DCN's cross network (Wang et al. 2017), (..., D) -> (..., D).

    With x_0 the input and vector weights w_l, b_l (D,) per layer:

        x_{l+1} = x_0 * (w_l · x_l) + b_l + x_l        l = 0 .. n_layers - 1

    ``w_l · x_l`` is one scalar per example scaling x_0, so a layer costs 2D parameters and ~4D FLOPs.

    Args:
        dim: D, the input (and output) width.
        n_layers: number of cross layers.

    Example:
        >>> CrossNet(dim=6, n_layers=3)(torch.randn(2, 6)).shape
        torch.Size([2, 6])
    """

    def __init__(self, dim: int, n_layers: int) -> None:
        super().__init__()
        # a Linear(D, 1) rather than a (D,) vector: x @ w would dispatch to aten.mv, which the counter cannot cost
        self.weights = nn.ModuleList(nn.Linear(dim, 1, bias=False) for _ in range(n_layers))
        self.biases = nn.Parameter(torch.zeros(n_layers, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x0 = x  # (B, D)
        for w, b in zip(self.weights, self.biases):
            x = x0 * w(x) + b + x  # (B, D) * (B, 1)
        return x


class CrossNetV2(nn.Module):
    """DCN-V2's cross network (Wang et al. 2021), (..., D) -> (..., D).

    With x_0 the input and a full-rank matrix W_l (D, D) and bias b_l (D,) per layer:

        x_{l+1} = x_0 ⊙ (W_l x_l + b_l) + x_l          l = 0 .. n_layers - 1

    or, with ``rank`` r, the low-rank form W_l = U_l V_l^T (U_l, V_l: (D, r)), computed as U_l (V_l^T x_l):
    2Dr + D parameters a layer instead of D^2 + D.

    Args:
        dim: D, the input (and output) width.
        n_layers: number of cross layers.
        rank: None for full-rank W_l, or r for the low-rank factorisation.

    Example:
        >>> net = CrossNetV2(dim=6, n_layers=2, rank=2)
        >>> net(torch.randn(2, 6)).shape, sum(p.numel() for p in net.parameters())  # 2 * (2*6*2 + 6)
        (torch.Size([2, 6]), 60)
    """

    def __init__(self, dim: int, n_layers: int, rank: int | None = None) -> None:
        super().__init__()
        if rank is None:
            self.layers = nn.ModuleList(nn.Linear(dim, dim) for _ in range(n_layers))
        else:  # [0] is V^T (D -> r), [1] is U (r -> D) with the bias b_l
            self.layers = nn.ModuleList(nn.Sequential(nn.Linear(dim, rank, bias=False), nn.Linear(rank, dim))
                                        for _ in range(n_layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x0 = x  # (B, D)
        for layer in self.layers:
            x = x0 * layer(x) + x  # (B, D)
        return x
