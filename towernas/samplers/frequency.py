"""Streaming estimate of how often each item shows up in a batch (Yi et al., RecSys 2019).

For the logQ correction of the in-batch softmax, every item needs its sampling probability. On an
unbounded stream (the supernet samples batches for as long as it trains) it is estimated online from the
gaps between the steps at which an item is seen. Per batch at global step t (1, 2, ...), for each
distinct item i of the batch:

    B[i] <- (1 - alpha) * B[i] + alpha * (t - A[i])        # EMA of the gap between occurrences
    A[i] <- t                                               # last step i was seen (0: never)
    C[i] <- C[i] + 1                                        # number of occurrences

``duplicates`` decides what an item drawn m > 1 times in one batch counts as, and so what 1/B estimates
for batches of b iid draws in which item i has per-draw probability p_i:

- ``"once"`` (Yi et al. verbatim): one occurrence. The gaps are geometric with mean 1/q_i, so 1/B[i]
  estimates **q_i = 1 - (1 - p_i)^b, the per-step occurrence probability** (the probability that a
  batch holds i at least once). q_i ~ b * p_i for rare items but saturates at 1 for items in almost every
  batch, so the logQ correction under-corrects popular items (tests/samplers/test_frequency.py measures it).
- ``"count"`` (default): m occurrences, the first with gap t - A[i] and m - 1 with gap 0, i.e.
  ``B <- (1-alpha)^m B + alpha (1-alpha)^(m-1) (t - A[i])``, C += m. Then 1/B[i] estimates
  **b * p_i, the expected number of times i is drawn per step**, proportional to p_i at any popularity,
  which is what the in-batch softmax's logQ term needs (the constant log b cancels in the softmax).

B starts at 0, so like Adam's moments the EMA is bias-corrected: the gap estimate is
B[i] / (1 - (1 - alpha)^C[i]), i.e. the plain mean of the observed gaps for the first few occurrences
instead of a value dragged towards 0 (which would make early log q huge). The first gap is counted
from step 0. An item never seen after t steps gets q = 1 / (t + 1).

Example:
    >>> once, count = StreamingFrequencyEstimator(5, duplicates="once"), StreamingFrequencyEstimator(5)
    >>> for _ in range(4):  # item 0 twice in every batch, item 1 once, item 2 never
    ...     once.update(torch.tensor([0, 0, 1])); count.update(torch.tensor([0, 0, 1]))
    >>> [round(x, 2) for x in once.probability(torch.tensor([0, 1, 2])).tolist()]
    [1.0, 1.0, 0.2]
    >>> [round(x, 2) for x in count.probability(torch.tensor([0, 1, 2])).tolist()]
    [2.01, 1.0, 0.2]
"""

from __future__ import annotations

import math

import torch


class StreamingFrequencyEstimator:
    """Per-item occurrence probabilities from a stream of batches, fully tensorized.

    Args:
        n_items: catalogue size (ids ``0..n_items-1``).
        alpha: EMA rate of the gap estimate (effective memory ~ 1/alpha occurrences).
        device: where the arrays live (the device of the batches).
        duplicates: "count" (1/B estimates draws per step) or "once" (batches holding the item per step).
    """

    def __init__(self, n_items: int, alpha: float = 0.01, device: torch.device | str = "cpu",
                 duplicates: str = "count") -> None:
        if not 0.0 < alpha <= 1.0:
            raise ValueError(f"alpha={alpha}: expected 0 < alpha <= 1")
        if duplicates not in ("count", "once"):
            raise ValueError(f"duplicates={duplicates!r}: expected 'count' or 'once'")
        self.n_items, self.alpha, self.duplicates = int(n_items), float(alpha), duplicates
        self.step = 0
        self.last_seen = torch.zeros(n_items, dtype=torch.long, device=device)  # A
        self.gap_ema = torch.zeros(n_items, dtype=torch.float64, device=device)  # B (uncorrected)
        self.count = torch.zeros(n_items, dtype=torch.long, device=device)  # C

    @property
    def device(self) -> torch.device:
        return self.gap_ema.device

    @torch.no_grad()
    def update(self, item_ids: torch.Tensor) -> None:
        """Advance to the next step and record the items of its batch (any shape)."""
        self.step += 1
        # sorted distinct ids: every index below is written once, so the update is deterministic
        seen, times = torch.unique(item_ids.to(self.device).reshape(-1), return_counts=True)
        if self.duplicates == "once":
            times = torch.ones_like(times)
        gap = (self.step - self.last_seen[seen]).to(torch.float64)
        keep = (1.0 - self.alpha) ** times.to(torch.float64)  # (1-alpha)^m: m EMA steps in a row
        first = self.alpha * (1.0 - self.alpha) ** (times - 1).to(torch.float64)  # weight of the real gap
        self.gap_ema[seen] = keep * self.gap_ema[seen] + first * gap
        self.last_seen[seen] = self.step
        self.count[seen] += times

    @torch.no_grad()
    def expected_gap(self, item_ids: torch.Tensor) -> torch.Tensor:
        """Bias-corrected estimate of the steps between two batches holding each item: (same shape,) float64."""
        ids = item_ids.to(self.device)
        count = self.count[ids].to(torch.float64)
        # 1 - (1 - alpha)^C, computed stably; 0 for unseen items (guarded below)
        correction = -torch.expm1(count * math.log1p(-self.alpha)) if self.alpha < 1 else (count > 0).double()
        corrected = self.gap_ema[ids] / correction.clamp_min(1e-300)
        return torch.where(count > 0, corrected, torch.full_like(corrected, self.step + 1.0))

    def probability(self, item_ids: torch.Tensor) -> torch.Tensor:
        """Estimated per-step occurrence probability 1 / gap: (same shape,) float32."""
        return self.expected_gap(item_ids).reciprocal().float()

    def log_q(self, item_ids: torch.Tensor) -> torch.Tensor:
        """log(1 / gap), the logQ correction term of each id: (same shape,) float32."""
        return (-self.expected_gap(item_ids).log()).float()

    def state_dict(self) -> dict:
        return {"n_items": self.n_items, "alpha": self.alpha, "duplicates": self.duplicates, "step": self.step, "last_seen": self.last_seen,
                "gap_ema": self.gap_ema, "count": self.count}

    def load_state_dict(self, state: dict) -> None:
        mine = (self.n_items, self.alpha, self.duplicates)
        theirs = (state["n_items"], state["alpha"], state["duplicates"])
        if theirs != mine:
            raise ValueError(f"estimator state has (n_items, alpha, duplicates)={theirs}; this estimator has {mine}")
        self.step = int(state["step"])
        for name in ("last_seen", "gap_ema", "count"):
            getattr(self, name).copy_(state[name])
