"""Retrieval losses: the in-batch softmax with logQ, and the candidate losses every sampler feeds.

In-batch sampled softmax with logQ correction (Yi et al., RecSys 2019): for a batch of B
(query, positive item) pairs with L2-normalised embeddings u_i, v_j,

    s_ij = <u_i, v_j> / tau - log p_j,        loss = -sum_i r_i * log softmax_j(s_ij)[i] / sum_i r_i

where p_j is the probability that item j appears in a batch (its sampling probability). Columns
holding the same item as the positive of row i (accidental hits) are masked out of row i.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from towernas.runs.registry import Registry


def in_batch_softmax(
    query: torch.Tensor,
    item: torch.Tensor,
    item_ids: torch.Tensor,
    *,
    temperature: float = 0.05,
    log_q: torch.Tensor | None = None,
    weights: torch.Tensor | None = None,
    offset: int = 0,
) -> torch.Tensor:
    """Mean in-batch softmax loss.

    Args:
        query: (B, D) query embeddings (normalised by the tower).
        item: (B, D) embeddings of each row's positive item.
        item_ids: (B,) ids of those items, to mask accidental hits.
        temperature: tau.
        log_q: (B,) log sampling probability of each batch item (None: no correction).
        weights: (B,) per-example weights r_i (None: all ones).
        offset: data parallel: ``query`` holds b <= B rows whose positives are ``item[offset : offset + b]``
            (one rank's share of a global batch gathered by ``towernas.train.distributed.gather_rows``); the
            loss is the mean over those b rows, each scored against all B items.

    Example:
        >>> q = F.normalize(torch.randn(4, 8), dim=-1)
        >>> float(in_batch_softmax(q, q, torch.arange(4))) >= 0
        True
    """
    return in_batch_softmax_scores(query @ item.T, item_ids, temperature=temperature, log_q=log_q, weights=weights,
                                   offset=offset)


def in_batch_softmax_scores(
    scores: torch.Tensor,
    item_ids: torch.Tensor,
    *,
    temperature: float = 0.05,
    log_q: torch.Tensor | None = None,
    weights: torch.Tensor | None = None,
    offset: int = 0,
) -> torch.Tensor:
    """The same loss from a precomputed (B, B) matrix of cosine scores ``s_ij`` (query i, item j) —
    for models whose query depends on the candidate (e.g. MIND's label-aware attention); (b, B) rows
    ``offset … offset + b`` of it for one rank's share of a gathered batch."""
    logits = scores / temperature  # (b, B)
    if log_q is not None:
        logits = logits - log_q[None, :]
    rows = len(scores)
    if offset == 0 and rows == len(item_ids):  # the whole batch (one process)
        same_item = item_ids[:, None] == item_ids[None, :]
        accidental = same_item & ~torch.eye(len(item_ids), dtype=torch.bool, device=logits.device)
        target = torch.arange(len(item_ids), device=logits.device)
        return softmax_loss(logits, target, accidental, weights)
    target = torch.arange(offset, offset + rows, device=logits.device)
    accidental = (item_ids[target][:, None] == item_ids[None, :]).scatter(1, target[:, None], False)
    return softmax_loss(logits, target, accidental, weights)


def softmax_loss(logits: torch.Tensor, target: torch.Tensor, invalid: torch.Tensor,
                 weights: torch.Tensor | None = None, pair_weights: torch.Tensor | None = None) -> torch.Tensor:
    """Sampled softmax over each row's candidates: -log softmax(logits)[target], invalid columns masked.

    Args:
        logits: (B, C) already scaled (and logQ-corrected by the caller when that applies).
        target: (B,) column of each row's positive. invalid: (B, C) bool, columns to drop (accidental hits).
        weights: (B,) per-row weights (None: all ones); the mean is weighted by them.
        pair_weights: not defined for the softmax (must be None).
    """
    if pair_weights is not None:
        raise ValueError("pair_weights apply to pairwise / pointwise losses (bpr, bce), not the softmax")
    per_row = F.cross_entropy(logits.masked_fill(invalid, float("-inf")), target, reduction="none")
    return weighted_mean(per_row, weights)


def bpr_loss(logits: torch.Tensor, target: torch.Tensor, invalid: torch.Tensor,
             weights: torch.Tensor | None = None, pair_weights: torch.Tensor | None = None) -> torch.Tensor:
    """BPR (Rendle et al. 2009): per row the mean over its valid negatives j of -log sigmoid(l_pos - l_j),
    each pair weighted by ``pair_weights`` (B, C) when given; rows then weighted by ``weights``."""
    positive = logits.gather(1, target[:, None])  # (B, 1)
    pairs = F.softplus(-(positive - logits))  # (B, C): -log sigmoid(l_pos - l_j)
    return weighted_mean(_mean_over_negatives(pairs, target, invalid, pair_weights), weights)


def bce_loss(logits: torch.Tensor, target: torch.Tensor, invalid: torch.Tensor,
             weights: torch.Tensor | None = None, pair_weights: torch.Tensor | None = None) -> torch.Tensor:
    """Pointwise binary cross-entropy: per row -log sigmoid(l_pos) + mean over valid negatives of
    -log(1 - sigmoid(l_j)) (negatives weighted by ``pair_weights`` when given); rows weighted by ``weights``."""
    positive = F.softplus(-logits.gather(1, target[:, None]))[:, 0]  # (B,)
    negative = _mean_over_negatives(F.softplus(logits), target, invalid, pair_weights)
    return weighted_mean(positive + negative, weights)


def _mean_over_negatives(values: torch.Tensor, target: torch.Tensor, invalid: torch.Tensor,
                         pair_weights: torch.Tensor | None) -> torch.Tensor:
    """(B,) mean of ``values`` (B, C) over each row's negative columns (not the target, not invalid)."""
    keep = ~invalid
    keep = keep.scatter(1, target[:, None], False)
    w = keep.to(values.dtype) if pair_weights is None else keep * pair_weights
    return (values * w).sum(1) / keep.sum(1).clamp_min(1)


def weighted_mean(per_row: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
    """The mean of ``per_row``, self-normalised by ``weights`` when given: sum w l / sum w."""
    if weights is None:
        return per_row.mean()
    return (per_row * weights).sum() / weights.sum().clamp_min(1e-12)


# Losses over a (B, C) candidate matrix. ``softmax`` is the sampled softmax with the sampler's logQ
# correction; ``infonce`` the same softmax without it (the plain contrastive InfoNCE bound over the
# sampled candidates); ``bpr`` and ``bce`` use the uncorrected logits (logQ is a softmax correction).
# ``retrain.loss`` and ``supernet.loss`` name one of them (the key of a message is the caller's).
LOSSES: Registry[Callable[..., torch.Tensor]] = Registry("loss", key="retrain.loss")
for _name, _loss in (("softmax", softmax_loss), ("infonce", softmax_loss), ("bpr", bpr_loss), ("bce", bce_loss)):
    LOSSES.register(_name, _loss)
CORRECTED = frozenset({"softmax"})
