"""Reference models every searched architecture is compared with.

Hand-crafted two-towers, one per name in ``BASELINES``, sized per budget ("L", "M", "H" = the DNN layer
lists of ``common.BUDGET_LAYERS``), built by ``build_baseline`` and costed by ``tower_cost`` with the
counter used for searched towers. Also here: ``popularity`` (most-popular ranking) and ``mean_pool``
(the data/protocol sanity model).

Each baseline has ``encode_users(batch)`` / ``encode_items(batch)`` like ``towernas.towers.TwoTowerModel``;
MIND's ``encode_users`` returns (B, K, D) interests and it trains through ``train_scores(batch) -> (B, B)``.

Example:
    >>> from towernas.complexity import synthetic_spec
    >>> model = build_baseline("senet", "M", synthetic_spec())
    >>> type(model).__name__, model.out_dim
    ('SENet', 128)
"""

from __future__ import annotations

from torch import nn

from towernas.baselines.bst import BST
from towernas.baselines.common import BUDGET_LAYERS, BUDGETS, BaselineTwoTower, budget_layers
from towernas.baselines.cost import tower_cost
from towernas.baselines.google_dnn import GoogleDNN
from towernas.baselines.mind import MIND
from towernas.baselines.senet import SENet
from towernas.space.dims import Dims
from towernas.towers import DatasetSpec

MODELS: dict[str, type[BaselineTwoTower]] = {"google_dnn": GoogleDNN, "senet": SENet, "bst": BST, "mind": MIND}
BASELINES = tuple(MODELS)


def build_baseline(name: str, budget: str, spec: DatasetSpec, dims: Dims = Dims()) -> nn.Module:
    """A freshly initialised baseline ``name`` sized for ``budget`` on a dataset shaped like ``spec``."""
    if name not in MODELS:
        raise ValueError(f"unknown baseline {name!r}; expected one of {list(BASELINES)}")
    return MODELS[name](spec, budget_layers(budget), dims)


__all__ = ["BASELINES", "BST", "BUDGETS", "BUDGET_LAYERS", "MIND", "GoogleDNN", "SENet", "build_baseline",
           "tower_cost"]
