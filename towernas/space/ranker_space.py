"""``RankerSpace``: the ranker architectures one search spans, and their genome form for ``evolution``.

A genome is ``(history, block_1, ..., block_depth)``: the history token (``mean`` | ``target``) and one block per
position (``towernas.space.ranker_ops``; ``skip`` after the first position makes a shallower ranker).

Example:
    >>> space = RankerSpace(blocks=("FM", "MLP-64"), depth=3)
    >>> space.size  # 2 histories x 2 first blocks x 3 x 3 later choices (skip included)
    36
    >>> space.arch(("target", "FM", "skip", "MLP-64")).blocks
    ('FM', 'skip', 'MLP-64')
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from towernas.space.arch import ArchError
from towernas.space.ops import SKIP
from towernas.space.ranker_arch import DIMS, HISTORIES, MAX_BLOCKS, MIN_BLOCKS, RankerArch
from towernas.space.ranker_ops import RANKER_BLOCK_NAMES


@dataclass(frozen=True)
class RankerSpace:
    """Args: histories and blocks to choose from; depth: positions (skip allowed after the first); embed, block,
    head: the widths every candidate shares; pairwise: every candidate adds FM's raw pairwise term
    (``RankerArch.pairwise``). Off by default: with it the search's fine-tuned fitness loses its order on the
    embedded set (``make bench-ranker-fidelity``: Kendall τ -0.18 against 0.75 without it)."""

    histories: tuple[str, ...] = HISTORIES
    blocks: tuple[str, ...] = RANKER_BLOCK_NAMES
    depth: int = 4
    embed: int = DIMS["embed"]
    block: int = DIMS["block"]
    head: int = DIMS["head"]
    pairwise: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "histories", tuple(self.histories))
        object.__setattr__(self, "blocks", tuple(self.blocks))
        for key, names, known in (("histories", self.histories, HISTORIES), ("blocks", self.blocks,
                                                                            RANKER_BLOCK_NAMES)):
            if not names:
                raise ArchError(f"ranker_search.space.{key}=[]: expected at least one of {list(known)}")
            for name in names:
                if name not in known:
                    raise ArchError(f"ranker_search.space.{key}: {name!r} is unknown; expected among {list(known)}")
        if not MIN_BLOCKS <= self.depth <= MAX_BLOCKS:
            raise ArchError(f"ranker_search.space.depth={self.depth}: expected {MIN_BLOCKS} to {MAX_BLOCKS}")
        self.arch((self.histories[0], self.blocks[0]))  # bad widths or pairwise: RankerArch's one-line error

    def slots(self) -> list[tuple[str, ...]]:
        """The choices of each genome slot: history, the first block, then blocks or skip."""
        return [self.histories, self.blocks, *[(*self.blocks, SKIP)] * (self.depth - 1)]

    @property
    def size(self) -> int:
        return math.prod(len(s) for s in self.slots())

    def arch(self, genome) -> RankerArch:
        return RankerArch(tuple(genome[1:]), genome[0], self.embed, self.block, self.head, self.pairwise)

    def genome(self, arch: RankerArch) -> tuple[str, ...]:
        """The genome of ``arch`` (padded with skips to the depth); an ArchError if it is not in this space."""
        blocks = arch.blocks + (SKIP,) * (self.depth - len(arch.blocks))
        genome = (arch.history, *blocks)
        if len(blocks) != self.depth or any(g not in s for g, s in zip(genome, self.slots())) or \
                (arch.embed, arch.block, arch.head, arch.pairwise) != (self.embed, self.block, self.head,
                                                                       self.pairwise):
            raise ArchError(f"{arch.to_dict()['blocks']} ({arch.history}): not a point of this ranker space")
        return genome

    @classmethod
    def from_config(cls, cfg) -> RankerSpace:
        """From a ``ranker_search.space`` section (an empty ``blocks`` list: every ranker block)."""
        return cls(tuple(cfg.histories), tuple(cfg.blocks) if cfg.blocks else RANKER_BLOCK_NAMES, cfg.depth,
                   cfg.embed, cfg.block, cfg.head, cfg.pairwise)
