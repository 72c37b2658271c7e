"""Retrieval losses.

In-batch sampled softmax with logQ correction (Yi et al., RecSys 2019): for a batch of B
(query, positive item) pairs with L2-normalised embeddings u_i, v_j,

    s_ij = <u_i, v_j> / tau - log p_j,        loss = -sum_i r_i * log softmax_j(s_ij)[i] / sum_i r_i

where p_j is the probability that item j appears in a batch (its sampling probability). Columns
holding the same item as the positive of row i (accidental hits) are masked out of row i.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def in_batch_softmax(
    query: torch.Tensor,
    item: torch.Tensor,
    item_ids: torch.Tensor,
    *,
    temperature: float = 0.05,
    log_q: torch.Tensor | None = None,
    weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """Mean in-batch softmax loss.

    Args:
        query: (B, D) query embeddings (normalised by the tower).
        item: (B, D) embeddings of each row's positive item.
        item_ids: (B,) ids of those items, to mask accidental hits.
        temperature: tau.
        log_q: (B,) log sampling probability of each batch item (None: no correction).
        weights: (B,) per-example weights r_i (None: all ones).

    Example:
        >>> q = F.normalize(torch.randn(4, 8), dim=-1)
        >>> float(in_batch_softmax(q, q, torch.arange(4))) >= 0
        True
    """
    return in_batch_softmax_scores(query @ item.T, item_ids, temperature=temperature, log_q=log_q, weights=weights)


def in_batch_softmax_scores(
    scores: torch.Tensor,
    item_ids: torch.Tensor,
    *,
    temperature: float = 0.05,
    log_q: torch.Tensor | None = None,
    weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """The same loss from a precomputed (B, B) matrix of cosine scores ``s_ij`` (query i, item j) —
    for models whose query depends on the candidate (e.g. MIND's label-aware attention)."""
    logits = scores / temperature  # (B, B)
    if log_q is not None:
        logits = logits - log_q[None, :]
    same_item = item_ids[:, None] == item_ids[None, :]
    accidental = same_item & ~torch.eye(len(item_ids), dtype=torch.bool, device=logits.device)
    logits = logits.masked_fill(accidental, float("-inf"))
    target = torch.arange(len(item_ids), device=logits.device)
    per_example = F.cross_entropy(logits, target, reduction="none")
    if weights is None:
        return per_example.mean()
    return (per_example * weights).sum() / weights.sum().clamp_min(1e-12)
