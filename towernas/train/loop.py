"""Training any two-tower model from scratch: a retrieval objective (default in-batch softmax + logQ), Adam,
early stopping on validation.

The default loss is the supernet's (``towernas.losses.retrieval``, q from the same streaming frequency
estimator), so a retrained child and its supernet path optimise the same loss, each at its own recipe
(``retrain.temperature`` / ``history_dropout`` vs ``supernet.*``, measured apart in
docs/results/recipe.md); ``objective`` swaps in another sampler, loss or add-ons (``towernas.train.objective``). Model
selection reads the validation split only; the caller evaluates test once, after ``fit`` has restored the best epoch.
The hyperparameters of ``fit`` are one ``towernas.train.settings.FitSettings``.

A model needs ``encode_users(batch)`` and ``encode_items(batch)``; a model whose query depends on the
candidate (MIND's label-aware attention) also defines ``train_scores(batch) -> (B, B)`` cosine scores.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch
from tqdm.auto import tqdm

from towernas.data.batches import iterate_rows, training_batch
from towernas.data.interactions import InteractionData
from towernas.eval.encode import evaluate_model
from towernas.runs.errors import UserError
from towernas.train import distributed
from towernas.train.early_stopping import FitResult, fit_epochs
from towernas.train.optim import adam
from towernas.train.objective import RetrievalObjective
from towernas.train.precision import Precision
from towernas.train.settings import FitSettings
from towernas.train.weight_decay import HypergradientWeightDecay


class TrainingDivergedError(UserError):
    """The training loss became NaN or infinite (one-line message naming where, with a hint)."""


def train_epoch(model, data: InteractionData, optimizer: torch.optim.Optimizer, objective: RetrievalObjective,
                *, batch_size: int, rng: np.random.Generator, device, progress: bool = True,
                desc: str = "train", decay: HypergradientWeightDecay | None = None,
                precision: Precision | None = None, history_dropout: float = 0.0) -> float:
    """One shuffled pass over the train rows; returns the mean loss. ``decay``: a learned weight decay, updated
    around the optimiser's steps; ``precision``: the towers' (``towernas.train.precision``; None: fp32);
    ``history_dropout``: drop each history item of a training example with this probability
    (``towernas.data.batches.drop_history``; the masks drawn from ``rng``, which p = 0 leaves untouched)."""
    precision = precision or Precision("fp32", device)
    model.train()
    rows = data.rows("train")
    total, n = 0.0, 0
    n_batches = (len(rows) + batch_size - 1) // batch_size
    scores_fn = getattr(model, "train_scores", None)  # a query that depends on the candidate (MIND)
    here = distributed.world()
    parameters = [p for group in optimizer.param_groups for p in group["params"]]
    for batch_rows in tqdm(iterate_rows(rows, batch_size, rng), total=n_batches, desc=desc,
                           disable=not progress or not here.is_main, leave=False):
        mask_seed = int(rng.integers(2**62)) if history_dropout > 0 else None  # the same on every rank
        batch = training_batch(data, distributed.shard(batch_rows, here), device,  # the global batch alone
                               history_dropout=history_dropout, seed=mask_seed,
                               within=distributed.place(len(batch_rows), here))
        loss = objective(batch, precision.tower(model.encode_users), precision.tower(model.encode_items), scores_fn)
        optimizer.zero_grad(set_to_none=True)
        value = precision.backward(loss, len(batch["item"]) / len(batch_rows), parameters)  # the global loss
        if not math.isfinite(value):
            raise TrainingDivergedError(f"training loss is {value} ({desc}); lower the learning rate "
                                        f"or raise the temperature{precision.diverged_hint()}")
        if decay is not None:
            precision.unscale(optimizer)
            decay.before_step()
        precision.step(optimizer)
        if decay is not None:
            decay.after_step()
        total += value * len(batch_rows)
        n += len(batch_rows)
    return total / max(n, 1)


def default_objective(data: InteractionData, temperature: float, seed: int, device) -> RetrievalObjective:
    """The in-batch softmax with logQ correction (the supernet's loss)."""
    return RetrievalObjective(data, temperature=temperature, seed=seed, device=device)


def fit(model, data: InteractionData, settings: FitSettings = FitSettings(), *, device="cpu", progress: bool = True,
        log: Callable[[dict], None] | None = None, objective: RetrievalObjective | None = None) -> FitResult:
    """Train ``model`` in place by ``settings``, keep the epoch with the best validation ``settings.select`` metric,
    restore it.

    Stops after ``settings.patience`` epochs without improvement (0: run all ``max_epochs``). ``objective``: the
    sampler, loss and add-ons (``towernas.train.objective``; None: in-batch softmax + logQ at ``temperature``).
    Add-on parameters train with the model when ``model`` is a ``towernas.addons.WithAddOns``. ``log``: receives
    every epoch's record.

    The optimiser is Adam; with ``weight_decay`` > 0 it is AdamW (decoupled decay on every parameter).
    ``learn_weight_decay``: start from ``weight_decay`` and learn it on validation by a one-step hypergradient
    every ``decay_every`` steps at meta learning rate ``decay_lr`` (``towernas.train.weight_decay``); each
    epoch's record then carries its ``weight_decay``. ``history_dropout``: drop each history item of a training
    example with this probability (``train_epoch``; validation sees whole histories). ``precision``: fp32 | bf16 |
    fp16 | auto, the towers under autocast and the loss in fp32 (``towernas.train.precision``); validation encodes in fp32.

    Example:
        >>> from towernas.config import DatasetConfig
        >>> from towernas.data import load_dataset
        >>> from towernas.retrievers.mean_pool import MeanPoolTwoTower
        >>> data = load_dataset(DatasetConfig(name="doc", reader="synthetic", cache=False,
        ...                     options={"n_users": 60, "n_items": 120, "mean_length": 20}), progress=False)
        >>> model = MeanPoolTwoTower([], [], data.n_items, dim=8, hidden=(16,), out_dim=8)
        >>> fit(model, data, FitSettings(max_epochs=2, batch_size=64), progress=False).best_epoch in (1, 2)
        True
    """
    s, ks = settings, tuple(settings.ks)
    if s.select not in {f"{m}@{k}" for m in ("recall", "ndcg", "hitrate", "mrr", "precision") for k in ks}:
        raise ValueError(f"select={s.select!r}: expected a metric at one of ks={list(ks)}, e.g. 'recall@{ks[-1]}'")
    torch.manual_seed(s.seed)
    rng = np.random.default_rng(s.seed)
    model.to(device)
    if s.weight_decay < 0 or s.learn_weight_decay and s.weight_decay <= 0:
        raise UserError(f"weight_decay={s.weight_decay}: expected >= 0, and > 0 (the starting value) when it is "
                        "learned")
    if not 0.0 <= s.history_dropout < 1.0:
        raise UserError(f"history_dropout={s.history_dropout}: expected a probability in [0, 1)")
    if s.learn_weight_decay and distributed.world().active:
        raise UserError("retrain.learn_weight_decay=true is not supported under torchrun yet; tune "
                        "retrain.weight_decay with the Optuna sweeper instead")
    distributed.broadcast_parameters(model)  # every rank starts from rank 0's weights
    optimizer = adam(model.parameters(), s.lr, weight_decay=s.weight_decay, decoupled=s.weight_decay > 0)
    objective = default_objective(data, s.temperature, s.seed, device) if objective is None else objective
    objective.check(model)
    decay = (HypergradientWeightDecay(model, optimizer, data, initial=s.weight_decay, temperature=s.temperature,
                                      batch_size=s.batch_size, every=s.decay_every, lr=s.decay_lr, seed=s.seed,
                                      device=device)
             if s.learn_weight_decay else None)

    mixed = Precision(s.precision, device)

    def one_epoch(epoch: int) -> float:
        return train_epoch(model, data, optimizer, objective, batch_size=s.batch_size, rng=rng, device=device,
                           progress=progress, desc=f"epoch {epoch}/{s.max_epochs}", decay=decay, precision=mixed,
                           history_dropout=s.history_dropout)

    def validate() -> dict:
        metrics = evaluate_model(model, data, "valid", ks, device=device)
        return metrics if decay is None else {**metrics, "weight_decay": decay.decay}

    return fit_epochs(model, one_epoch, validate, select=s.select, patience=s.patience, max_epochs=s.max_epochs,
                      log=log)


def train_two_tower(model, data: InteractionData, *, epochs: int = 5, batch_size: int = 512, lr: float = 1e-3,
                    temperature: float = 0.05, seed: int = 0, device="cpu", progress: bool = True,
                    history_dropout: float = 0.0) -> list[float]:
    """Train ``model`` for a fixed number of epochs (no validation); return the mean loss of each epoch.

    The refit protocol's trainer (``benchmarks/bench_protocol.py``: refit on train + validation for the epoch count
    that early stopping chose) and the plain loop the DDP test checks against one process."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model.to(device)
    optimizer = adam(model.parameters(), lr)
    objective = default_objective(data, temperature, seed, device)
    return [train_epoch(model, data, optimizer, objective, batch_size=batch_size, rng=rng, device=device,
                        progress=progress, desc=f"epoch {e + 1}/{epochs}", history_dropout=history_dropout)
            for e in range(epochs)]
