"""A small hand-built two-tower: side-feature embeddings + mean-pooled history, one MLP per tower.

It is the sanity check of the data and the protocol (it must clearly beat popularity on the embedded
dataset) and the simplest member of the baseline family.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from towernas.data.features import Field
from towernas.nn.embeddings import FieldEmbeddings
from towernas.nn.mlp import mlp
from towernas.nn.pooling import masked_mean


class MeanPoolTwoTower(nn.Module):
    """user = MLP([user fields; mean(history item embeddings)]), item = MLP([item id; item fields]).

    Both outputs are L2-normalised (cosine scores). The item-id table is shared by the history and
    the item tower; its last row (``n_items``) is the history padding.

    Example:
        >>> m = MeanPoolTwoTower([], [], n_items=10, dim=8, hidden=(16,), out_dim=4)
        >>> m.encode_items({"item": torch.tensor([1, 2])}).shape
        torch.Size([2, 4])
    """

    def __init__(self, user_fields: list[Field], item_fields: list[Field], n_items: int, dim: int = 32,
                 hidden: tuple[int, ...] = (128,), out_dim: int = 64) -> None:
        super().__init__()
        self.pad = n_items
        self.item_ids = nn.Embedding(n_items + 1, dim, padding_idx=n_items)
        nn.init.normal_(self.item_ids.weight, std=0.05)
        self.user_fields = FieldEmbeddings(user_fields, dim, "user")
        self.item_fields = FieldEmbeddings(item_fields, dim, "item")
        self.user_mlp = mlp(dim * (len(user_fields) + 1), (*hidden, out_dim))
        self.item_mlp = mlp(dim * (len(item_fields) + 1), (*hidden, out_dim))

    def encode_users(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        history = batch["history"]  # (B, L)
        pooled = masked_mean(self.item_ids(history), history != self.pad)  # (B, D)
        parts = [pooled]
        if self.user_fields.fields:
            parts.append(self.user_fields(batch).flatten(1))  # (B, F*D)
        return F.normalize(self.user_mlp(torch.cat(parts, dim=1)), dim=-1)

    def encode_items(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        parts = [self.item_ids(batch["item"])]
        if self.item_fields.fields:
            parts.append(self.item_fields(batch).flatten(1))
        return F.normalize(self.item_mlp(torch.cat(parts, dim=1)), dim=-1)
