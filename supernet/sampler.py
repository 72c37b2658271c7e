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

    Uniform over the feasible set is far from uniform over each slot's choices: under a budget the expensive
    choices (wide MLPs, 3-4 attention heads, the costlier poolings) sit in few feasible architectures, so their
    weights get a fraction of the updates of the cheap ones (on ML-100K at budget L, MLP-128 in a late user slot
    is drawn 0.7% of the time against 12% for an element-wise op). ``balance=n > 1`` draws ``n`` feasible
    architectures per step and trains the one whose (slot, choice) pairs have been trained least so far (the sum
    of their counts; the first on a tie): a FairNAS-like balance as far as the budget allows, still restricted
    to what the budget admits. Measured, it does not make the supernet rank architectures better on ML-100K or
    on the embedded set (``docs/results/search-fidelity.md``), so the default stays 1.

    Args:
        space: the supernet's space.
        seed: seed of the numpy Generator (same seed, same sequence of architectures).
        admits: ``admits(genome) -> bool``; None samples the whole space. Training only feasible paths
            spends every step on architectures the search can return (the infeasible ones, e.g. every
            path through MLP-1024 under budget L, would otherwise take most of the updates).
        max_tries: draws per sample before giving up on ``admits`` (an error: the budget admits almost
            nothing of this space).
        balance: feasible draws per step, the least-trained one kept (1: plain uniform sampling).
    """

    def __init__(self, space: SupernetSpace, seed: int, admits: Callable[[tuple[str, ...]], bool] | None = None,
                 max_tries: int = 100_000, balance: int = 1) -> None:
        if balance < 1:
            raise ValueError(f"balance={balance}: expected a positive number of draws per step")
        self.space = space
        self.rng = np.random.default_rng(seed)
        self.admits, self.max_tries, self.balance = admits, max_tries, balance
        self.counts = [dict.fromkeys(choices, 0) for choices in space.slots()]  # updates per (slot, choice)

    def _draw(self) -> tuple[str, ...]:
        slots = self.space.slots()
        for _ in range(self.max_tries if self.admits is not None else 1):
            picks = tuple(choices[int(self.rng.integers(len(choices)))] for choices in slots)
            if self.admits is None or self.admits(picks):
                return picks
        raise ArchError(f"no budget-feasible architecture in {self.max_tries} random draws; raise the budget")

    def sample(self) -> Arch:
        if self.balance == 1:
            return self.space.arch(self._draw())
        draws = [self._draw() for _ in range(self.balance)]
        picks = min(draws, key=lambda g: sum(count[c] for count, c in zip(self.counts, g)))
        for count, choice in zip(self.counts, picks):
            count[choice] += 1
        return self.space.arch(picks)

    def state(self) -> dict:
        """The generator's state; with ``balance`` > 1 also the per-(slot, choice) counts."""
        if self.balance == 1:  # the historic form, so checkpoints of uniform sampling keep resuming
            return self.rng.bit_generator.state
        return {"rng": self.rng.bit_generator.state, "counts": [list(c.values()) for c in self.counts]}

    def load_state(self, state: dict) -> None:
        if self.balance == 1:
            self.rng.bit_generator.state = state
            return
        self.rng.bit_generator.state = state["rng"]
        self.counts = [dict(zip(c, map(int, n))) for c, n in zip(self.counts, state["counts"])]


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
