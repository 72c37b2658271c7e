"""Embedding tables: categorical input fields (``FieldEmbeddings``) and a two-tower model's tables (``Embedder``)."""

from __future__ import annotations

import torch
from torch import nn

from towernas.data.features import Field
from towernas.data.spec import DatasetSpec


class FieldEmbeddings(nn.Module):
    """Embeds each field of one side (user or item) into ``dim`` and stacks them: (B, F, dim).

    Single-valued fields use an ``nn.Embedding``; multi-valued fields (B, width) are mean-pooled
    over their non-padding values (code 0 = padding/missing; an all-padding row gives zeros).

    Args:
        fields: the side's fields, read from ``batch[f"{prefix}:{field.name}"]``.
        dim: embedding width.
        prefix: "user" or "item".
    """

    def __init__(self, fields: list[Field], dim: int, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix
        self.fields = list(fields)
        self.tables = nn.ModuleDict({f.name: nn.Embedding(f.cardinality, dim, padding_idx=0) for f in fields})
        for table in self.tables.values():
            nn.init.normal_(table.weight, std=0.05)
            with torch.no_grad():
                table.weight[0].zero_()

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        out = []
        for f in self.fields:
            codes = batch[f"{self.prefix}:{f.name}"]
            emb = self.tables[f.name](codes)  # (B, D) or (B, W, D)
            if f.multi:
                count = (codes > 0).sum(-1, keepdim=True).clamp_min(1)  # (B, 1)
                emb = emb.sum(1) / count
            out.append(emb)
        return torch.stack(out, dim=1)  # (B, F, D)


class Embedder(nn.Module):
    """All embedding tables of a two-tower model (excluded from tower complexity).

    Args:
        spec: the dataset's fields and catalogue size (item id ``n_items`` is the history padding).
        embed: width E of every table.
    """

    def __init__(self, spec: DatasetSpec, embed: int) -> None:
        super().__init__()
        self.pad = spec.n_items
        self.item_ids = nn.Embedding(spec.n_items + 1, embed, padding_idx=spec.n_items)
        nn.init.normal_(self.item_ids.weight, std=0.05)
        with torch.no_grad():
            self.item_ids.weight[spec.n_items].zero_()
        self.user_fields = FieldEmbeddings(list(spec.user_fields), embed, "user")
        self.item_fields = FieldEmbeddings(list(spec.item_fields), embed, "item")

    def user_inputs(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(fields (B, F_u, E), history (B, L, E), mask (B, L))."""
        history = batch["history"]
        fields = self._fields(self.user_fields, batch, history.shape[0])
        return fields, self.item_ids(history), history != self.pad

    def item_inputs(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """(B, 1 + F_i, E): the item id first, then the item fields."""
        ids = self.item_ids(batch["item"]).unsqueeze(1)
        return torch.cat([ids, self._fields(self.item_fields, batch, ids.shape[0])], dim=1)

    def _fields(self, embed: FieldEmbeddings, batch, n: int) -> torch.Tensor:
        if not embed.fields:
            return self.item_ids.weight.new_zeros(n, 0, self.item_ids.embedding_dim)
        return embed(batch)
