"""Closed-form cost primitives (``OpCost``, Linear, masked mean) and the fixed parts of a tower.

Every op of the search space registers its own formula next to its factory (``towernas.space.ops``,
``towernas.space.poolings``) built from these primitives; each formula mirrors its module line by line
(the comments name the torch call being counted), and ``tests/complexity`` checks them against two
mechanical counters on real modules. Notation: E = ``dims.embed``, D = ``dims.block``,
O = ``dims.out``, L = history length.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:  # only for annotations: the space imports this module to register its op costs
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


@dataclass(frozen=True)
class TowerCost:
    """Params and FLOPs of the user and item towers (embedding tables excluded)."""

    user_params: int
    user_flops: int
    item_params: int
    item_flops: int

    @property
    def params(self) -> int:
        return self.user_params + self.item_params

    @property
    def flops(self) -> int:
        return self.user_flops + self.item_flops

    def to_dict(self) -> dict[str, dict[str, int]]:
        """The ``complexity`` entry of the Arch JSON."""
        return {"user": {"params": self.user_params, "flops": self.user_flops},
                "item": {"params": self.item_params, "flops": self.item_flops}}

    def __str__(self) -> str:
        return (f"user {self.user_params} params / {self.user_flops} FLOPs, item {self.item_params} params / "
                f"{self.item_flops} FLOPs, total {self.params} params / {self.flops} FLOPs")


def linear(n_tokens: int, d_in: int, d_out: int, bias: bool = True) -> OpCost:
    """``nn.Linear(d_in, d_out)`` applied to ``n_tokens`` vectors (the bias add is part of addmm)."""
    return OpCost(d_in * d_out + (d_out if bias else 0), n_tokens * d_in * d_out, 0)


def masked_mean(length: int, width: int) -> OpCost:
    """``towernas.nn.pooling.masked_mean`` on (1, L, W): x*m (L*W), sum (W), m.sum (1), clamp_min (1), div (W)."""
    return OpCost(0, 0, length * width + 2 * width + 2)


def layer_norm(n_tokens: int, width: int) -> OpCost:
    """``towernas.nn.norm.LayerNorm(width)`` on ``n_tokens`` vectors: weight and bias (2W params); per token
    mean (1), x - mean (W), square (W), mean (1), + eps (1), rsqrt (1), scale (W), * weight (W), + bias (W)."""
    return OpCost(2 * width, 0, n_tokens * (5 * width + 4))


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
