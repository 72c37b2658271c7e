"""The multi-layer perceptron every tower, block and ranker uses.

Example:
    >>> import torch
    >>> net = mlp(8, (16, 4))
    >>> net(torch.randn(2, 8)).shape, [type(m).__name__ for m in net]
    (torch.Size([2, 4]), ['Linear', 'ReLU', 'Linear'])
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn


def mlp(in_dim: int, layers: Sequence[int], activate_last: bool = False, dropout: float = 0.0) -> nn.Sequential:
    """``Linear(in, l1) ReLU Linear(l1, l2) ReLU ... Linear(l_{n-1}, l_n)`` (+ ReLU if ``activate_last``).

    Args:
        in_dim: input width.
        layers: output width of each Linear; the last one is the output width.
        activate_last: also apply ReLU after the last Linear (a hidden layer rather than an output).
        dropout: probability of ``nn.Dropout`` after every ReLU (rankers; 0 adds no module, as towers use).
    """
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout={dropout}: expected a probability in [0, 1)")
    if not layers:
        raise ValueError("mlp: expected at least one layer width")
    modules: list[nn.Module] = []
    for i, width in enumerate(layers):
        modules.append(nn.Linear(in_dim, width))
        if i + 1 < len(layers) or activate_last:
            modules.append(nn.ReLU())
            if dropout > 0:
                modules.append(nn.Dropout(dropout))
        in_dim = width
    return nn.Sequential(*modules)
