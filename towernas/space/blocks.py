"""The choice blocks of a tower, all with one factory signature: ``OPS[name](n_inputs, dims)``.

A block at position k of a tower sees the F aligned input fields plus the outputs of blocks 1..k-1,
stacked as tokens ``(B, n_inputs, D)``, and returns one vector ``(B, D)`` (D = ``dims.block``):

- ``MLP-w``: ``align(ReLU(W [x_1; ...; x_n] + b))`` — concatenation, one hidden layer of width w,
  then a linear map back to D (identity when w == D).
- ``EW-sum / EW-avg / EW-ip / EW-max / EW-min``: element-wise reduction over the n inputs
  (sum, mean, product, max, min). No parameters.
- ``SA-h``: multi-head self-attention over the n tokens (h heads of width ``dims.head``), output
  projection to D, mean over tokens.
- ``skip`` (only when depth is searchable, never at position 1): the position repeats the previous
  block's output at zero cost of its own. The repeated output still occupies that position's token,
  so later blocks keep a fixed number of inputs per position (what weight sharing and the additive
  cost tables rely on).

Example:
    >>> import torch
    >>> from towernas.space.dims import Dims
    >>> OPS["SA-2"](5, Dims())(torch.randn(3, 5, 32)).shape
    torch.Size([3, 32])
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from towernas.space.dims import Dims

MLP_WIDTHS = (16, 32, 64, 128, 256, 512, 1024)
EW_KINDS = ("sum", "avg", "ip", "max", "min")
SA_HEADS = (1, 2, 3, 4)
SKIP = "skip"


class MLPBlock(nn.Module):
    """Concatenate the inputs, one hidden ReLU layer of ``width``, align back to ``dim``."""

    def __init__(self, n_inputs: int, width: int, dim: int) -> None:
        super().__init__()
        self.hidden = nn.Linear(n_inputs * dim, width)
        self.align = nn.Identity() if width == dim else nn.Linear(width, dim)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:  # (B, n, D) -> (B, D)
        return self.align(F.relu(self.hidden(tokens.flatten(1))))


class ElementWiseBlock(nn.Module):
    """Reduce the n input tokens element-wise: sum, avg, ip (product), max or min."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        if kind not in EW_KINDS:
            raise ValueError(f"unknown element-wise kind {kind!r}; expected one of {EW_KINDS}")
        self.kind = kind

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:  # (B, n, D) -> (B, D)
        if self.kind == "sum":
            return tokens.sum(1)
        if self.kind == "avg":
            return tokens.mean(1)
        if self.kind == "ip":
            return tokens.prod(1)
        if self.kind == "max":
            return tokens.amax(1)
        return tokens.amin(1)

    def extra_repr(self) -> str:
        return self.kind


class SelfAttentionBlock(nn.Module):
    """Multi-head self-attention over the input tokens, projected to ``dim`` and mean-pooled.

    ``softmax(Q K^T / sqrt(head)) V`` per head, with Q, K, V = x W_{q,k,v} of width heads * head.
    """

    def __init__(self, heads: int, head_dim: int, dim: int) -> None:
        super().__init__()
        self.heads, self.head_dim = heads, head_dim
        self.qkv = nn.Linear(dim, 3 * heads * head_dim)
        self.out = nn.Linear(heads * head_dim, dim)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:  # (B, n, D) -> (B, D)
        b, n, _ = tokens.shape
        qkv = self.qkv(tokens).view(b, n, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]  # (B, h, n, d_h)
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.head_dim)  # (B, h, n, n)
        mixed = scores.softmax(-1) @ v  # (B, h, n, d_h)
        mixed = mixed.transpose(1, 2).reshape(b, n, self.heads * self.head_dim)
        return self.out(mixed).mean(1)


class SkipBlock(nn.Module):
    """An empty position: passes on the previous block's output (the last token)."""

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:  # (B, n, D) -> (B, D)
        return tokens[:, -1]


BlockFactory = Callable[[int, Dims], nn.Module]


def _mlp(width: int) -> BlockFactory:
    return lambda n_inputs, dims: MLPBlock(n_inputs, width, dims.block)


def _ew(kind: str) -> BlockFactory:
    return lambda n_inputs, dims: ElementWiseBlock(kind)


def _sa(heads: int) -> BlockFactory:
    return lambda n_inputs, dims: SelfAttentionBlock(heads, dims.head, dims.block)


OPS: dict[str, BlockFactory] = {
    **{f"MLP-{w}": _mlp(w) for w in MLP_WIDTHS},
    **{f"EW-{k}": _ew(k) for k in EW_KINDS},
    **{f"SA-{h}": _sa(h) for h in SA_HEADS},
}
BLOCK_NAMES: tuple[str, ...] = tuple(OPS)  # the 16 searchable blocks
OPS[SKIP] = lambda n_inputs, dims: SkipBlock()
