"""The choice blocks of a tower, registered by name with their factory AND their exact cost formula.

``OPS[name]`` is an ``Op``: ``OPS[name](n_inputs, dims)`` builds the module, ``OPS[name].cost(n_inputs,
dims)`` gives its exact params / multiply-accumulates / element-wise outputs (``towernas.complexity``
defines the counting rule; ``tests/complexity`` checks every formula against two mechanical counters).
Adding an op is one ``OPS.register`` call here.

A block at position k of a tower sees the F aligned input fields plus the outputs of blocks 1..k-1,
stacked as tokens ``(B, n_inputs, D)``, and returns one vector ``(B, D)`` (D = ``dims.block``):

- ``MLP-w``: ``align(ReLU(W [x_1; ...; x_n] + b))`` — concatenation, one hidden layer of width w,
  then a linear map back to D (none when w == D).
- ``EW-sum / EW-avg / EW-ip / EW-max / EW-min``: element-wise reduction over the n inputs
  (sum, mean, product, max, min). No parameters.
- ``SA-h``: multi-head self-attention over the n tokens (h heads of width ``dims.head``), output
  projection to D, mean over tokens.
- ``skip`` (only when depth is searchable, never at position 1): the position repeats the previous
  block's output at zero cost of its own. The repeated output still occupies that position's token,
  so later blocks keep a fixed number of inputs per position (what weight sharing and the additive
  cost tables rely on).

Notation of the formulas: D = ``dims.block``, H = ``dims.head``, n = tokens the block sees.

Example:
    >>> import torch
    >>> from towernas.space.dims import Dims
    >>> OPS["SA-2"](5, Dims())(torch.randn(3, 5, 32)).shape
    torch.Size([3, 32])
    >>> OPS["EW-ip"].cost(5, Dims())
    OpCost(params=0, macs=0, elementwise=32)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from towernas.complexity.formulas import ZERO, OpCost, linear
from towernas.nn.attention import MultiHeadSelfAttention
from towernas.nn.mlp import mlp
from towernas.runs.registry import Registry
from towernas.space.dims import Dims

MLP_WIDTHS = (16, 32, 64, 128, 256, 512, 1024)
EW_KINDS = ("sum", "avg", "ip", "max", "min")
SA_HEADS = (1, 2, 3, 4)
SKIP = "skip"


@dataclass(frozen=True)
class Op:
    """A choice block: how to build it for ``n_inputs`` tokens, and what that costs (registered together)."""

    build: Callable[[int, Dims], nn.Module]  # (n_inputs, dims) -> module mapping (B, n, D) to (B, D)
    cost: Callable[[int, Dims], OpCost]  # (n_inputs, dims) -> exact cost of one forward (batch 1)

    def __call__(self, n_inputs: int, dims: Dims) -> nn.Module:
        return self.build(n_inputs, dims)


class MLPBlock(nn.Module):
    """Concatenate the inputs, one hidden ReLU layer of ``width``, align back to ``dim``."""

    def __init__(self, n_inputs: int, width: int, dim: int) -> None:
        super().__init__()
        # Linear(n*D, w) ReLU, then Linear(w, D) back to the block width unless w == D already
        self.mlp = mlp(n_inputs * dim, (width,) if width == dim else (width, dim), activate_last=width == dim)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:  # (B, n, D) -> (B, D)
        return self.mlp(tokens.flatten(1))


def mlp_cost(n: int, width: int, dims: Dims) -> OpCost:
    """``MLPBlock``: Linear(n*D, w), ReLU (w), then Linear(w, D) unless w == D."""
    d = dims.block
    cost = linear(1, n * d, width) + OpCost(0, 0, width)
    return cost + linear(1, width, d) if width != d else cost


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


def ew_cost(dims: Dims) -> OpCost:
    """``ElementWiseBlock``: one reduction over the n tokens; counted per output element (D)."""
    return OpCost(0, 0, dims.block)


class SelfAttentionBlock(nn.Module):
    """Multi-head self-attention over the input tokens (``towernas.nn.attention``), mean-pooled."""

    def __init__(self, heads: int, head_dim: int, dim: int) -> None:
        super().__init__()
        self.attention = MultiHeadSelfAttention(dim, heads, head_dim)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:  # (B, n, D) -> (B, D)
        return self.attention(tokens).mean(1)


def sa_cost(n: int, heads: int, dims: Dims) -> OpCost:
    """``SelfAttentionBlock`` with c = heads * H:
    qkv Linear(D, 3c) on n tokens; Q K^T and A V, each heads*n*n*H MACs; the ``/ sqrt(H)`` and the
    softmax, each heads*n*n outputs; out Linear(c, D) on n tokens; mean over tokens (D)."""
    d, c = dims.block, heads * dims.head
    attention = OpCost(0, 2 * n * n * c, 2 * heads * n * n)
    return linear(n, d, 3 * c) + attention + linear(n, c, d) + OpCost(0, 0, d)


class SkipBlock(nn.Module):
    """An empty position: passes on the previous block's output (the last token)."""

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:  # (B, n, D) -> (B, D)
        return tokens[:, -1]


OPS: Registry[Op] = Registry("block", key="op")
for _w in MLP_WIDTHS:
    OPS.register(f"MLP-{_w}", Op(lambda n, dims, w=_w: MLPBlock(n, w, dims.block),
                                 lambda n, dims, w=_w: mlp_cost(n, w, dims)))
for _k in EW_KINDS:
    OPS.register(f"EW-{_k}", Op(lambda n, dims, k=_k: ElementWiseBlock(k), lambda n, dims: ew_cost(dims)))
for _h in SA_HEADS:
    OPS.register(f"SA-{_h}", Op(lambda n, dims, h=_h: SelfAttentionBlock(h, dims.head, dims.block),
                                lambda n, dims, h=_h: sa_cost(n, h, dims)))
BLOCK_NAMES: tuple[str, ...] = OPS.names()  # the 16 searchable blocks
OPS.register(SKIP, Op(lambda n, dims: SkipBlock(), lambda n, dims: ZERO))  # selecting a token is free
