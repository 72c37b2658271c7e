"""Squeeze-and-excitation over field embeddings (Hu et al. 2018; on fields as in FiBiNET, Huang et al. 2019).

For F fields x (B, F, E):

    z = mean_e x[:, f, e]                          squeeze, (B, F)
    a = sigmoid(W2 relu(W1 z))                     excitation, W1: F -> max(1, F // r), W2: back to F
    x'[:, f, :] = a[:, f] * x[:, f, :]             reweight each field

Example:
    >>> import torch
    >>> SqueezeExcitation(n_fields=4)(torch.randn(2, 4, 8)).shape
    torch.Size([2, 4, 8])
"""

from __future__ import annotations

import torch
from torch import nn


class SqueezeExcitation(nn.Module):
    """Field reweighting (B, F, E) -> (B, F, E); see the module docstring.

    Args:
        n_fields: F. reduction: r, the squeeze ratio of the hidden layer.
    """

    def __init__(self, n_fields: int, reduction: int = 2) -> None:
        super().__init__()
        hidden = max(1, n_fields // reduction)
        # no biases, as in FiBiNET: with a 2-unit hidden layer a negative initial bias can leave every
        # unit dead for all inputs (squeezed embeddings are ~0 at init), freezing the excitation
        self.excite = nn.Sequential(nn.Linear(n_fields, hidden, bias=False), nn.ReLU(),
                                    nn.Linear(hidden, n_fields, bias=False), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weights = self.excite(x.mean(-1))  # (B, F)
        return x * weights.unsqueeze(-1)  # (B, F, E)
