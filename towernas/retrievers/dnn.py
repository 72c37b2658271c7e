"""Pieces shared by the hand-crafted baselines: budget layer lists, the DNN towers and ``BaselineTwoTower``,
the base class that gives every baseline the same embedder and the same ``user_tower`` / ``item_tower``
split as searched models (so ``towernas.complexity.towers`` counts them exactly like searched towers:
embedding tables excluded, everything after the lookup included).

Every op used inside a tower is one the complexity counter classifies (``towernas.complexity.counting``):
Linear, ReLU, sigmoid, element-wise arithmetic, reductions, softmax, masked_fill, nan_to_num. That is
why the layers of ``towernas.nn`` (LayerNorm, attention) and MIND's squash are written out by hand.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from towernas.data.spec import DatasetSpec
from towernas.nn.embeddings import Embedder
from towernas.nn.mlp import mlp
from towernas.nn.pooling import masked_mean
from towernas.space.dims import Dims

# Hidden layers of the DNN per budget (Yi et al. 2019 as configured in the AutoTower paper); the last
# layer is the tower output (no ReLU after it), then L2 normalisation.
BUDGET_LAYERS: dict[str, tuple[int, ...]] = {
    "L": (256, 192, 128),
    "M": (512, 256, 128),
    "H": (1024, 512, 256, 128),
}
BUDGETS = tuple(BUDGET_LAYERS)


def budget_layers(budget: str) -> tuple[int, ...]:
    """The DNN layer list of ``budget`` ("L", "M" or "H")."""
    try:
        return BUDGET_LAYERS[budget]
    except KeyError:
        raise ValueError(f"unknown budget {budget!r}; expected one of {list(BUDGETS)}") from None


class DNNUserTower(nn.Module):
    """GoogleDNN user tower: ``normalize(DNN([user field embeddings; mean(history)]))``.

    Args:
        n_fields: number of user side fields F_u.
        layers: DNN layer widths (the last is the output width).
        embed: embedding width E.
    """

    def __init__(self, n_fields: int, layers: Sequence[int], embed: int) -> None:
        super().__init__()
        self.dnn = mlp((n_fields + 1) * embed, layers)

    def forward(self, fields: torch.Tensor, history: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = torch.cat([fields.flatten(1), masked_mean(history, mask)], dim=1)  # (B, (F_u + 1) E)
        return F.normalize(self.dnn(x), dim=-1)  # (B, layers[-1])


class DNNItemTower(nn.Module):
    """GoogleDNN item tower: ``normalize(DNN([item id embedding; item field embeddings]))``."""

    def __init__(self, n_inputs: int, layers: Sequence[int], embed: int) -> None:
        super().__init__()
        self.dnn = mlp(n_inputs * embed, layers)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:  # (B, 1 + F_i, E) -> (B, layers[-1])
        return F.normalize(self.dnn(inputs.flatten(1)), dim=-1)


class BaselineTwoTower(nn.Module):
    """Embedder + ``user_tower(fields, history, mask)`` + ``item_tower(inputs)``, like ``TwoTowerModel``.

    Subclasses set ``self.user_tower`` and ``self.item_tower``; the embedding tables (item ids shared
    by history and item tower, side fields) live in ``self.embedder`` and are excluded from cost.

    Args:
        spec: dataset shape. dims: only ``dims.embed`` is used (the embedding width E).
        layers: the DNN layer list of the budget.
    """

    def __init__(self, spec: DatasetSpec, layers: Sequence[int], dims: Dims) -> None:
        super().__init__()
        self.spec, self.dims, self.layers = spec, dims, tuple(layers)
        self.embedder = Embedder(spec, dims.embed)

    @property
    def out_dim(self) -> int:
        return self.layers[-1]

    def encode_users(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.user_tower(*self.embedder.user_inputs(batch))

    def encode_items(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.item_tower(self.embedder.item_inputs(batch))
