"""Closed-form params / MACs / element-wise counts of every op of the search space.

Each function mirrors one module of ``towernas.space`` / ``towernas.towers`` line by line (the
comments name the torch call being counted); ``tests/test_complexity.py`` checks them against two
mechanical counters on real modules. Notation: E = ``dims.embed``, D = ``dims.block``,
O = ``dims.out``, H = ``dims.head``, A = ``dims.attn``, L = history length, n = tokens a block sees.
"""

from __future__ import annotations

from typing import NamedTuple

from towernas.space.blocks import EW_KINDS, MLP_WIDTHS, SA_HEADS, SKIP
from towernas.space.dims import Dims


class OpCost(NamedTuple):
    """Cost of one op: trainable parameters, multiply-accumulates, element-wise/reduction outputs."""

    params: int
    macs: int
    elementwise: int

    @property
    def flops(self) -> int:
        return self.macs + self.elementwise

    def __add__(self, other: "OpCost") -> "OpCost":  # type: ignore[override]
        return OpCost(self.params + other.params, self.macs + other.macs, self.elementwise + other.elementwise)


ZERO = OpCost(0, 0, 0)


def linear(n_tokens: int, d_in: int, d_out: int, bias: bool = True) -> OpCost:
    """``nn.Linear(d_in, d_out)`` applied to ``n_tokens`` vectors (the bias add is part of addmm)."""
    return OpCost(d_in * d_out + (d_out if bias else 0), n_tokens * d_in * d_out, 0)


def masked_mean(length: int, width: int) -> OpCost:
    """``pooling.masked_mean`` on (1, L, W): x*m (L*W), sum (W), m.sum (1), clamp_min (1), div (W)."""
    return OpCost(0, 0, length * width + 2 * width + 2)


def mlp_block(n: int, width: int, dims: Dims) -> OpCost:
    """``MLPBlock``: Linear(n*D, w), ReLU (w), then Linear(w, D) unless w == D."""
    d = dims.block
    cost = linear(1, n * d, width) + OpCost(0, 0, width)
    return cost + linear(1, width, d) if width != d else cost


def ew_block(dims: Dims) -> OpCost:
    """``ElementWiseBlock``: one reduction over the n tokens; counted per output element (D)."""
    return OpCost(0, 0, dims.block)


def sa_block(n: int, heads: int, dims: Dims) -> OpCost:
    """``SelfAttentionBlock`` with c = heads * H:
    qkv Linear(D, 3c) on n tokens; Q K^T and A V, each heads*n*n*H MACs; the ``/ sqrt(H)`` and the
    softmax, each heads*n*n outputs; out Linear(c, D) on n tokens; mean over tokens (D)."""
    d, c = dims.block, heads * dims.head
    attention = OpCost(0, 2 * n * n * c, 2 * heads * n * n)
    return linear(n, d, 3 * c) + attention + linear(n, c, d) + OpCost(0, 0, d)


def block(name: str, n: int, dims: Dims) -> OpCost:
    """Cost of ``OPS[name](n, dims)`` on n input tokens (``skip`` only selects a token: free)."""
    kind, _, arg = name.partition("-")
    if name == SKIP:
        return ZERO
    if kind == "MLP" and int(arg) in MLP_WIDTHS:
        return mlp_block(n, int(arg), dims)
    if kind == "EW" and arg in EW_KINDS:
        return ew_block(dims)
    if kind == "SA" and int(arg) in SA_HEADS:
        return sa_block(n, int(arg), dims)
    raise KeyError(f"no cost formula for block {name!r}")


def pooling(name: str, length: int, dims: Dims) -> OpCost:
    """Cost of ``POOLINGS[name](dims)`` over a full history of ``length`` items (mask all valid)."""
    e, a, l_ = dims.embed, dims.attn, length
    if name == "avg":
        return masked_mean(l_, e)
    if name == "sum":  # x * m (L*E), sum (E)
        return OpCost(0, 0, l_ * e + e)
    if name == "self_attention":
        # qk Linear(E, 2A) on L tokens; Q K^T (L*L*A); div, masked_fill, softmax, nan_to_num
        # (L*L each); the masked mean of the (L, L) weight rows; then mean weights @ x (L*E MACs).
        attention = OpCost(0, l_ * l_ * a + l_ * e, 4 * l_ * l_)
        return linear(l_, e, 2 * a) + attention + masked_mean(l_, l_)
    if name == "self_attentive":
        # w1 Linear(E, A) on L tokens; tanh (L*A); w2 Linear(A, 1, no bias) on L tokens;
        # masked_fill, softmax, nan_to_num (L each); weights @ x (L*E MACs).
        scores = linear(l_, e, a) + OpCost(0, 0, l_ * a) + linear(l_, a, 1, bias=False)
        return scores + OpCost(0, l_ * e, 3 * l_)
    raise KeyError(f"no cost formula for pooling {name!r}")


def align(n_inputs: int, dims: Dims) -> OpCost:
    """``make_align``: identity when E == D, else one Linear(E, D) per input token."""
    if dims.embed == dims.block:
        return ZERO
    one = linear(1, dims.embed, dims.block)
    return OpCost(n_inputs * one.params, n_inputs * one.macs, 0)


def head(dims: Dims) -> OpCost:
    """Global shortcut (mean of the aligned inputs: D; add to the last output: D), projection
    Linear(D, O), and ``F.normalize``: norm (1), clamp_min (1), div (O)."""
    return linear(1, dims.block, dims.out) + OpCost(0, 0, 2 * dims.block + dims.out + 2)
