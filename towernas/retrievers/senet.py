"""SENET two-tower: squeeze-and-excitation over the field embeddings before the GoogleDNN DNN.

For the F input fields of a tower, x (B, F, E) (user tower: the F_u side fields and the mean-pooled
history as one more field; item tower: the item id and the F_i side fields):

    z = mean_e x[:, f, e]                          squeeze, (B, F)
    a = sigmoid(W2 relu(W1 z))                     excitation, W1: F -> max(1, F // r), W2: back to F
    x'[:, f, :] = a[:, f] * x[:, f, :]             reweight each field

then ``normalize(DNN(flatten(x')))`` exactly as GoogleDNN (Hu et al. 2018; used on field embeddings as
in FiBiNET, Huang et al. 2019).

Example:
    >>> from towernas.data.spec import DatasetSpec
    >>> model = SENet(DatasetSpec((), (), n_items=10, max_len=4), (32, 16))
    >>> model.encode_users({"history": torch.tensor([[10, 1, 2, 3]])}).shape
    torch.Size([1, 16])
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from towernas.data.spec import DatasetSpec
from towernas.nn.mlp import mlp
from towernas.nn.pooling import masked_mean
from towernas.nn.squeeze_excitation import SqueezeExcitation
from towernas.retrievers.dnn import BaselineTwoTower
from towernas.space.dims import Dims


class SENetItemTower(nn.Module):
    """SE over [item id; item fields], then the DNN."""

    def __init__(self, n_inputs: int, layers: Sequence[int], embed: int) -> None:
        super().__init__()
        self.se = SqueezeExcitation(n_inputs)
        self.dnn = mlp(n_inputs * embed, layers)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:  # (B, F, E) -> (B, layers[-1])
        return F.normalize(self.dnn(self.se(inputs).flatten(1)), dim=-1)


class SENetUserTower(nn.Module):
    """Mean-pool the history into one more field, then the item-tower recipe over the F_u + 1 fields."""

    def __init__(self, n_fields: int, layers: Sequence[int], embed: int) -> None:
        super().__init__()
        self.tower = SENetItemTower(n_fields + 1, layers, embed)

    def forward(self, fields: torch.Tensor, history: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        pooled = masked_mean(history, mask).unsqueeze(1)  # (B, 1, E)
        return self.tower(torch.cat([fields, pooled], dim=1))  # (B, F_u + 1, E) -> (B, out)


class SENet(BaselineTwoTower):
    """GoogleDNN with squeeze-excitation over each tower's field embeddings."""

    def __init__(self, spec: DatasetSpec, layers: Sequence[int], dims: Dims = Dims()) -> None:
        super().__init__(spec, layers, dims)
        self.user_tower = SENetUserTower(len(spec.user_fields), layers, dims.embed)
        self.item_tower = SENetItemTower(spec.n_item_inputs, layers, dims.embed)
