"""Layers over a (query, candidate) pair's numeric features, for rankers.

- ``NumericFields``: n scalar features -> n field embeddings, ``e_f = x_f * w_f + b_f`` (AutoInt's embedding
  of numeric fields), so any ranker reads them beside its categorical fields.
- ``NeighbourAffinity``: how close a candidate is to the history through an item-item similarity table kept
  as every item's top-M neighbours: the mean of ``sim(h, c)`` over the history's items and over its latest
  ``recent`` items (``sim(h, c) = 0`` when c is not among h's neighbours).
- ``CodeAffinity``: how much of the history shares the candidate's categories: for every code of the
  candidate, the share of history items carrying it, averaged over the candidate's codes (0 = missing).
- ``NeighbourRating``: item-based collaborative filtering's estimate from a user's ratings of a candidate's
  neighbours: ``sum_j w_j (r_j - centre) / sum_j w_j`` over the rated neighbours j, and the similarity
  ``sum_j w_j`` it rests on.

Example:
    >>> import torch
    >>> fields = NumericFields(2, dim=4)
    >>> fields(torch.zeros(3, 5, 2)).shape  # (B, C, n) -> (B, C, n, E)
    torch.Size([3, 5, 2, 4])
"""

from __future__ import annotations

import math

import torch
from torch import nn


class NumericFields(nn.Module):
    """Args: n: features per pair; dim: the embedding width (1: a first-order weight per feature)."""

    def __init__(self, n: int, dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n, dim) * 0.05)
        self.bias = nn.Parameter(torch.zeros(n, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(..., n) -> (..., n, dim)."""
        return x.unsqueeze(-1) * self.weight + self.bias


class NeighbourAffinity(nn.Module):
    """Args: neighbours: (N + 1, M) item rows of every item's top-M neighbours (row N, the padding item, and
    unused slots hold N); weights: (N + 1, M) their similarities; recent: the latest items of the second mean."""

    def __init__(self, neighbours: torch.Tensor, weights: torch.Tensor, recent: int = 3) -> None:
        super().__init__()
        if neighbours.shape != weights.shape or neighbours.dim() != 2:
            raise ValueError(f"neighbours {tuple(neighbours.shape)} and weights {tuple(weights.shape)}: expected the "
                             "same (N + 1, M) shape")
        self.register_buffer("neighbours", neighbours.long())
        self.register_buffer("weights", weights.float())
        self.recent = recent

    @property
    def pad(self) -> int:
        return self.neighbours.shape[0] - 1

    def forward(self, history: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """history (B, L) item rows (right-aligned, padding = N), items (B, C) -> (B, C, 2)."""
        b, length = history.shape
        out = []
        for window in (length, min(self.recent, length)):
            h = history[:, -window:]
            real = (h != self.pad).float()  # (B, w)
            weights = self.weights[h] * real.unsqueeze(-1)  # (B, w, M), padding rows contribute nothing
            scores = torch.zeros(b, self.pad + 1, device=history.device, dtype=weights.dtype)
            scores.scatter_add_(1, self.neighbours[h].reshape(b, -1), weights.reshape(b, -1))
            out.append(scores.gather(1, items) / real.sum(1, keepdim=True).clamp_min(1.0))
        return torch.stack(out, -1)


class CodeAffinity(nn.Module):
    """Args: codes: (N + 1, W) every item's category codes of one field (0 = missing; row N, the padding item, all
    0); n_codes: the field's cardinality (codes are 0..n_codes-1)."""

    def __init__(self, codes: torch.Tensor, n_codes: int) -> None:
        super().__init__()
        self.register_buffer("codes", codes.long().reshape(codes.shape[0], -1))
        self.n_codes = n_codes

    def forward(self, history: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """history (B, L) item rows (padding = N), items (B, C) -> (B, C)."""
        b = history.shape[0]
        pad = self.codes.shape[0] - 1
        real = history != pad
        held = self.codes[history]  # (B, L, W)
        # a history item counts once per code it carries (a repeated code within an item counts once)
        first = torch.ones_like(held, dtype=torch.bool)
        first[..., 1:] = held[..., 1:] != held[..., :-1]
        counts = torch.zeros(b, self.n_codes, device=history.device)
        counts.scatter_add_(1, held.reshape(b, -1), ((held > 0) & first & real.unsqueeze(-1)).float().reshape(b, -1))
        share = counts / real.sum(1, keepdim=True).clamp_min(1).float()  # (B, V)
        wanted = self.codes[items]  # (B, C, W)
        present = (wanted > 0).float()
        got = share.gather(1, wanted.reshape(b, -1)).reshape(wanted.shape) * present
        return got.sum(-1) / present.sum(-1).clamp_min(1.0)


class NeighbourRating(nn.Module):
    """``(ratings (..., M), rated (..., M), weights (..., M), centre (...)) -> (..., 2)``: ratings are the user's of
    the candidate's M neighbours where ``rated`` is True (ignored elsewhere), weights their similarity to the
    candidate. Out: the weighted mean of ``rating - centre`` over the rated neighbours with a positive weight (0
    with none), and ``log(1 + sum w) / log(1 + M)`` (how much similarity the mean rests on)."""

    def forward(self, ratings: torch.Tensor, rated: torch.Tensor, weights: torch.Tensor,
                centre: torch.Tensor) -> torch.Tensor:
        w = torch.where(rated & (weights > 0), weights, 0.0)
        total = w.sum(-1)
        mean = (w * (ratings - centre.unsqueeze(-1))).sum(-1) / total.clamp_min(1e-12)
        return torch.stack([mean, torch.log1p(total) / math.log1p(ratings.shape[-1])], -1)
