"""``WithAddOns`` (retrievers) and ``RankerWithAddOns`` (rankers): a backbone plus its add-ons, scoring as
the add-ons say at inference.

In training mode ``encode_users`` / ``encode_items`` (``score``) are the backbone's (the trainer applies the
training-time hooks); in eval mode they return the add-ons' inference vectors (scores), so
``evaluate_model``, the serving export and the cascade rank by the adjusted score without knowing about
add-ons. Any other attribute is the backbone's.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from towernas.addons.base import AddOn, check_one_inference_change


class _WithAddOns(nn.Module):
    """A backbone registered under ``backbone_attr`` plus ``addons`` (their parameters train with it); other
    attributes fall through to the backbone."""

    backbone_attr = "model"

    def __init__(self, backbone: nn.Module, addons: Sequence[AddOn]) -> None:
        super().__init__()
        check_one_inference_change(addons, "addons")
        setattr(self, self.backbone_attr, backbone)
        self.addons = nn.ModuleList(addons)

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            backbone = self.__dict__["_modules"].get(self.backbone_attr)
            if backbone is None:
                raise
            return getattr(backbone, name)


class WithAddOns(_WithAddOns):
    """A two-tower ``model`` with ``addons``: in eval mode its vectors are the add-ons' inference vectors."""

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


class RankerWithAddOns(_WithAddOns):
    """A ranker with ``addons``: ``score`` is the ranker's in training and the add-ons' ``inference_scores`` of it
    in eval mode."""

    backbone_attr = "ranker"

    def score(self, batch: dict[str, torch.Tensor], items: torch.Tensor) -> torch.Tensor:
        logits = self.ranker.score(batch, items)
        if not self.training:
            for addon in self.addons:
                logits = addon.inference_scores(logits, items, batch)
        return logits

    def forward(self, batch: dict[str, torch.Tensor], items: torch.Tensor) -> torch.Tensor:
        return self.score(batch, items)
