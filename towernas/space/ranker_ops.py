"""The blocks of a ranker architecture: the tower's blocks plus the feature interactions of the CTR literature.

A ranker block sees what a tower block sees (``towernas.space.ops``): the n tokens ``(B, n, D)`` of one (query,
candidate) pair, its aligned fields and the outputs of the earlier blocks, and returns one vector ``(B, D)``. So
every tower block is a ranker block (``MLP-w``, ``EW-*``, ``SA-h``: self-attention over fields, AutoInt's
interaction), and ``RANKER_OPS`` adds the interactions the hand-built rankers are made of, each with its exact cost
formula next to its factory (``tests/complexity/test_ranker_ops.py`` checks them against two mechanical counters):

- ``FM``: bi-interaction pooling (NFM, He & Chua 2017), ``0.5 [(sum_t x_t)^2 - sum_t x_t^2]``: the vector whose
  elements sum to the factorization machine's pairwise term.
- ``DP``: the inner products of every pair of tokens (DLRM's interaction, PNN's inner product), the n(n-1)/2
  above the diagonal, mapped to D by one Linear.
- ``CROSS-k``: DCN's cross network (``towernas.nn.cross.CrossNet``) of k layers over the concatenated tokens
  (n D), mapped to D by one Linear.

Notation of the formulas: D = ``dims.block``, n = tokens the block sees.

Example:
    >>> import torch
    >>> from towernas.space.dims import Dims
    >>> RANKER_OPS["DP"](4, Dims(block=8))(torch.randn(3, 4, 8)).shape
    torch.Size([3, 8])
    >>> RANKER_OPS["FM"].cost(4, Dims(block=8))
    OpCost(params=0, macs=0, elementwise=72)
"""

from __future__ import annotations

import torch
from torch import nn

from towernas.complexity.formulas import OpCost, linear
from towernas.nn.cross import CrossNet
from towernas.runs.registry import Registry
from towernas.space.dims import Dims
from towernas.space.ops import BLOCK_NAMES, OPS, SKIP, Op

CROSS_LAYERS = (1, 2, 3)


class FMBlock(nn.Module):
    """Bi-interaction pooling over the n tokens: (B, n, D) -> (B, D)."""

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        total = tokens.sum(1)
        return 0.5 * (total * total - (tokens * tokens).sum(1))


def fm_cost(n: int, dims: Dims) -> OpCost:
    """``FMBlock``: sum over tokens (D), its square (D), the tokens' squares (n D) and their sum (D), the
    difference (D), the half (D)."""
    d = dims.block
    return OpCost(0, 0, n * d + 5 * d)


class DotProductBlock(nn.Module):
    """Pairwise inner products of the n tokens (upper triangle), then Linear(n(n-1)/2, D): (B, n, D) -> (B, D)."""

    def __init__(self, n_inputs: int, dim: int) -> None:
        super().__init__()
        rows, cols = torch.triu_indices(n_inputs, n_inputs, offset=1)
        self.register_buffer("upper", rows * n_inputs + cols, persistent=False)  # flat (row, col) indices
        self.out = nn.Linear(len(rows), dim)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        gram = tokens @ tokens.transpose(1, 2)  # (B, n, n)
        return self.out(gram.flatten(1)[:, self.upper])


def dp_cost(n: int, dims: Dims) -> OpCost:
    """``DotProductBlock``: the Gram matrix (n n D MACs), then Linear(n(n-1)/2, D)."""
    return OpCost(0, n * n * dims.block, 0) + linear(1, n * (n - 1) // 2, dims.block)


class CrossBlock(nn.Module):
    """``CrossNet`` of ``n_layers`` over the concatenated tokens, then Linear(n D, D): (B, n, D) -> (B, D)."""

    def __init__(self, n_inputs: int, n_layers: int, dim: int) -> None:
        super().__init__()
        self.cross = CrossNet(n_inputs * dim, n_layers)
        self.out = nn.Linear(n_inputs * dim, dim)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.out(self.cross(tokens.flatten(1)))


def cross_cost(n: int, layers: int, dims: Dims) -> OpCost:
    """``CrossBlock`` with w = n D: per layer, Linear(w, 1) without bias (w MACs) and its bias (w params), then
    x0 * s, + b, + x (3 w); then Linear(w, D)."""
    w = n * dims.block
    return OpCost(2 * w * layers, w * layers, 3 * w * layers) + linear(1, w, dims.block)


RANKER_OPS: Registry[Op] = Registry("ranker block", key="blocks")
for _name in BLOCK_NAMES:  # every tower block, the same Op
    RANKER_OPS.register(_name, OPS[_name])
RANKER_OPS.register("FM", Op(lambda n, dims: FMBlock(), fm_cost))
RANKER_OPS.register("DP", Op(lambda n, dims: DotProductBlock(n, dims.block), dp_cost))
for _k in CROSS_LAYERS:
    RANKER_OPS.register(f"CROSS-{_k}", Op(lambda n, dims, k=_k: CrossBlock(n, k, dims.block),
                                          lambda n, dims, k=_k: cross_cost(n, k, dims)))
RANKER_BLOCK_NAMES: tuple[str, ...] = RANKER_OPS.names()  # the 21 blocks a ranker position can take
RANKER_OPS.register(SKIP, OPS[SKIP])  # an empty position (searchable depth), never the first
