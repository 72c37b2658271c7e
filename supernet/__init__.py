"""The weight-sharing supernet of TowerNAS: one module holds every candidate, a forward runs one path.

- ``Supernet`` / ``SupernetSpace``: the candidates and the architectures they span (``supernet.model``,
  ``supernet.sampler``).
- ``export(supernet, arch)``: the chosen path as a standalone ``TwoTowerModel`` with inherited weights.
- ``train_supernet``: resumable SPOS training with in-batch softmax + streaming logQ;
  ``validation_recall`` (full-ranking validation Recall@K of a path) or ``fixed_batches`` +
  ``validation_loss``: the fitness of a candidate for the search; ``RecallFitness`` scores many paths of a
  trained supernet, reusing item vectors across paths with the same item tower.
"""

from supernet.export import export
from supernet.fitness import RecallFitness
from supernet.model import Supernet
from supernet.sampler import ArchSampler, RowStream, SupernetSpace
from supernet.trainer import (
    SupernetDivergedError,
    fixed_batches,
    train_supernet,
    validation_loss,
    validation_recall,
)

__all__ = ["ArchSampler", "RowStream", "RecallFitness", "Supernet", "SupernetDivergedError", "SupernetSpace", "export",
           "fixed_batches", "train_supernet", "validation_loss", "validation_recall"]
