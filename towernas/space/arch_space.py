"""``ArchSpace``: the set of architectures one search spans, and their genome form for ``evolution``.

Example:
    >>> space = ArchSpace(poolings=("avg", "sum"), blocks=("MLP-16", "EW-ip"), depth_user=3, depth_item=3)
    >>> space.size
    128
    >>> space.arch(("avg", "MLP-16", "EW-ip", "EW-ip", "MLP-16", "MLP-16", "EW-ip")).user
    ('MLP-16', 'EW-ip', 'EW-ip')
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from towernas.space.anatomy import ANATOMIES, DEFAULT_ANATOMY
from towernas.space.arch import MAX_DEPTH, MIN_DEPTH, Arch, ArchError
from towernas.space.dims import Dims
from towernas.space.ops import BLOCK_NAMES, SKIP
from towernas.space.poolings import POOLING_NAMES


@dataclass(frozen=True)
class ArchSpace:
    """The architectures one search (and one supernet) spans: a pooling, then fixed-depth user and item
    block chains, in one tower anatomy with one set of widths.

    Args:
        poolings: the history poolings to choose from.
        blocks: the blocks every position can take.
        depth_user, depth_item: positions per tower.
        allow_skip: positions after the first may also be ``skip`` (a shallower tower).
        dims: the widths shared by every candidate.
        name: the tower anatomy (``towernas.space.anatomy``: ``towernas`` or ``autotower``).

    As a genome (for ``evolution``), an architecture is ``(pooling, *user, *item)`` with ``slots()``
    giving the choices of each slot.
    """

    poolings: tuple[str, ...] = POOLING_NAMES
    blocks: tuple[str, ...] = BLOCK_NAMES
    depth_user: int = 5
    depth_item: int = 5
    allow_skip: bool = False
    dims: Dims = field(default_factory=Dims)
    name: str = DEFAULT_ANATOMY

    def __post_init__(self) -> None:
        ANATOMIES.get(self.name)
        object.__setattr__(self, "poolings", tuple(self.poolings))
        object.__setattr__(self, "blocks", tuple(self.blocks))
        for kind, names, known in (("pooling", self.poolings, POOLING_NAMES), ("block", self.blocks, BLOCK_NAMES)):
            if not names or len(set(names)) != len(names):
                raise ArchError(f"space.{kind}s={list(names)}: expected a non-empty list without repeats")
            unknown = [n for n in names if n not in known]
            if unknown:
                raise ArchError(f"space.{kind}s: unknown {unknown}; expected some of {list(known)}")
        for side in ("user", "item"):
            depth = getattr(self, f"depth_{side}")
            if not MIN_DEPTH <= depth <= MAX_DEPTH:
                raise ArchError(f"space.depth_{side}={depth}: expected {MIN_DEPTH} to {MAX_DEPTH}")

    def depth(self, side: str) -> int:
        return self.depth_user if side == "user" else self.depth_item

    def choices(self, side: str, k: int) -> tuple[str, ...]:
        """The op names allowed at position ``k`` (0-based) of ``side`` ("user" or "item")."""
        return self.blocks + (SKIP,) if self.allow_skip and k > 0 else self.blocks

    def slots(self) -> tuple[tuple[str, ...], ...]:
        """Choices per genome slot: pooling, the user positions, then the item positions."""
        return (self.poolings, *(self.choices("user", k) for k in range(self.depth_user)),
                *(self.choices("item", k) for k in range(self.depth_item)))

    @property
    def size(self) -> int:
        return int(np.prod([len(s) for s in self.slots()], dtype=object))

    def arch(self, genome: tuple[str, ...] | list[str]) -> Arch:
        """The Arch of a genome ``(pooling, *user, *item)``."""
        if len(genome) != 1 + self.depth_user + self.depth_item:
            raise ArchError(f"genome of length {len(genome)}; this space has {1 + self.depth_user + self.depth_item} slots")
        u = 1 + self.depth_user
        arch = Arch(genome[0], tuple(genome[1:u]), tuple(genome[u:]), self.dims, space=self.name)
        self.check(arch)
        return arch

    def genome(self, arch: Arch) -> tuple[str, ...]:
        return (arch.pooling, *arch.user, *arch.item)

    def check(self, arch: Arch) -> None:
        """Raise a one-line ArchError unless ``arch`` is a path of this space."""
        if arch.space != self.name:
            raise ArchError(f"arch space {arch.space!r} differs from this search space's {self.name!r}")
        if arch.dims != self.dims:
            raise ArchError(f"arch dims {arch.dims.to_dict()} differ from the supernet's {self.dims.to_dict()}")
        if arch.pooling not in self.poolings:
            raise ArchError(f"pooling {arch.pooling!r} is not in the search space ({list(self.poolings)})")
        for side in ("user", "item"):
            names = getattr(arch, side)
            if len(names) != self.depth(side):
                raise ArchError(f"arch.{side} has {len(names)} blocks; the search space has {self.depth(side)} positions")
            for k, name in enumerate(names):
                if name not in self.choices(side, k):
                    raise ArchError(f"arch.{side}[{k}]={name!r} is not a choice of the search space at that position")


    @classmethod
    def from_config(cls, cfg) -> "ArchSpace":
        """The space of a ``conf/space/*.yaml`` section (``towernas.config.space.SpaceConfig``)."""
        return cls(tuple(cfg.poolings), tuple(cfg.blocks) if cfg.blocks else BLOCK_NAMES, cfg.depth_user,
                   cfg.depth_item, bool(cfg.searchable_depth), Dims(**cfg.dims), cfg.name)
