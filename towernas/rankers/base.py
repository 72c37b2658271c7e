"""The ranker interface and its registry.

A ranker rescores candidates: ``score(batch, items) -> logits``, ``batch`` the query side (user id, history,
user features; ``towernas.data.batches.user_inputs``), ``items`` (B, C) candidate ids, logits (B, C). C = 1 is
the CTR task (one labelled pair per row); C = K0 is a cascade stage rescoring a retriever's list. Logits are
pre-sigmoid, so ``sigmoid(score)`` is a click probability when the ranker was trained pointwise.

Every ranker file registers its class in ``RANKERS`` under its config name; the constructor takes the
``Catalog`` first and then only typed hyperparameters with defaults (no ``**kwargs``): they are the ranker's
config (``ranker=<name>``, derived by ``towernas.config.ranker``), and ``RANKERS.build`` rejects a misspelt one.

Example:
    >>> from towernas.rankers import RANKERS
    >>> "deepfm" in RANKERS.names()
    True
"""

from __future__ import annotations

import torch
from torch import nn

from towernas.rankers.inputs import Catalog, PairFields
from towernas.runs.registry import Registry


class Ranker(nn.Module):
    """Base class: subclasses implement ``forward(batch, items) -> (B, C)`` logits.

    Args:
        catalog: what the ranker is built for (kept, so a saved ranker records what it expects).
    """

    id_only = False  # True: reads the user and candidate ids only (mf, ncf), never the history, features or pair
    # features (so the rating inputs and ``rank.pair_features`` leave it unchanged)

    def __init__(self, catalog: Catalog) -> None:
        super().__init__()
        self.catalog = catalog

    @classmethod
    def constructor_arguments(cls, options: dict) -> dict:
        """The constructor's keyword arguments from the ``ranker`` config's keys (``name`` removed): the keys
        themselves, unless a ranker reads some of them from elsewhere (``ranker=arch``: its ``arch`` file)."""
        return options

    def score(self, batch: dict[str, torch.Tensor], items: torch.Tensor) -> torch.Tensor:
        """(B, C) logits of the candidates ``items`` (B, C) for the queries of ``batch``."""
        return self(batch, items)


def flat(x: torch.Tensor) -> torch.Tensor:
    """(B, C, F, E) -> (B, C, F * E): the concatenated field embeddings a deep part reads."""
    return x.flatten(-2)


def logit(x: torch.Tensor) -> torch.Tensor:
    """(B, C, 1) -> (B, C)."""
    return x.squeeze(-1)


class LinearTerms(nn.Module):
    """First-order terms sum_f w_f(x_f) + b over every field of a pair: (B, C). The "linear" part of LR, FM,
    Wide&Deep and DeepFM (one scalar per feature value: width-1 embedding tables)."""

    def __init__(self, catalog: Catalog) -> None:
        super().__init__()
        self.weights = PairFields(catalog, dim=1)
        with torch.no_grad():  # start every first-order weight at 0: the model starts at the bias
            for p in self.weights.parameters():
                p.zero_()
        self.bias = nn.Parameter(torch.zeros(()))

    def forward(self, batch: dict[str, torch.Tensor], items: torch.Tensor) -> torch.Tensor:
        return self.weights(batch, items).stacked().sum(dim=(2, 3)) + self.bias  # (B, C)


RANKERS: Registry[type[Ranker]] = Registry("ranker", key="ranker.name")
