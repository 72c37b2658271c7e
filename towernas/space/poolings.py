"""Poolings of the behaviour sequence (user tower only), registered with their exact cost formula:
``POOLINGS[name](dims)`` builds one, ``POOLINGS[name].cost(length, dims)`` costs it over a full history.

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
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from towernas.complexity.formulas import OpCost, linear
from towernas.complexity.formulas import masked_mean as masked_mean_cost
from towernas.nn.pooling import masked_mean, masked_sum
from towernas.runs.registry import Registry
from towernas.space.dims import Dims


class AvgPooling(nn.Module):
    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return masked_mean(x, mask)


class SumPooling(nn.Module):
    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return masked_sum(x, mask)


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


@dataclass(frozen=True)
class Pooling:
    """A history pooling: how to build it, and what it costs over a full history (registered together)."""

    build: Callable[[Dims], nn.Module]  # dims -> module mapping (B, L, E), mask (B, L) to (B, E)
    cost: Callable[[int, Dims], OpCost]  # (history length L, dims) -> exact cost of one forward

    def __call__(self, dims: Dims) -> nn.Module:
        return self.build(dims)


def self_attention_cost(length: int, dims: Dims) -> OpCost:
    """qk Linear(E, 2A) on L tokens; Q K^T (L*L*A); div, masked_fill, softmax, nan_to_num (L*L each); the
    masked mean of the (L, L) weight rows; then mean weights @ x (L*E MACs)."""
    e, a, l_ = dims.embed, dims.attn, length
    attention = OpCost(0, l_ * l_ * a + l_ * e, 4 * l_ * l_)
    return linear(l_, e, 2 * a) + attention + masked_mean_cost(l_, l_)


def self_attentive_cost(length: int, dims: Dims) -> OpCost:
    """w1 Linear(E, A) on L tokens; tanh (L*A); w2 Linear(A, 1, no bias) on L tokens; masked_fill, softmax,
    nan_to_num (L each); weights @ x (L*E MACs)."""
    e, a, l_ = dims.embed, dims.attn, length
    scores = linear(l_, e, a) + OpCost(0, 0, l_ * a) + linear(l_, a, 1, bias=False)
    return scores + OpCost(0, l_ * e, 3 * l_)


POOLINGS: Registry[Pooling] = Registry("pooling", key="arch.pooling")
POOLINGS.register("avg", Pooling(lambda dims: AvgPooling(), lambda length, dims: masked_mean_cost(length, dims.embed)))
POOLINGS.register("sum", Pooling(lambda dims: SumPooling(),  # x * m (L*E), sum (E)
                                 lambda length, dims: OpCost(0, 0, length * dims.embed + dims.embed)))
POOLINGS.register("self_attention", Pooling(lambda dims: SelfAttentionPooling(dims.embed, dims.attn),
                                            self_attention_cost))
POOLINGS.register("self_attentive", Pooling(lambda dims: SelfAttentivePooling(dims.embed, dims.attn),
                                            self_attentive_cost))
POOLING_NAMES: tuple[str, ...] = POOLINGS.names()
