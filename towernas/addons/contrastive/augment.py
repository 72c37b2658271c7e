"""Behaviour-sequence augmentations of CL4SRec (crop, mask, reorder; Xie et al., ICDE 2022) and CoSeRec
(substitute, insert; Liu et al. 2021), batched tensor ops on right-aligned histories.

A history batch is (B, L) int64, most recent item last, left-padded with ``pad``; a row's length is its
number of non-pad items. Every function takes a right-aligned batch, returns a new (B, L) batch and draws
from the given ``torch.Generator`` only; all but ``mask`` return right-aligned rows. ``mask`` keeps every
item at its position (a dropped item leaves a pad where it stood, as CL4SRec's [mask] token does), so
apply it last if augmentations are chained (``CL4SRec`` applies one per view).

- ``crop(h, ratio)``: a random contiguous window of max(1, floor(ratio * len)) items.
- ``mask(h, ratio)``: each item dropped (set to ``pad``, which embeds to zeros) with probability ``ratio``
  — the towers have no [mask] token, so a masked item is an absent one.
- ``reorder(h, ratio)``: a random contiguous window of max(1, floor(ratio * len)) items shuffled.
- ``substitute(h, ratio, similar)``: each item replaced by its correlated item ``similar[item]``
  with probability ``ratio``.
- ``insert(h, ratio, similar)``: before each item, ``similar[item]`` inserted with probability ``ratio``;
  the latest L items are kept.
"""

from __future__ import annotations

import torch


def lengths(history: torch.Tensor, pad: int) -> torch.Tensor:
    return (history != pad).sum(1)


def _window(history: torch.Tensor, pad: int, ratio: float, gen: torch.Generator):
    """Per row: window length k = max(1, floor(ratio * len)) (0 if empty) and its first column in (B, L)."""
    b, width = history.shape
    n = lengths(history, pad)
    k = torch.clamp((ratio * n.double()).floor().long(), min=1)
    k = torch.minimum(k, n)
    room = (n - k + 1).clamp_min(1)
    offset = (torch.rand(b, generator=gen, device=history.device) * room).long().clamp_max(room - 1)
    return k, width - n + offset


def crop(history: torch.Tensor, pad: int, ratio: float, gen: torch.Generator) -> torch.Tensor:
    width = history.shape[1]
    k, first = _window(history, pad, ratio, gen)
    j = torch.arange(width, device=history.device)[None, :]
    t = j - (width - k[:, None])  # position inside the window, < 0 left of it
    src = (first[:, None] + t).clamp(0, width - 1)
    return torch.where(t >= 0, history.gather(1, src), torch.full_like(history, pad))


def mask(history: torch.Tensor, pad: int, ratio: float, gen: torch.Generator) -> torch.Tensor:
    drop = torch.rand(history.shape, generator=gen, device=history.device) < ratio
    return torch.where(drop, torch.full_like(history, pad), history)


def reorder(history: torch.Tensor, pad: int, ratio: float, gen: torch.Generator) -> torch.Tensor:
    width = history.shape[1]
    k, first = _window(history, pad, ratio, gen)
    j = torch.arange(width, device=history.device)[None, :].double()
    inside = (j >= first[:, None]) & (j < (first + k)[:, None])
    noise = torch.rand(history.shape, generator=gen, device=history.device, dtype=torch.float64)
    key = torch.where(inside, first[:, None] + noise * k[:, None].clamp_min(1), j)  # shuffled inside, fixed out
    return history.gather(1, key.argsort(dim=1, stable=True))


def substitute(history: torch.Tensor, pad: int, ratio: float, gen: torch.Generator,
               similar: torch.Tensor) -> torch.Tensor:
    swap = (torch.rand(history.shape, generator=gen, device=history.device) < ratio) & (history != pad)
    return torch.where(swap, similar[history.clamp_max(len(similar) - 1)], history)


def insert(history: torch.Tensor, pad: int, ratio: float, gen: torch.Generator,
           similar: torch.Tensor) -> torch.Tensor:
    b, width = history.shape
    real = history != pad
    add = (torch.rand(history.shape, generator=gen, device=history.device) < ratio) & real
    inserted = torch.where(add, similar[history.clamp_max(len(similar) - 1)], torch.full_like(history, pad))
    both = torch.stack([inserted, history], dim=2).reshape(b, 2 * width)  # [ins_0, h_0, ins_1, h_1, ...]
    valid = both != pad
    pos = torch.arange(2 * width, device=history.device)[None, :]
    key = torch.where(valid, pos + 2 * width, pos)  # pads first, then the items in order
    return both.gather(1, key.argsort(dim=1, stable=True))[:, -width:]
