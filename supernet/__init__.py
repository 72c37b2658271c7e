"""The weight-sharing supernet of TowerNAS: one module holds every candidate, a forward runs one path.

- ``Supernet`` / ``SupernetSpace``: the candidates and the architectures they span (``supernet.model``,
  ``supernet.sampler``).
- ``export(supernet, arch)``: the chosen path as a standalone ``TwoTowerModel`` with inherited weights.
- ``train_supernet``: resumable SPOS training with in-batch softmax + streaming logQ;
  ``validation_recall`` (full-ranking validation Recall@K of a path) or ``fixed_batches`` +
  ``validation_loss``: the fitness of a candidate for the search.
"""

from supernet.export import export
from supernet.model import Supernet
from supernet.sampler import ArchSampler, RowStream, SupernetSpace
from supernet.trainer import (
    SupernetDivergedError,
    fixed_batches,
    train_supernet,
    validation_loss,
    validation_recall,
)

__all__ = ["ArchSampler", "RowStream", "Supernet", "SupernetDivergedError", "SupernetSpace", "export",
           "fixed_batches", "train_supernet", "validation_loss", "validation_recall"]
