"""The multi-layer perceptron every tower, block and ranker uses.

Example:
    >>> import torch
    >>> net = mlp(8, (16, 4))
    >>> net(torch.randn(2, 8)).shape, [type(m).__name__ for m in net]
    (torch.Size([2, 4]), ['Linear', 'ReLU', 'Linear'])
"""

from __future__ import annotations

from typing import Sequence

from torch import nn


def mlp(in_dim: int, layers: Sequence[int], activate_last: bool = False) -> nn.Sequential:
    """``Linear(in, l1) ReLU Linear(l1, l2) ReLU ... Linear(l_{n-1}, l_n)`` (+ ReLU if ``activate_last``).

    Args:
        in_dim: input width.
        layers: output width of each Linear; the last one is the output width.
        activate_last: also apply ReLU after the last Linear (a hidden layer rather than an output).
    """
    if not layers:
        raise ValueError("mlp: expected at least one layer width")
    modules: list[nn.Module] = []
    for i, width in enumerate(layers):
        modules.append(nn.Linear(in_dim, width))
        if i + 1 < len(layers) or activate_last:
            modules.append(nn.ReLU())
        in_dim = width
    return nn.Sequential(*modules)
