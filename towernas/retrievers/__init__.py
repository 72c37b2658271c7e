"""Two-tower retrievers: the model built from a searched ``Arch`` (``two_tower``), and the reference models
every searched architecture is compared with.

Hand-crafted two-towers, registered by name in ``BASELINES``, sized per budget ("L", "M", "H" = the DNN layer
lists of ``common.BUDGET_LAYERS``), built by ``build_baseline`` and costed by ``tower_cost`` with the
counter used for searched towers. Also here: ``popularity`` (most-popular ranking) and ``mean_pool``
(the data/protocol sanity model).

Each baseline has ``encode_users(batch)`` / ``encode_items(batch)`` like ``towernas.retrievers.two_tower.TwoTowerModel``;
MIND's ``encode_users`` returns (B, K, D) interests and it trains through ``train_scores(batch) -> (B, B)``.

Example:
    >>> from towernas.complexity import synthetic_spec
    >>> model = build_baseline("senet", "M", synthetic_spec())
    >>> type(model).__name__, model.out_dim
    ('SENet', 128)
"""

from __future__ import annotations

from torch import nn

from towernas.complexity.towers import tower_cost
from towernas.data.spec import DatasetSpec
from towernas.retrievers.bst import BST
from towernas.retrievers.dnn import BUDGET_LAYERS, BUDGETS, BaselineTwoTower, budget_layers
from towernas.retrievers.google_dnn import GoogleDNN
from towernas.retrievers.mind import MIND
from towernas.retrievers.senet import SENet
from towernas.runs.registry import Registry
from towernas.space.dims import Dims

MODELS: Registry[type[BaselineTwoTower]] = Registry("baseline", key="retrain.baselines")
for _name, _cls in (("google_dnn", GoogleDNN), ("senet", SENet), ("bst", BST), ("mind", MIND)):
    MODELS.register(_name, _cls)
BASELINES = MODELS.names()


def build_baseline(name: str, budget: str, spec: DatasetSpec, dims: Dims = Dims()) -> nn.Module:
    """A freshly initialised baseline ``name`` sized for ``budget`` on a dataset shaped like ``spec``."""
    return MODELS.build(name, spec, budget_layers(budget), dims)


__all__ = ["BASELINES", "BST", "BUDGETS", "BUDGET_LAYERS", "MIND", "GoogleDNN", "SENet", "build_baseline",
           "tower_cost"]
