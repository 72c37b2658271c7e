"""Standalone two-tower models built from an ``Arch``: ``build(arch, spec)``.

Tower anatomy (what the complexity counter measures, embedding lookups excluded):

    inputs (B, F, E) ─► align each to D_blk (identity when E == D_blk) ─► [LayerNorm per token]
        ─► block 1 .. block N [each ─► LayerNorm], block k sees the F inputs + outputs of blocks 1..k-1
        ─► project (last output + mean of the aligned inputs) to ``dims.out`` ─► L2-normalise

The bracketed norms are the ``towernas`` anatomy's (``towernas.space.anatomy``); ``autotower`` has none.
The user tower's inputs are the user field embeddings, the pooled history, then the ``dims.recent`` most
recent history items as tokens of their own (padding slots embed to zeros); the item tower's are the
item-id embedding plus the item field embeddings.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from towernas.data.spec import DatasetSpec
from towernas.nn.embeddings import Embedder
from towernas.space.arch import Arch
from towernas.space.chain import (  # noqa: F401 (re-exported: the supernet builds its towers from them)
    block_inputs,
    chain_blocks,
    make_align,
    make_block,
    make_input_norm,
)
from towernas.space.dims import Dims
from towernas.space.ops import SKIP
from towernas.space.poolings import POOLINGS


def n_user_tokens(spec: DatasetSpec, dims: Dims) -> int:
    """Tokens of the user tower: F_u fields + the pooled history + ``dims.recent`` latest items."""
    return spec.n_user_inputs + dims.recent


def user_tokens(fields: torch.Tensor, pooled: torch.Tensor, history: torch.Tensor | None = None,
                recent: int = 0) -> torch.Tensor:
    """User tower inputs: the field embeddings, the pooled history, then the ``recent`` latest items."""
    parts = [fields, pooled.unsqueeze(1)]
    if recent:
        parts.append(history[:, -recent:])  # right-aligned: the last slots are the latest items
    return torch.cat(parts, dim=1)  # (B, F_u + 1 + recent, E)


def run_blocks(tokens: torch.Tensor, blocks: Sequence[nn.Module], project: nn.Module) -> torch.Tensor:
    """The shortcut chain shared by standalone towers and the supernet: (B, F, D) -> (B, out).

    The tower output is ``normalize(project(last block output + mean of the F inputs))``. The global
    shortcut gives every path the same starting geometry; without it, SPOS training with a fresh
    random path per step collapses to a popularity-only solution (measured on the embedded dataset:
    in-batch loss 6.29 ~ log(512) after 400 steps, against 5.65 with the shortcut).
    """
    return F.normalize(project(chain_blocks(tokens, blocks)), dim=-1)


class Tower(nn.Module):
    """Align, input norm, blocks, projection (the item tower, and the user tower after pooling)."""

    def __init__(self, blocks: Sequence[str], n_inputs: int, dims: Dims, space: str = "autotower") -> None:
        super().__init__()
        self.align = make_align(n_inputs, dims)
        self.norm = make_input_norm(dims, space)
        self.blocks = nn.ModuleList(make_block(name, block_inputs(n_inputs, k), dims, space)
                                    for k, name in enumerate(blocks))
        self.project = nn.Linear(dims.block, dims.out)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:  # (B, F, E) -> (B, out)
        return run_blocks(self.norm(self.align(inputs)), self.blocks, self.project)


class UserTower(nn.Module):
    """History pooling, then a Tower over [user fields; pooled history; latest items]."""

    def __init__(self, pooling: str, blocks: Sequence[str], spec: DatasetSpec, dims: Dims,
                 space: str = "autotower") -> None:
        super().__init__()
        self.recent = dims.recent
        self.pooling = POOLINGS[pooling](dims, spec.max_len)
        self.tower = Tower(blocks, n_user_tokens(spec, dims), dims, space)

    def forward(self, fields: torch.Tensor, history: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.tower(user_tokens(fields, self.pooling(history, mask), history, self.recent))


class TwoTowerModel(nn.Module):
    """A standalone two-tower retrieval model: ``encode_users`` / ``encode_items`` → unit vectors.

    Example:
        >>> spec = DatasetSpec((), (), n_items=10, max_len=4)
        >>> arch = Arch("avg", ("MLP-64", "EW-sum", "SA-1"), ("MLP-32", "EW-max", "EW-avg"))
        >>> model = build(arch, spec)
        >>> model.encode_items({"item": torch.tensor([0, 3])}).shape
        torch.Size([2, 64])
    """

    def __init__(self, arch: Arch, spec: DatasetSpec) -> None:
        super().__init__()
        self.arch = arch
        self.embedder = Embedder(spec, arch.dims.embed)
        self.user_tower = UserTower(arch.pooling, arch.user, spec, arch.dims, arch.space)
        self.item_tower = Tower(arch.item, spec.n_item_inputs, arch.dims, arch.space)

    def encode_users(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.user_tower(*self.embedder.user_inputs(batch))

    def encode_items(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.item_tower(self.embedder.item_inputs(batch))


def build(arch: Arch, spec: DatasetSpec) -> TwoTowerModel:
    """A freshly initialised standalone model for ``arch`` on a dataset described by ``spec``."""
    return TwoTowerModel(arch, spec)
