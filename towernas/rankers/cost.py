"""A ranker's size and compute, from the project's mechanical counter (``towernas.complexity.counting``).

- ``params``: trainable parameters outside embedding tables (the definition towers use); ``embedding_params``
  apart, since they scale with the catalogue and not with the model.
- ``flops_per_pair``: FLOPs of scoring one (query, candidate) pair, the query side included (C = 1): the CTR
  task's cost per prediction.
- ``flops_per_candidate``: what one more candidate of the same query adds (cost at C = 2 minus C = 1): a cascade
  stage's cost per candidate once the query side is computed.

Example:
    >>> from towernas.rankers import Catalog, build_ranker
    >>> cost = ranker_cost(build_ranker("lr", Catalog(n_users=3, n_items=5, max_len=4)))
    >>> cost.params, cost.embedding_params  # the bias; 3 + 1 user, 5 history lengths, 5 + 1 item scalars
    (1, 15)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from towernas.complexity.counting import count_ops
from towernas.data.batches import RATING_BEFORE, RATINGS, TIME
from towernas.rankers.base import Ranker
from towernas.rankers.pair_features import RANK, SCORE


@dataclass(frozen=True)
class RankerCost:
    params: int
    embedding_params: int
    flops_per_pair: int
    flops_per_candidate: int

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def probe_batch(ranker: Ranker, history_len: int, device: torch.device | str = "cpu") -> dict[str, torch.Tensor]:
    """A one-query batch with a full history and code 1 in every user field (multi-valued: full rows)."""
    batch = {"user": torch.zeros(1, dtype=torch.long, device=device),
             "history": torch.zeros(1, history_len, dtype=torch.long, device=device)}
    for f in ranker.catalog.user_fields:
        batch[f"user:{f.name}"] = torch.ones(1, *((f.width,) if f.multi else ()), dtype=torch.long, device=device)
    batch[TIME] = torch.zeros(1, dtype=torch.long, device=device)
    if getattr(ranker.catalog, "rating_mean", None) is not None:  # every history item rated
        batch[RATINGS] = torch.ones(1, history_len, device=device)
        batch[RATING_BEFORE] = torch.ones(1, device=device)
    return batch


def retriever_inputs(ranker: Ranker, n: int, device) -> dict[str, torch.Tensor]:
    """The retriever's score and rank of ``n`` candidates (zeros) when ``ranker`` reads the ``retriever`` pair
    feature (a fused ranker's inner ranker gets them from the fusion, ``towernas.cascade.fusion``); else none."""
    if "retriever" not in getattr(ranker.catalog, "pair_features", ()):
        return {}
    return {SCORE: torch.zeros(1, n, device=device), RANK: torch.zeros(1, n, device=device)}


def ranker_cost(ranker: Ranker, history_len: int | None = None) -> RankerCost:
    """Params and FLOPs of ``ranker`` (see the module docstring), counted on a full history of ``history_len``
    items (default: the catalogue's ``max_len``)."""
    history_len = ranker.catalog.max_len if history_len is None else history_len
    embedding = sum(p.numel() for m in ranker.modules() if isinstance(m, nn.Embedding) for p in m.parameters())
    total = sum(p.numel() for p in ranker.parameters() if p.requires_grad)
    device = next(iter(ranker.buffers()), next(ranker.parameters())).device
    batch = probe_batch(ranker, history_len, device)
    was_training = ranker.training
    ranker.eval()
    try:
        one, two = (count_ops(ranker, {**batch, **retriever_inputs(ranker, c, device)},
                              torch.zeros(1, c, dtype=torch.long, device=device)).flops for c in (1, 2))
    finally:
        ranker.train(was_training)
    return RankerCost(total - embedding, embedding, one, two - one)
