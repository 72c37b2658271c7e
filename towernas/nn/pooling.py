"""Reductions over a padded sequence (B, L, W) with a validity mask (B, L): padding never contributes.

Example:
    >>> import torch
    >>> x, mask = torch.tensor([[[1.0], [3.0], [9.0]]]), torch.tensor([[True, True, False]])
    >>> masked_mean(x, mask).tolist(), masked_sum(x, mask).tolist()
    ([[2.0]], [[4.0]])
"""

from __future__ import annotations

import torch


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``x`` (B, L, W) over the valid positions of ``mask`` (B, L): (B, W); zeros if none valid."""
    m = mask.unsqueeze(-1).to(x.dtype)  # (B, L, 1)
    return (x * m).sum(1) / m.sum(1).clamp_min(1.0)


def masked_sum(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Sum of ``x`` (B, L, W) over the valid positions of ``mask`` (B, L): (B, W)."""
    return (x * mask.unsqueeze(-1).to(x.dtype)).sum(1)
