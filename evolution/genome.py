"""Genomes, the search space they live in, and the DEAP types that carry their fitness.

A genome is a tuple of op **names**, one per slot, e.g. ``("avg", "MLP-256", "EW-ip", "SA-2")``. The caller
decides what the slots mean (TowerNAS: slot 0 = pooling, then the user-tower blocks, then the item-tower blocks).
Inside this package a genome is also held as a list of choice indices, because DEAP's integer operators
(``mutUniformInt``) work on those; indices never leave the package, since adding an op to a slot would renumber
every saved genome.

Example:
    >>> space = SearchSpace([("avg", "sum"), ("MLP-16", "EW-ip", "SA-1")])
    >>> space.size
    6
    >>> space.encode(("sum", "SA-1"))
    (1, 2)
    >>> space.decode([1, 2])
    ('sum', 'SA-1')
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from deap import base

Genome = tuple[str, ...]
"""One op name per slot."""


@dataclass(frozen=True)
class SearchSpace:
    """The allowed op names of every slot.

    Args:
        slots: slot ``i``'s choices, in a fixed order (the order only matters inside the package).
    """

    slots: tuple[tuple[str, ...], ...]
    _index: tuple[dict[str, int], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        slots = tuple(tuple(choices) for choices in self.slots)
        if not slots:
            raise ValueError("a search space needs at least one slot")
        for i, choices in enumerate(slots):
            if not choices:
                raise ValueError(f"slot {i} has no choices")
            if not all(isinstance(c, str) for c in choices):
                raise TypeError(f"slot {i}: choices must be op names (str), got {choices!r}")
            if len(set(choices)) != len(choices):
                raise ValueError(f"slot {i} lists an op twice: {choices!r}")
        object.__setattr__(self, "slots", slots)
        object.__setattr__(self, "_index", tuple({c: j for j, c in enumerate(s)} for s in slots))

    def __len__(self) -> int:
        return len(self.slots)

    @property
    def size(self) -> int:
        """Number of distinct genomes, prod_i |slot_i|."""
        return math.prod(len(s) for s in self.slots)

    @property
    def upper(self) -> list[int]:
        """Largest choice index per slot (the inclusive ``up`` of ``mutUniformInt``)."""
        return [len(s) - 1 for s in self.slots]

    def encode(self, genome: Sequence[str]) -> tuple[int, ...]:
        """Names -> choice indices; unknown names and wrong lengths are errors."""
        if len(genome) != len(self.slots):
            raise ValueError(f"genome has {len(genome)} genes, the space has {len(self.slots)} slots")
        try:
            return tuple(index[name] for index, name in zip(self._index, genome))
        except KeyError as err:
            i = next(i for i, (idx, n) in enumerate(zip(self._index, genome)) if n not in idx)
            raise ValueError(f"slot {i}: unknown op {err.args[0]!r}; choices are {list(self.slots[i])}") from None

    def decode(self, genes: Sequence[int]) -> Genome:
        """Choice indices -> names."""
        return tuple(choices[j] for choices, j in zip(self.slots, genes, strict=True))

    def sample(self, rng: random.Random) -> list[int]:
        """A uniformly random genome, as choice indices."""
        return [rng.randrange(len(s)) for s in self.slots]


class LossFitness(base.Fitness):
    """Single objective: minimise the fitness (e.g. a validation loss)."""

    weights = (-1.0,)


class LossCostFitness(base.Fitness):
    """Two objectives, both minimised: (fitness, cost)."""

    weights = (-1.0, -1.0)


class Individual(list):
    """A genome as choice indices (what DEAP's operators modify in place) plus its DEAP fitness.

    Plain subclasses instead of ``deap.creator`` classes, so nothing is registered in a global namespace.
    """

    fitness_class: type[base.Fitness] = LossFitness

    def __init__(self, genes: Sequence[int] = ()) -> None:
        super().__init__(genes)
        self.fitness = self.fitness_class()

    @property
    def key(self) -> tuple[int, ...]:
        return tuple(self)


class ParetoIndividual(Individual):
    """An individual scored on (fitness, cost)."""

    fitness_class = LossCostFitness
