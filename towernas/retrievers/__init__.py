"""Two-tower retrievers: the model built from a searched ``Arch`` (``two_tower``), and the reference models
every searched architecture is compared with.

Hand-crafted two-towers (GoogleDNN, SENET, BST, MIND), registered by name in ``MODELS``, each in two
versions: ``<family>_paper`` at the AutoTower paper's layers per budget ("L", "M", "H" = the DNN layer
lists of ``dnn.BUDGET_LAYERS``, which exceed those budgets), and ``<family>`` at the size of its grid
(``sizing.GRIDS``) that fits the budget and scores best on validation (``sizing.select_size``).
``build_baseline`` builds either; ``tower_cost`` costs them with the counter used for searched towers.
Also here: ``mean_pool`` (the data/protocol sanity model).

Each baseline has ``encode_users(batch)`` / ``encode_items(batch)`` like
``towernas.retrievers.two_tower.TwoTowerModel``; MIND's ``encode_users`` returns (B, K, D) interests and it
trains through ``train_scores(batch) -> (B, B)``.

Example:
    >>> from towernas.complexity import Budget, synthetic_spec
    >>> model = build_baseline("senet_paper", "M", synthetic_spec())
    >>> type(model).__name__, model.out_dim
    ('SENet', 128)
    >>> L = Budget("L", params=240_000, flops=150_000)
    >>> build_baseline("senet", L, synthetic_spec(), size="[128,64]").out_dim
    64
"""

from __future__ import annotations

from torch import nn

from towernas.complexity.budgets import Budget
from towernas.complexity.towers import tower_cost
from towernas.data.spec import DatasetSpec
from towernas.retrievers.bst import BST
from towernas.retrievers.dnn import BUDGET_LAYERS, BUDGETS, BaselineTwoTower, budget_layers
from towernas.retrievers.google_dnn import GoogleDNN
from towernas.retrievers.mind import MIND
from towernas.retrievers.senet import SENet
from towernas.retrievers.sizing import GRIDS, PAPER, Size, SizeChoice, build_in_budget, fitting_sizes, select_size
from towernas.runs.errors import UserError
from towernas.runs.registry import Registry
from towernas.space.dims import Dims

MODELS: Registry[type[BaselineTwoTower]] = Registry("baseline", key="retrain.baselines")
for _name, _cls in (("google_dnn", GoogleDNN), ("senet", SENet), ("bst", BST), ("mind", MIND)):
    MODELS.register(_name, _cls)  # in budget: a size of sizing.GRIDS[_name], chosen on validation
    MODELS.register(_name + PAPER, _cls)  # the paper's layers of the budget
BASELINES = MODELS.names()  # every name retrain.baselines accepts
IN_BUDGET = GRIDS.names()  # google_dnn, senet, bst, mind
PAPER_SIZED = tuple(n + PAPER for n in IN_BUDGET)  # google_dnn_paper, ...


def is_paper(name: str) -> bool:
    """Whether baseline ``name`` has the paper's layers (``<family>_paper``) rather than an in-budget size."""
    return name.endswith(PAPER)


def build_baseline(name: str, budget: str | Budget, spec: DatasetSpec, dims: Dims = Dims(),
                   size: str | Size | None = None) -> nn.Module:
    """A freshly initialised baseline ``name`` on a dataset shaped like ``spec``.

    ``<family>_paper``: the paper's layers of ``budget`` (a preset name, or a ``Budget`` named like one).
    ``<family>``: grid size ``size`` (a label of ``sizing.GRIDS[family]`` or a ``Size``), which ``budget``
    (a ``Budget``) must admit by the exact counter; ``sizing.select_size`` chooses it on validation.
    """
    MODELS.get(name)  # an unknown name: one line listing the known ones
    if not is_paper(name):
        return build_in_budget(name, budget, spec, dims, size)
    if size is not None:
        raise UserError(f"baseline {name!r} has the paper's layers of its budget; size= is for {list(IN_BUDGET)}")
    return MODELS.build(name, spec, budget_layers(budget.name if isinstance(budget, Budget) else budget), dims)


__all__ = ["BASELINES", "BST", "BUDGETS", "BUDGET_LAYERS", "GRIDS", "IN_BUDGET", "MIND", "MODELS", "PAPER_SIZED",
           "GoogleDNN", "SENet", "Size", "SizeChoice", "build_baseline", "fitting_sizes", "is_paper", "select_size",
           "tower_cost"]
