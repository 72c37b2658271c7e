"""Poolings of the behaviour sequence (user tower only): ``POOLINGS[name](dims)``.

Every pooling maps history embeddings ``(B, L, E)`` with a validity mask ``(B, L)`` to ``(B, E)``.
Padding never contributes; an empty history pools to zeros.

- ``avg``: masked mean. ``sum``: masked sum.
- ``self_attention``: one attention head over the history (queries/keys of width ``dims.attn``,
  values = the embeddings), ``softmax(Q K^T / sqrt(attn))`` with padded keys masked, then masked mean.
- ``self_attentive`` (Lin et al., 2017): weights ``a = softmax(w2^T tanh(W1 h + b1))`` over the
  valid positions, output ``sum_i a_i h_i``.

Example:
    >>> import torch
    >>> from towernas.space.dims import Dims
    >>> POOLINGS["self_attentive"](Dims())(torch.randn(2, 5, 64), torch.ones(2, 5, dtype=torch.bool)).shape
    torch.Size([2, 64])
"""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn

from towernas.space.dims import Dims


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``x`` (B, L, W) over the valid positions of ``mask`` (B, L): (B, W); zeros if none valid."""
    m = mask.unsqueeze(-1).to(x.dtype)  # (B, L, 1)
    return (x * m).sum(1) / m.sum(1).clamp_min(1.0)


class AvgPooling(nn.Module):
    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return masked_mean(x, mask)


class SumPooling(nn.Module):
    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return (x * mask.unsqueeze(-1).to(x.dtype)).sum(1)


class SelfAttentionPooling(nn.Module):
    """Single-head self-attention over the history, then masked mean."""

    def __init__(self, dim: int, attn: int) -> None:
        super().__init__()
        self.attn = attn
        self.qk = nn.Linear(dim, 2 * attn)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        q, k = self.qk(x).chunk(2, dim=-1)  # (B, L, a) each
        scores = q @ k.transpose(1, 2) / math.sqrt(self.attn)  # (B, L, L)
        scores = scores.masked_fill(~mask.unsqueeze(1), float("-inf"))
        weights = torch.nan_to_num(scores.softmax(-1))  # (B, L, L); all-padding rows -> zeros
        # mean_i(sum_j w_ij x_j) == (mean_i w_ij) @ x: average the weights first (saves L*L*E MACs)
        return (masked_mean(weights, mask).unsqueeze(1) @ x).squeeze(1)  # (B, E)


class SelfAttentivePooling(nn.Module):
    """Structured self-attentive pooling with one attention hop."""

    def __init__(self, dim: int, attn: int) -> None:
        super().__init__()
        self.w1 = nn.Linear(dim, attn)
        self.w2 = nn.Linear(attn, 1, bias=False)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        logits = self.w2(torch.tanh(self.w1(x))).squeeze(-1)  # (B, L)
        logits = logits.masked_fill(~mask, float("-inf"))
        weights = torch.nan_to_num(logits.softmax(-1))  # (B, L); empty history -> zeros
        return (weights.unsqueeze(1) @ x).squeeze(1)  # (B, E)


POOLINGS: dict[str, Callable[[Dims], nn.Module]] = {
    "avg": lambda dims: AvgPooling(),
    "sum": lambda dims: SumPooling(),
    "self_attention": lambda dims: SelfAttentionPooling(dims.embed, dims.attn),
    "self_attentive": lambda dims: SelfAttentivePooling(dims.embed, dims.attn),
}
POOLING_NAMES: tuple[str, ...] = tuple(POOLINGS)
