"""Training a ranker: pointwise BCE on labelled (query, candidate) lists (MSE on centred ratings for the rating
task), Adam, early stopping on validation.

One loop for the CTR task (one labelled pair per row, C = 1) and for cascade stages (a positive and its
negatives per query, C = 1 + n): a batch is ``(query batch, items (B, C), labels (B, C))``, the loss is
binary cross-entropy of ``ranker.score(batch, items)`` against the labels. Model selection reads the
validation split only (``validate``); the caller evaluates test once, after ``fit_ranker`` restored the best
epoch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from towernas.addons.base import add_extra_losses, apply_training_hooks
from towernas.losses.retrieval import weighted_mean
from towernas.runs.registry import Registry
from towernas.train import distributed
from towernas.train.early_stopping import FitResult, fit_epochs
from towernas.train.optim import adam
from towernas.train.precision import Precision
from towernas.train.loop import TrainingDivergedError
from towernas.train.settings import RankerFitSettings

Batch = tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]  # query batch, items (B, C), labels (B, C)


def bce(logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """Mean binary cross-entropy of (B, C) logits against 0/1 labels (pointwise); with (B,) row ``weights``,
    their weighted mean."""
    if weights is None:
        return F.binary_cross_entropy_with_logits(logits, labels)
    return weighted_mean(F.binary_cross_entropy_with_logits(logits, labels, reduction="none").mean(1), weights)


def softmax_ce(logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """Listwise: -sum_c y_c log softmax(logits)_c / sum_c y_c, averaged over rows (a row's positives share
    its probability mass against its negatives); with (B,) row ``weights``, their weighted mean."""
    return weighted_mean(-(labels * F.log_softmax(logits, dim=1)).sum(1).div(labels.sum(1).clamp_min(1.0)), weights)


def mse(scores: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """Mean squared error of (B, C) scores against real-valued labels (the rating task: centred ratings); with
    (B,) row ``weights``, their weighted mean."""
    return weighted_mean(F.mse_loss(scores, labels, reduction="none").mean(1), weights)


@dataclass
class RankerStep:
    """One ranker batch as add-ons see it (``towernas.addons.base``): (B, C) candidate ``ids`` and labels."""

    batch: dict[str, torch.Tensor]
    ids: torch.Tensor  # (B, C)
    label_values: torch.Tensor  # (B, C) 0/1
    loss: str
    logits: torch.Tensor | None = None
    extras: dict = field(default_factory=dict)

    def labels(self) -> torch.Tensor:
        return self.label_values

    @property
    def invalid(self) -> torch.Tensor:
        return torch.zeros_like(self.ids, dtype=torch.bool)

    @property
    def log_q(self) -> torch.Tensor:
        """(B, C) zeros: the ranker's candidates carry no sampling correction."""
        return torch.zeros_like(self.label_values)

    @property
    def has_positive(self) -> torch.Tensor:
        return self.label_values.sum(1) > 0

    @property
    def target(self) -> torch.Tensor:
        """(B,) the first positive column of each row (0 for rows without one; see ``has_positive``)."""
        return self.label_values.argmax(1)

    @property
    def positives(self) -> torch.Tensor:
        return self.ids.gather(1, self.target[:, None])[:, 0]

    @property
    def norm(self) -> int:
        return self.ids.numel() if self.loss == "bce" else len(self.ids)


def addon_loss(logits: torch.Tensor, step: RankerStep, addons, loss_fn) -> torch.Tensor:
    """The ranker loss with the add-ons' training hooks: adjusted logits, row weights, extra terms."""
    logits, weights, _ = apply_training_hooks(logits, step, addons)  # pair weights: refused for rankers (ubpr)
    return add_extra_losses(loss_fn(logits, step.label_values, weights), step, addons)


LOSSES: Registry[Callable[..., torch.Tensor]] = Registry("ranker loss", key="cascade.loss")
LOSSES.register("bce", bce)
LOSSES.register("softmax", softmax_ce)
LOSSES.register("mse", mse)


def train_epoch(ranker, batches: Iterable[Batch], optimizer: torch.optim.Optimizer, *, total: int | None = None,
                loss_fn=bce, progress: bool = True, desc: str = "train", loss_name: str = "bce",
                precision: Precision | None = None) -> float:
    """One pass over ``batches``; the mean loss per labelled pair. A ``RankerWithAddOns`` trains with its
    add-ons' hooks. ``precision``: the ranker's forward under autocast, its logits and the loss in fp32
    (``towernas.train.precision``; None: fp32)."""
    precision = precision or Precision("fp32")
    ranker.train()
    addons = list(getattr(ranker, "addons", []))
    loss_sum, n = 0.0, 0
    here = distributed.world()
    parameters = [p for group in optimizer.param_groups for p in group["params"]]
    for batch, items, labels in tqdm(batches, total=total, desc=desc, disable=not progress or not here.is_main,
                                     leave=False):
        rows = len(labels)
        if here.active:  # every rank drew the same global batch: keep this rank's rows
            batch = {k: distributed.shard(v, here) for k, v in batch.items()}
            items, labels = distributed.shard(items, here), distributed.shard(labels, here)
        logits = precision.tower(ranker.score)(batch, items)
        if addons:
            loss = addon_loss(logits, RankerStep(batch, items, labels, loss_name), addons, loss_fn)
        else:
            loss = loss_fn(logits, labels)
        optimizer.zero_grad(set_to_none=True)
        value = precision.backward(loss, len(labels) / rows, parameters)  # the global loss
        if not math.isfinite(value):
            raise TrainingDivergedError(f"ranker training loss is {value} ({desc}); lower rank.lr"
                                        f"{precision.diverged_hint()}")
        precision.step(optimizer)
        pairs = labels.numel() // max(len(labels), 1) * rows  # labelled pairs of the global batch
        loss_sum += value * pairs
        n += pairs
    return loss_sum / max(n, 1)


def fit_ranker(ranker, batches: Callable[[np.random.Generator], Iterable[Batch]], validate: Callable[[], dict],
               settings: RankerFitSettings = RankerFitSettings(), *, device="cpu", n_batches: int | None = None,
               progress: bool = True, log: Callable[[dict], None] | None = None) -> FitResult:
    """Train ``ranker`` in place on ``batches(rng)`` (a fresh shuffled pass per epoch, ``n_batches`` long for the
    progress bar), keep the epoch with the best ``validate()[settings.select]`` (``logloss``, ``rmse``, ``mae``:
    lowest; else highest), restore it. ``settings.loss``: a key of ``LOSSES``. ``settings.validate_initial``: the
    untrained model is a candidate too (epoch 0; a ranker fused with the retriever's score then never ends below the
    retriever's own order on validation).

    Stops after ``settings.patience`` epochs without improvement (0: run all ``max_epochs``).
    ``settings.precision``: fp32 | bf16 | fp16 | auto (``towernas.train.precision``).
    """
    s, loss = settings, settings.loss
    if loss not in LOSSES:
        raise ValueError(f"loss={loss!r}: expected one of {sorted(LOSSES)}")
    torch.manual_seed(s.seed)
    rng = np.random.default_rng(s.seed)
    ranker.to(device)
    distributed.broadcast_parameters(ranker)  # every rank starts from rank 0's weights
    optimizer = adam(ranker.parameters(), s.lr, weight_decay=s.weight_decay)
    mixed = Precision(s.precision, device)

    def one_epoch(epoch: int) -> float:
        return train_epoch(ranker, batches(rng), optimizer, total=n_batches, loss_fn=LOSSES[loss], progress=progress,
                           desc=f"epoch {epoch}/{s.max_epochs}", loss_name=loss, precision=mixed)

    def checked() -> dict:
        valid = validate()
        if s.select not in valid:
            raise ValueError(f"select={s.select!r}: the validation metrics are {sorted(valid)}")
        return valid

    return fit_epochs(ranker, one_epoch, checked, select=s.select, patience=s.patience, max_epochs=s.max_epochs,
                      validate_initial=s.validate_initial, log=log)
