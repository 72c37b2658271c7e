"""What SPOS samples at every step: an architecture of the supernet's space, and a batch of train rows.

Both samplers are deterministic for a seed and expose a JSON-able ``state()`` (numpy's
``bit_generator.state`` is a dict of ints and strings), so an interrupted run resumes exactly.

Example:
    >>> space = SupernetSpace(poolings=("avg", "sum"), blocks=("MLP-16", "EW-ip"), depth_user=3, depth_item=3)
    >>> space.size
    128
    >>> arch = ArchSampler(space, seed=0).sample()
    >>> space.arch(space.genome(arch)) == arch
    True
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from towernas.space.arch import MAX_DEPTH, MIN_DEPTH, Arch, ArchError
from towernas.space.dims import Dims
from towernas.space.ops import BLOCK_NAMES, SKIP
from towernas.space.poolings import POOLING_NAMES


@dataclass(frozen=True)
class SupernetSpace:
    """The architectures one supernet holds: a pooling, then fixed-depth user and item block chains.

    Args:
        poolings: the history poolings to choose from.
        blocks: the blocks every position can take.
        depth_user, depth_item: positions per tower.
        allow_skip: positions after the first may also be ``skip`` (a shallower tower).
        dims: the widths shared by every candidate.

    As a genome (for ``evolution``), an architecture is ``(pooling, *user, *item)`` with ``slots()``
    giving the choices of each slot.
    """

    poolings: tuple[str, ...] = POOLING_NAMES
    blocks: tuple[str, ...] = BLOCK_NAMES
    depth_user: int = 5
    depth_item: int = 5
    allow_skip: bool = False
    dims: Dims = field(default_factory=Dims)

    def __post_init__(self) -> None:
        object.__setattr__(self, "poolings", tuple(self.poolings))
        object.__setattr__(self, "blocks", tuple(self.blocks))
        for kind, names, known in (("pooling", self.poolings, POOLING_NAMES), ("block", self.blocks, BLOCK_NAMES)):
            if not names or len(set(names)) != len(names):
                raise ValueError(f"supernet {kind}s {list(names)}: expected a non-empty list without repeats")
            unknown = [n for n in names if n not in known]
            if unknown:
                raise ValueError(f"supernet {kind}s: unknown {unknown}; expected some of {list(known)}")
        for side in ("user", "item"):
            depth = getattr(self, f"depth_{side}")
            if not MIN_DEPTH <= depth <= MAX_DEPTH:
                raise ValueError(f"supernet depth_{side}={depth}: expected {MIN_DEPTH} to {MAX_DEPTH}")

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
        arch = Arch(genome[0], tuple(genome[1:u]), tuple(genome[u:]), self.dims)
        self.check(arch)
        return arch

    def genome(self, arch: Arch) -> tuple[str, ...]:
        return (arch.pooling, *arch.user, *arch.item)

    def check(self, arch: Arch) -> None:
        """Raise a one-line ArchError unless ``arch`` is a path of this space."""
        if arch.dims != self.dims:
            raise ArchError(f"arch dims {arch.dims.to_dict()} differ from the supernet's {self.dims.to_dict()}")
        if arch.pooling not in self.poolings:
            raise ArchError(f"pooling {arch.pooling!r} is not in the supernet ({list(self.poolings)})")
        for side in ("user", "item"):
            names = getattr(arch, side)
            if len(names) != self.depth(side):
                raise ArchError(f"arch.{side} has {len(names)} blocks; the supernet has {self.depth(side)} positions")
            for k, name in enumerate(names):
                if name not in self.choices(side, k):
                    raise ArchError(f"arch.{side}[{k}]={name!r} is not a choice of the supernet at that position")


class ArchSampler:
    """Uniform single-path sampling (SPOS): every slot independently uniform over its choices.

    Args:
        space: the supernet's space.
        seed: seed of the numpy Generator (same seed, same sequence of architectures).
    """

    def __init__(self, space: SupernetSpace, seed: int) -> None:
        self.space = space
        self.rng = np.random.default_rng(seed)

    def sample(self) -> Arch:
        picks = [choices[int(self.rng.integers(len(choices)))] for choices in self.space.slots()]
        return self.space.arch(picks)

    def state(self) -> dict:
        return self.rng.bit_generator.state

    def load_state(self, state: dict) -> None:
        self.rng.bit_generator.state = state


class RowStream:
    """Endless fixed-size batches of ``rows``: a fresh shuffle per epoch, the epoch's remainder dropped.

    With fewer rows than ``batch_size`` every batch is all rows (in a fresh order). The state is the
    generator state *before* the current epoch's shuffle plus the position in it, so a restored stream
    redraws the same permutation instead of storing it.
    """

    def __init__(self, rows: np.ndarray, batch_size: int, seed: int) -> None:
        if len(rows) == 0:
            raise ValueError("no rows to train on")
        if batch_size < 1:
            raise ValueError(f"batch_size={batch_size}: expected a positive integer")
        self.rows, self.batch_size = np.asarray(rows), min(batch_size, len(rows))
        self.rng = np.random.default_rng([seed, 1])  # a stream independent of an ArchSampler(seed)
        self._new_epoch()

    def _new_epoch(self, epoch: int | None = None) -> None:
        self.epoch = 0 if epoch is None else epoch
        self._epoch_state = self.rng.bit_generator.state
        self._order = self.rows[self.rng.permutation(len(self.rows))]
        self.cursor = 0

    def next(self) -> np.ndarray:
        if self.cursor + self.batch_size > len(self._order):
            self._new_epoch(self.epoch + 1)
        batch = self._order[self.cursor : self.cursor + self.batch_size]
        self.cursor += self.batch_size
        return batch

    def state(self) -> dict:
        return {"epoch_rng": self._epoch_state, "epoch": self.epoch, "cursor": self.cursor}

    def load_state(self, state: dict) -> None:
        self.rng.bit_generator.state = state["epoch_rng"]
        self._new_epoch(int(state["epoch"]))
        self.cursor = int(state["cursor"])
