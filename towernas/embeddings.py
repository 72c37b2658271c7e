"""Embedding of categorical input fields: one vector per field, ready for a tower."""

from __future__ import annotations

import torch
from torch import nn

from towernas.data.features import Field


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
