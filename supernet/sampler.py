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

from typing import Callable

import numpy as np

from towernas.space.arch import Arch, ArchError
from towernas.space.arch_space import ArchSpace


SupernetSpace = ArchSpace  # the space a supernet holds (towernas.space.arch_space)


class ArchSampler:
    """Single-path sampling (SPOS): every slot independently uniform over its choices, optionally
    restricted to the architectures a budget admits (rejection sampling: uniform over the feasible set).

    Args:
        space: the supernet's space.
        seed: seed of the numpy Generator (same seed, same sequence of architectures).
        admits: ``admits(genome) -> bool``; None samples the whole space. Training only feasible paths
            spends every step on architectures the search can return (the infeasible ones, e.g. every
            path through MLP-1024 under budget L, would otherwise take most of the updates).
        max_tries: draws per sample before giving up on ``admits`` (an error: the budget admits almost
            nothing of this space).
    """

    def __init__(self, space: SupernetSpace, seed: int, admits: Callable[[tuple[str, ...]], bool] | None = None,
                 max_tries: int = 100_000) -> None:
        self.space = space
        self.rng = np.random.default_rng(seed)
        self.admits, self.max_tries = admits, max_tries

    def sample(self) -> Arch:
        slots = self.space.slots()
        for _ in range(self.max_tries if self.admits is not None else 1):
            picks = tuple(choices[int(self.rng.integers(len(choices)))] for choices in slots)
            if self.admits is None or self.admits(picks):
                return self.space.arch(picks)
        raise ArchError(f"no budget-feasible architecture in {self.max_tries} random draws; raise the budget")

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
