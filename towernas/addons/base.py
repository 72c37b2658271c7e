"""The add-on interface: debiasing and contrastive methods that plug into a trainer, never into a backbone.

An add-on is an ``nn.Module`` (it may own parameters: MACR's branches, DICE's conformity embeddings)
with any of these hooks, all no-ops by default. ``step`` describes one training batch as (B, C) candidate
columns: ``ids``, ``labels()`` (1 = a positive), ``invalid`` (columns to ignore), ``target`` /
``positives`` / ``has_positive`` (each row's positive column, if any), ``logits``, ``loss``, ``norm`` (the
terms the main loss averages over) and ``batch`` (with ``user``). Retrieval trainers pass a
``towernas.train.objective.Step`` (which also has the query vectors and ``encode_users``); ranker trainers
a ``towernas.train.ranker_loop.RankerStep``. So one add-on serves both:

- ``check(loss=, sampler=, model=)``: raise ``AddOnError`` (one line) if it cannot apply to that trainer.
- ``fit(stats)``: see the train split's counts once (``TrainStats``), e.g. propensities; the objective
  also sets ``temperature`` (its tau) before.
- ``weight(step) -> (B,)``: per-example weights (IPS).
- ``pair_weights(step) -> (B, C)``: per-candidate weights of pairwise / pointwise losses (UBPR).
- ``adjust(logits, step) -> logits``: change the training logits (PDA's popularity term, MACR, DICE).
- ``extra_loss(step) -> scalar``: an additional loss term (RelMF's correction, MACR's branches, InfoNCE).
- ``query_vectors(vectors, batch)`` / ``item_vectors(vectors, batch)``: the inference-time scoring of a
  retriever, as vectors whose inner product is the adjusted score, so full ranking and faiss stay exact;
  ``inference_scores(logits, items, batch)``: the same adjustment of a ranker's (B, C) logits.

``WithAddOns`` (``towernas.addons.model``) wraps a backbone so evaluation and export see the adjusted
vectors; the backbone's own code is untouched, which is why every add-on works on every retriever.
"""

from __future__ import annotations

import torch
from torch import nn

from towernas.data.train_stats import TrainStats
from towernas.runs.errors import UserError
from towernas.runs.registry import Registry


class AddOnError(UserError):
    """An add-on that cannot apply, or a bad add-on option (one line naming the key)."""


class AddOn(nn.Module):
    """Base class of every add-on (all hooks are no-ops)."""

    name = "addon"
    changes_inference = False  # query_vectors / item_vectors are not the identity
    needs_user_tower = False  # trains on user vectors of its own (contrastive views): retrievers only
    needs_lists = False  # pairs a row's positive with its negatives: not the CTR task's one pair per row
    temperature = 0.05  # the trainer's tau (set by the objective): logits = cosine / tau

    def check(self, *, loss: str, sampler: str, model: nn.Module | None = None) -> None:
        """Raise ``AddOnError`` if this add-on cannot apply with ``loss`` / ``sampler`` / ``model``."""

    def fit(self, stats: TrainStats) -> None:
        pass

    def weight(self, step) -> torch.Tensor | None:
        return None

    def pair_weights(self, step) -> torch.Tensor | None:
        return None

    def adjust(self, logits: torch.Tensor, step) -> torch.Tensor:
        return logits

    def extra_loss(self, step) -> torch.Tensor | None:
        return None

    def query_vectors(self, vectors: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return vectors

    def item_vectors(self, vectors: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return vectors

    def inference_scores(self, logits: torch.Tensor, items: torch.Tensor,
                         batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return logits


ADDONS: Registry[type[AddOn]] = Registry("add-on", key="addons", error=AddOnError)


def apply_training_hooks(logits: torch.Tensor, step, addons) -> tuple[torch.Tensor, torch.Tensor | None,
                                                                      torch.Tensor | None]:
    """The add-ons' training hooks on one step, in list order: the adjusted logits (also kept as
    ``step.logits``), the product of their row weights and the product of their pair weights (None: none)."""
    for addon in addons:
        logits = addon.adjust(logits, step)
    step.logits = logits
    return logits, _product(a.weight(step) for a in addons), _product(a.pair_weights(step) for a in addons)


def add_extra_losses(total: torch.Tensor, step, addons) -> torch.Tensor:
    """``total`` plus every add-on's extra loss term of ``step``."""
    for addon in addons:
        extra = addon.extra_loss(step)
        if extra is not None:
            total = total + extra
    return total


def _product(values) -> torch.Tensor | None:
    out = None
    for v in values:
        if v is not None:
            out = v if out is None else out * v
    return out


def check_one_inference_change(addons, key: str) -> None:
    """One line naming ``key`` if more than one of ``addons`` changes the inference scores (their adjustments
    would not compose)."""
    changing = [a.name for a in addons if a.changes_inference]
    if len(changing) > 1:
        raise AddOnError(f"{key}={changing}: at most one add-on may change the inference scores")


def check_range(key: str, value: float, low: float | None = None, high: float | None = None,
                expected: str | None = None) -> float:
    """``value`` if ``low <= value <= high`` (bounds optional), else one line naming ``key``."""
    ok = (low is None or value >= low) and (high is None or value <= high)
    if not ok or value != value:
        if expected is None:
            expected = (f"a number in [{low}, {high}]" if low is not None and high is not None
                        else f"a number >= {low}" if low is not None else f"a number <= {high}")
        raise AddOnError(f"{key}={value}: expected {expected}")
    return float(value)


class PropensityAddOn(AddOn):
    """An add-on built on exposure propensities theta_i (``propensity``), fitted on the train counts.

    Args:
        exponent: in [0, 1]; theta_i = (count_i / max count) ** exponent.
        min_propensity: the clip: theta_i >= min_propensity, so weights 1 / theta are at most 1 / min_propensity.
    """

    def __init__(self, exponent: float = 0.5, min_propensity: float = 0.05) -> None:
        super().__init__()
        self.exponent = check_range(f"addon.{self.name}.exponent", exponent, 0.0, 1.0)
        self.min_propensity = check_range(f"addon.{self.name}.min_propensity", min_propensity, 1e-6, 1.0)

    def fit(self, stats: TrainStats) -> None:
        self.register_buffer("theta", propensity(stats, self.exponent, self.min_propensity), persistent=False)

    def theta_of(self, ids: torch.Tensor) -> torch.Tensor:
        """theta of ``ids`` (any shape, on their device)."""
        return self.theta.to(ids.device)[ids]

    def inverse_propensity_of_positive(self, step) -> torch.Tensor:
        """(B,) 1 / theta of each row's positive; 1 for rows without one (a ranker's negative pair)."""
        weights = (step.labels() / self.theta_of(step.ids)).sum(1)
        return torch.where(step.has_positive, weights, torch.ones_like(weights))


def propensity(stats: TrainStats, exponent: float, floor: float) -> torch.Tensor:
    """(N,) exposure propensity theta_i = (count_i / max count) ** exponent, clipped below at ``floor``
    (Saito et al. WSDM 2020's popularity-based estimate): the chance a relevant item was observed."""
    counts = torch.as_tensor(stats.item_counts, dtype=torch.float64)
    theta = (counts / counts.max().clamp_min(1)) ** exponent
    return theta.clamp(min=floor, max=1.0).float()
