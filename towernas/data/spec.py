"""``DatasetSpec``: what a model needs to know about a dataset (fields, catalogue size, history length)."""

from __future__ import annotations

from dataclasses import dataclass

from towernas.data.features import Field
from towernas.data.interactions import InteractionData


@dataclass(frozen=True)
class DatasetSpec:
    """What a model needs to know about a dataset: its fields, catalogue size and history length."""

    user_fields: tuple[Field, ...]
    item_fields: tuple[Field, ...]
    n_items: int
    max_len: int

    @classmethod
    def from_data(cls, data: InteractionData) -> "DatasetSpec":
        return cls(tuple(data.user_features.fields), tuple(data.item_features.fields), data.n_items, data.max_len)

    @property
    def n_user_inputs(self) -> int:
        return len(self.user_fields) + 1  # + pooled history

    @property
    def n_item_inputs(self) -> int:
        return len(self.item_fields) + 1  # + item id
