"""Poolings of the behaviour sequence (user tower only), registered with their exact cost formula:
``POOLINGS[name](dims, max_len)`` builds one, ``POOLINGS[name].cost(length, dims)`` costs it over a full
history.

Every pooling maps history embeddings ``(B, L, E)`` with a validity mask ``(B, L)`` to ``(B, E)``.
Padding never contributes; an empty history pools to zeros.

- ``avg``: masked mean. ``sum``: masked sum.
- ``self_attention``: one attention head over the history (queries/keys of width ``dims.attn``,
  values = the embeddings), ``softmax(Q K^T / sqrt(attn))`` with padded keys masked, then masked mean.
- ``self_attentive`` (Lin et al., 2017): weights ``a = softmax(w2^T tanh(W1 h + b1))`` over the
  valid positions, output ``sum_i a_i h_i``.

Order-aware poolings (the ``towernas`` space; the four above are AutoTower's, and are order-blind):

- ``recency``: ``sum_t a_t h_t`` with ``a = softmax(-exp(theta) * age)`` over the valid positions, age 0
  for the most recent item; the decay ``exp(theta)`` is learned (one scalar), so the pooling moves
  between the plain mean (decay → 0) and the last item (decay → ∞).
- ``self_attention_pos`` / ``self_attentive_pos``: the attention poolings above with learned positional
  encodings P (max_len, E), right-aligned like the history (the last slot is the latest item): the
  attention scores are computed from ``h + P``, the values stay ``h``. Positions steer the weights; the
  output remains a weighted mean of item embeddings.

Example:
    >>> import torch
    >>> from towernas.space.dims import Dims
    >>> POOLINGS["self_attentive"](Dims(), 5)(torch.randn(2, 5, 64), torch.ones(2, 5, dtype=torch.bool)).shape
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


class Positions(nn.Module):
    """Learned positional encodings, right-aligned: ``x + P[-L:]`` (the last slot is the latest item)."""

    def __init__(self, max_len: int, dim: int) -> None:
        super().__init__()
        self.table = nn.Parameter(torch.randn(max_len, dim) * 0.05)  # (L_max, E)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, L, E) -> (B, L, E)
        return x + self.table[-x.shape[1]:]


class SelfAttentionPooling(nn.Module):
    """Single-head self-attention over the history, then masked mean (positional encodings optional)."""

    def __init__(self, dim: int, attn: int, max_len: int | None = None) -> None:
        super().__init__()
        self.attn = attn
        self.qk = nn.Linear(dim, 2 * attn)
        self.positions = Positions(max_len, dim) if max_len else None

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        keyed = self.positions(x) if self.positions is not None else x  # positions steer the scores only
        q, k = self.qk(keyed).chunk(2, dim=-1)  # (B, L, a) each
        scores = q @ k.transpose(1, 2) / math.sqrt(self.attn)  # (B, L, L)
        scores = scores.masked_fill(~mask.unsqueeze(1), float("-inf"))
        weights = torch.nan_to_num(scores.softmax(-1))  # (B, L, L); all-padding rows -> zeros
        # mean_i(sum_j w_ij x_j) == (mean_i w_ij) @ x: average the weights first (saves L*L*E MACs)
        return (masked_mean(weights, mask).unsqueeze(1) @ x).squeeze(1)  # (B, E)


class SelfAttentivePooling(nn.Module):
    """Structured self-attentive pooling with one attention hop (positional encodings optional)."""

    def __init__(self, dim: int, attn: int, max_len: int | None = None) -> None:
        super().__init__()
        self.w1 = nn.Linear(dim, attn)
        self.w2 = nn.Linear(attn, 1, bias=False)
        self.positions = Positions(max_len, dim) if max_len else None

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        keyed = self.positions(x) if self.positions is not None else x
        logits = self.w2(torch.tanh(self.w1(keyed))).squeeze(-1)  # (B, L)
        logits = logits.masked_fill(~mask, float("-inf"))
        weights = torch.nan_to_num(logits.softmax(-1))  # (B, L); empty history -> zeros
        return (weights.unsqueeze(1) @ x).squeeze(1)  # (B, E)


class RecencyPooling(nn.Module):
    """Recency-weighted mean with a learned decay: ``softmax(-exp(theta) * age)`` over valid positions."""

    def __init__(self, max_len: int, decay: float = 0.1) -> None:
        super().__init__()
        self.log_decay = nn.Parameter(torch.tensor(math.log(decay)))
        self.register_buffer("age", torch.arange(max_len - 1, -1, -1, dtype=torch.float32), persistent=False)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        logits = self.age[-x.shape[1]:] * -self.log_decay.exp()  # (L,): 0 for the latest slot, then falling
        logits = logits.masked_fill(~mask, float("-inf"))  # (B, L)
        weights = torch.nan_to_num(logits.softmax(-1))  # (B, L); empty history -> zeros
        return (weights.unsqueeze(1) @ x).squeeze(1)  # (B, E)


@dataclass(frozen=True)
class Pooling:
    """A history pooling: how to build it, and what it costs over a full history (registered together)."""

    build: Callable[[Dims, int], nn.Module]  # (dims, max_len) -> module mapping (B, L, E), (B, L) to (B, E)
    cost: Callable[[int, Dims], OpCost]  # (history length L, dims) -> exact cost of one forward

    def __call__(self, dims: Dims, max_len: int) -> nn.Module:
        return self.build(dims, max_len)


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


def positions_cost(length: int, dims: Dims) -> OpCost:
    """``Positions``: the (L, E) table, and the add x + P (L*E)."""
    return OpCost(length * dims.embed, 0, length * dims.embed)


def recency_cost(length: int, dims: Dims) -> OpCost:
    """``RecencyPooling``: theta (1 param); exp (1), neg (1), age * -decay (L), masked_fill, softmax,
    nan_to_num (L each); weights @ x (L*E MACs)."""
    return OpCost(1, length * dims.embed, 2 + 4 * length)


POOLINGS: Registry[Pooling] = Registry("pooling", key="arch.pooling")
POOLINGS.register("avg", Pooling(lambda dims, max_len: AvgPooling(),
                                 lambda length, dims: masked_mean_cost(length, dims.embed)))
POOLINGS.register("sum", Pooling(lambda dims, max_len: SumPooling(),  # x * m (L*E), sum (E)
                                 lambda length, dims: OpCost(0, 0, length * dims.embed + dims.embed)))
POOLINGS.register("self_attention", Pooling(lambda dims, max_len: SelfAttentionPooling(dims.embed, dims.attn),
                                            self_attention_cost))
POOLINGS.register("self_attentive", Pooling(lambda dims, max_len: SelfAttentivePooling(dims.embed, dims.attn),
                                            self_attentive_cost))
AUTOTOWER_POOLINGS: tuple[str, ...] = POOLINGS.names()  # the paper's four, order-blind
POOLINGS.register("recency", Pooling(lambda dims, max_len: RecencyPooling(max_len), recency_cost))
POOLINGS.register("self_attention_pos", Pooling(
    lambda dims, max_len: SelfAttentionPooling(dims.embed, dims.attn, max_len),
    lambda length, dims: positions_cost(length, dims) + self_attention_cost(length, dims)))
POOLINGS.register("self_attentive_pos", Pooling(
    lambda dims, max_len: SelfAttentivePooling(dims.embed, dims.attn, max_len),
    lambda length, dims: positions_cost(length, dims) + self_attentive_cost(length, dims)))
POOLING_NAMES: tuple[str, ...] = POOLINGS.names()
