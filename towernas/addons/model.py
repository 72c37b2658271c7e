"""``WithAddOns`` (retrievers) and ``RankerWithAddOns`` (rankers): a backbone plus its add-ons, scoring as
the add-ons say at inference.

In training mode ``encode_users`` / ``encode_items`` are the backbone's (the objective applies the
training-time hooks); in eval mode they return the add-ons' inference vectors, so ``evaluate_model``,
the serving export and the cascade rank by the adjusted score without knowing about add-ons. Any other
attribute is the backbone's.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from towernas.addons.base import AddOn, AddOnError


class WithAddOns(nn.Module):
    """``model`` with ``addons`` (their parameters train with it)."""

    def __init__(self, model: nn.Module, addons: Sequence[AddOn]) -> None:
        super().__init__()
        changing = [a.name for a in addons if a.changes_inference]
        if len(changing) > 1:
            raise AddOnError(f"addons={changing}: at most one add-on may change the inference scores")
        self.model = model
        self.addons = nn.ModuleList(addons)

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            model = self.__dict__["_modules"].get("model")
            if model is None:
                raise
            return getattr(model, name)

    def encode_users(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        vectors = self.model.encode_users(batch)
        if not self.training:
            for addon in self.addons:
                vectors = addon.query_vectors(vectors, batch)
        return vectors

    def encode_items(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        vectors = self.model.encode_items(batch)
        if not self.training:
            for addon in self.addons:
                vectors = addon.item_vectors(vectors, batch)
        return vectors


class RankerWithAddOns(nn.Module):
    """A ranker with ``addons``: ``score`` is the ranker's in training (the ranker trainer applies the training
    hooks) and the add-ons' ``inference_scores`` of it in eval mode. Any other attribute is the ranker's."""

    def __init__(self, ranker: nn.Module, addons: Sequence[AddOn]) -> None:
        super().__init__()
        changing = [a.name for a in addons if a.changes_inference]
        if len(changing) > 1:
            raise AddOnError(f"addons={changing}: at most one add-on may change the inference scores")
        self.ranker = ranker
        self.addons = nn.ModuleList(addons)

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            ranker = self.__dict__["_modules"].get("ranker")
            if ranker is None:
                raise
            return getattr(ranker, name)

    def score(self, batch: dict[str, torch.Tensor], items: torch.Tensor) -> torch.Tensor:
        logits = self.ranker.score(batch, items)
        if not self.training:
            for addon in self.addons:
                logits = addon.inference_scores(logits, items, batch)
        return logits

    def forward(self, batch: dict[str, torch.Tensor], items: torch.Tensor) -> torch.Tensor:
        return self.score(batch, items)
