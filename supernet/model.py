"""The weight-sharing supernet: every candidate op of every position, one path per forward (SPOS).

Layout (each piece has the exact shape of its counterpart in ``towernas.retrievers.two_tower``, so ``export`` copies
weights with ``load_state_dict(strict=True)``):

    embedder                      one shared ``Embedder`` (all embedding tables)
    poolings[name]                one module per history pooling
    user / item: SuperTower
        align                     per-input maps embed -> D_blk (shared by all paths)
        norm                      the input LayerNorm of the ``towernas`` anatomy (identity for ``autotower``)
        positions[k][key(op)]     make_block(op, F + k, dims, space) for every op allowed at position k
        project                   D_blk -> out

``encode_users(batch, arch)`` / ``encode_items(batch, arch)`` pick the modules named by ``arch`` and run
them through ``towernas.retrievers.two_tower.run_blocks``, the same function the standalone towers use; untouched
candidates get no gradient (``grad is None``). The space has no BatchNorm (its norms are LayerNorms), so a
child evaluated through the supernet needs no BN recalibration: its output is the exported child's output.

Example:
    >>> from towernas.data.spec import DatasetSpec
    >>> from towernas.space import Arch, Dims
    >>> spec = DatasetSpec((), (), n_items=10, max_len=4)
    >>> net = Supernet(spec, Dims(), depth_user=3, depth_item=3)
    >>> arch = Arch("avg", ("MLP-64", "EW-sum", "SA-1"), ("MLP-32", "EW-max", "EW-avg"))
    >>> net.encode_items({"item": torch.tensor([0, 3])}, arch).shape
    torch.Size([2, 64])
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from supernet.sampler import SupernetSpace
from towernas.data.spec import DatasetSpec
from towernas.nn.embeddings import Embedder
from towernas.retrievers.two_tower import (
    block_inputs,
    make_align,
    make_block,
    make_input_norm,
    n_user_tokens,
    run_blocks,
    user_tokens,
)
from towernas.space.anatomy import DEFAULT_ANATOMY
from towernas.space.arch import Arch
from towernas.space.dims import Dims
from towernas.space.ops import BLOCK_NAMES
from towernas.space.poolings import POOLING_NAMES, POOLINGS


def op_key(name: str) -> str:
    """The ModuleDict key of an op name ("MLP-16" -> "MLP_16"); names stay the public API."""
    return name.replace("-", "_")


class SuperTower(nn.Module):
    """All candidate blocks of one tower; ``forward(inputs, names)`` runs the chain of ``names``."""

    def __init__(self, space: SupernetSpace, side: str, n_inputs: int) -> None:
        super().__init__()
        dims = space.dims
        self.align = make_align(n_inputs, dims)
        self.norm = make_input_norm(dims, space.name)
        self.positions = nn.ModuleList(
            nn.ModuleDict({op_key(name): make_block(name, block_inputs(n_inputs, k), dims, space.name)
                           for name in space.choices(side, k)})
            for k in range(space.depth(side))
        )
        self.project = nn.Linear(dims.block, dims.out)

    def shared(self) -> list[nn.Module]:
        """The modules every path of this tower uses."""
        return [self.align, self.norm, self.project]

    def chosen(self, names: Sequence[str]) -> list[nn.Module]:
        """The candidate module of each position for the op ``names``."""
        return [position[op_key(name)] for position, name in zip(self.positions, names)]

    def forward(self, inputs: torch.Tensor, names: Sequence[str]) -> torch.Tensor:  # (B, F, E) -> (B, out)
        return run_blocks(self.norm(self.align(inputs)), self.chosen(names), self.project)


class Supernet(nn.Module):
    """A single-path weight-sharing supernet over two-tower architectures.

    Args:
        spec: the dataset's fields, catalogue size and history length.
        dims: widths shared by every candidate.
        depth_user, depth_item: positions per tower.
        blocks: the blocks each position can take (op names).
        poolings: the history poolings (names).
        allow_skip: positions after the first may also be ``skip``.
        space: the tower anatomy (``towernas.space.anatomy``).
    """

    def __init__(self, spec: DatasetSpec, dims: Dims, depth_user: int, depth_item: int,
                 blocks: tuple[str, ...] = BLOCK_NAMES, poolings: tuple[str, ...] = POOLING_NAMES,
                 allow_skip: bool = False, space: str = DEFAULT_ANATOMY) -> None:
        super().__init__()
        self.spec = spec
        self.space = SupernetSpace(tuple(poolings), tuple(blocks), depth_user, depth_item, allow_skip, dims, space)
        self.embedder = Embedder(spec, dims.embed)
        self.poolings = nn.ModuleDict({name: POOLINGS[name](dims, spec.max_len) for name in self.space.poolings})
        self.user = SuperTower(self.space, "user", n_user_tokens(spec, dims))
        self.item = SuperTower(self.space, "item", spec.n_item_inputs)

    @classmethod
    def from_space(cls, spec: DatasetSpec, space: SupernetSpace) -> "Supernet":
        """The supernet holding every architecture of ``space``."""
        return cls(spec, space.dims, space.depth_user, space.depth_item, space.blocks, space.poolings,
                   space.allow_skip, space.name)

    @property
    def dims(self) -> Dims:
        return self.space.dims

    def encode_users(self, batch: dict[str, torch.Tensor], arch: Arch) -> torch.Tensor:
        """(B, out) unit vectors of the user tower of ``arch`` (pooling + user blocks)."""
        self.space.check(arch)
        fields, history, mask = self.embedder.user_inputs(batch)  # (B, F_u, E), (B, L, E), (B, L)
        pooled = self.poolings[arch.pooling](history, mask)  # (B, E)
        return self.user(user_tokens(fields, pooled, history, self.dims.recent), arch.user)

    def encode_items(self, batch: dict[str, torch.Tensor], arch: Arch) -> torch.Tensor:
        """(B, out) unit vectors of the item tower of ``arch``."""
        self.space.check(arch)
        return self.item(self.embedder.item_inputs(batch), arch.item)

    def path_parameters(self, arch: Arch) -> dict[str, nn.Parameter]:
        """The parameters ``arch`` uses, by their name in ``named_parameters()``."""
        modules = [self.embedder, self.poolings[arch.pooling], *self.user.shared(), *self.item.shared(),
                   *self.user.chosen(arch.user), *self.item.chosen(arch.item)]
        ids = {id(p) for m in modules for p in m.parameters()}
        return {name: p for name, p in self.named_parameters() if id(p) in ids}
