"""Multi-head self-attention over a set or sequence of tokens, optionally with padded positions masked.

For tokens x (B, n, D), h heads of width d (c = h * d):

    q, k, v = split(x W_qkv + b_qkv)                 W_qkv: D -> 3c, each (B, h, n, d)
    A = softmax(q k^T / sqrt(d))                     (B, h, n, n); masked keys get the dtype's minimum
    out = concat_heads(A v) W_o + b_o                W_o: c -> D, (B, n, D)

A finite fill (not -inf) keeps an all-padding row finite (uniform weights); callers pool such rows away.
Written with ops the complexity counter classifies, so any tower using it is costed exactly.

Example:
    >>> import torch
    >>> att = MultiHeadSelfAttention(dim=8, heads=2, head_dim=4)
    >>> att(torch.randn(3, 5, 8), mask=torch.ones(3, 5, dtype=torch.bool)).shape
    torch.Size([3, 5, 8])
"""

from __future__ import annotations

import math

import torch
from torch import nn


class MultiHeadSelfAttention(nn.Module):
    """See the module docstring.

    Args:
        dim: token width D (input and output).
        heads: number of heads h.
        head_dim: width d of each head (``dim // heads`` for a standard transformer layer).
    """

    def __init__(self, dim: int, heads: int, head_dim: int) -> None:
        super().__init__()
        self.heads, self.head_dim = heads, head_dim
        self.qkv = nn.Linear(dim, 3 * heads * head_dim)
        self.out = nn.Linear(heads * head_dim, dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, n, D), mask (B, n) bool (True = a real token) or None -> (B, n, D)."""
        b, n, _ = x.shape
        qkv = self.qkv(x).view(b, n, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]  # (B, h, n, d)
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.head_dim)  # (B, h, n, n)
        if mask is not None:
            scores = scores.masked_fill(~mask[:, None, None, :], torch.finfo(scores.dtype).min)
        mixed = scores.softmax(-1) @ v  # (B, h, n, d)
        return self.out(mixed.transpose(1, 2).reshape(b, n, self.heads * self.head_dim))
