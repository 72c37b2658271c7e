"""SPOS training of the supernet, resumable, and the validation loss that serves as search fitness.

Each step: sample an architecture uniformly (``ArchSampler``), take the next batch of shuffled train rows
(``RowStream``, epochs cycling), record the batch items in the streaming frequency estimator, then one
Adam step on the in-batch softmax with logQ correction of that single path:

    s_ij = <u_i, v_j> / tau - log q_j,    loss = mean_i -log softmax_j(s_ij)[i]   (accidental hits masked)

Gradients are reset to None every step, so candidates off the path keep their weights *and* their Adam
moments untouched (Adam skips parameters without a gradient).

Example:
    >>> from towernas.config import DatasetConfig
    >>> from towernas.data import load_dataset
    >>> from towernas.data.spec import DatasetSpec
    >>> from towernas.space import Dims
    >>> from supernet.model import Supernet
    >>> data = load_dataset(DatasetConfig(name="doc", reader="synthetic", cache=False,
    ...                     options={"n_users": 40, "n_items": 90, "mean_length": 20}), progress=False)
    >>> net = Supernet(DatasetSpec.from_data(data), Dims(embed=16, block=16, out=16), 3, 3)
    >>> settings = SupernetSettings(steps=3, batch_size=32, lr=1e-3, temperature=0.1, seed=0)
    >>> out = train_supernet(net, data, settings, device="cpu", progress=False)
    >>> out["step"]
    3
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from tqdm.auto import tqdm

from supernet.checkpoint import checkpoint_path, load_checkpoint, load_resumable, loading, save_checkpoint
from supernet.model import Supernet
from supernet.sampler import ArchSampler, RowStream
from towernas.data.batches import iterate_rows, training_batch
from towernas.data.interactions import InteractionData
from towernas.losses.retrieval import in_batch_softmax
from towernas.runs.device import resolve_device
from towernas.samplers.frequency import StreamingFrequencyEstimator
from towernas.space.arch import Arch
from towernas.train import distributed
from towernas.train.early_stopping import BestEpoch
from towernas.train.loop import TrainingDivergedError
from towernas.train.objective import RetrievalObjective
from towernas.train.optim import adam
from towernas.train.precision import Precision
from towernas.train.settings import SupernetSettings

Batch = dict[str, torch.Tensor]
Monitor = Callable[[Supernet, StreamingFrequencyEstimator], float]
BEST_FILENAME = "supernet_best.pt"


class SupernetDivergedError(TrainingDivergedError):
    """The training loss became NaN or infinite (one-line message with the step, arch and a hint)."""


def describe(arch: Arch) -> str:
    """A one-line form of an architecture: ``avg | user MLP-64,EW-sum,SA-1 | item MLP-32,EW-max,EW-avg``."""
    return f"{arch.pooling} | user {','.join(arch.user)} | item {','.join(arch.item)}"


def path_loss(supernet: Supernet, arch: Arch, batch: Batch, temperature: float, log_q: torch.Tensor | None):
    """In-batch softmax loss of one path on one batch (the training and the validation objective)."""
    return in_batch_softmax(supernet.encode_users(batch, arch), supernet.encode_items(batch, arch), batch["item"],
                            temperature=temperature, log_q=log_q)


def train_supernet(supernet: Supernet, data: InteractionData, settings: SupernetSettings, *,
                   device: torch.device | str, checkpoint_dir: str | Path | None = None, progress: bool = True,
                   log: Callable[[dict], None] | None = None, monitor: Monitor | None = None,
                   admits: Callable[[tuple[str, ...]], bool] | None = None,
                   objective: RetrievalObjective | None = None) -> dict:
    """Train ``supernet`` in place with SPOS for ``settings.steps`` steps (resuming from ``checkpoint_dir`` if
    possible); the hyperparameters are ``settings`` (``towernas.train.settings.SupernetSettings``; a resume must
    use the same ones).

    Args:
        supernet: the model (its initial weights are replaced on resume).
        data: the dataset; batches come from its train rows.
        settings: steps (the total, counting those of a resumed checkpoint), batch size, lr, temperature, seed,
            the checkpoint / log / monitor intervals, patience, embedding decay, precision, history dropout.
        device: where the model, the estimator and the batches live ("auto" allowed).
        checkpoint_dir: where ``supernet.pt`` is written every ``checkpoint_every`` steps and at the end.
        progress: show a tqdm bar over the steps.
        log: receives ``{"step", "loss", "lr", "elapsed", "steps_per_s"}`` every ``log_every`` steps and
            at the last step (loss = mean over the interval; elapsed = seconds, summed over resumes), and
            ``{"step", "val_loss", "best_val_loss", "best_step"}`` at each monitoring point.
        monitor: ``monitor(supernet, estimator) -> float``, a validation score (lower is better), e.g. the
            mean validation loss of a few fixed architectures. Called every ``monitor_every`` steps; the
            weights (and estimator) of the best score are kept (``supernet_best.pt`` in
            ``checkpoint_dir``; ``towernas.train.early_stopping.BestEpoch``) and restored at the end, so the
            search uses the supernet at its best validation point, not an overfitted one. Training stops early
            after ``patience`` monitoring points without improvement (0: never).
        admits: ``admits(genome) -> bool``: sample only the paths it admits (budget-feasible sampling);
            None: the whole space.
        objective: the training objective of each path (sampler, loss, add-ons; ``towernas.train.objective``);
            None: the in-batch softmax with logQ. The monitor's validation loss is the in-batch softmax
            either way, so runs with different objectives are monitored alike. Add-on parameters train with
            the supernet and are checkpointed with it.

    ``embedding_decay`` is an L2 weight decay on the shared embedding tables (AutoTower regularises them so the
    shared tables do not overfit before the candidate blocks have been trained); ``precision``: ``fp32`` |
    ``bf16`` | ``fp16`` | ``auto`` (``towernas.train.precision``), the path's towers under autocast, the loss in
    fp32, fp16's loss scale checkpointed; ``history_dropout``: drop each history item of a training example with
    this probability (``towernas.data.batches.drop_history``), the mask of step s drawn from (seed, s) for the
    global batch, so a resumed or sharded run drops what an uninterrupted single process would (the monitor sees
    whole histories).

    Returns:
        ``{"step", "loss", "losses", "elapsed", "resumed_from", "checkpoint", "estimator", "best_step",
        "best_val_loss", "stopped_early"}``: ``losses`` are this call's per-step losses; ``estimator`` is the
        trained StreamingFrequencyEstimator (its ``log_q`` is the logQ of ``validation_loss``); with a
        monitor, the supernet and the estimator are those of ``best_step``.

    Raises:
        SupernetDivergedError: the loss became NaN or infinite.
    """
    s = settings
    steps, lr, temperature, seed, log_every = s.steps, s.lr, s.temperature, s.seed, s.log_every
    device = resolve_device(device) if isinstance(device, str) else device
    supernet.to(device)
    run = _Run(supernet, data, s, device, admits, objective)
    resumed = {"batch_size": s.batch_size, "lr": lr, "temperature": temperature, "seed": seed,
               "n_items": data.n_items, "dims": supernet.dims.to_dict(), "space": supernet.space.name,
               "feasible_sampling": admits is not None, "embedding_decay": s.embedding_decay,
               "genome_slots": [list(slot) for slot in supernet.space.slots()]}
    if objective is not None:  # only then, so checkpoints of the default objective keep resuming
        resumed["objective"] = objective.describe()
    if s.history_dropout > 0:  # only then, so checkpoints without it keep resuming
        resumed["history_dropout"] = s.history_dropout
    if s.balance > 1:  # only then, so checkpoints of uniform sampling keep resuming
        resumed["balance"] = s.balance
    if run.precision.mixed:  # only then, so fp32 checkpoints keep resuming
        resumed["precision"] = run.precision.name
    path = checkpoint_path(checkpoint_dir) if checkpoint_dir is not None else None
    state, source = load_resumable(path, map_location=device) if path is not None else (None, None)
    start, elapsed_before = 0, 0.0
    here = distributed.world()
    # the best weights on disk on rank 0; the other ranks keep theirs in memory (rank 0 writes the files)
    best = best_point(s, path.with_name(BEST_FILENAME) if path is not None and here.is_main else None, device)
    weights = _Weights(supernet, run.estimator)
    if state is not None:
        if state["settings"] != resumed:
            changed = sorted(k for k in {*resumed, *state["settings"]} if state["settings"].get(k) != resumed.get(k))
            raise ValueError(f"{source}: checkpoint was trained with other settings ({', '.join(changed)}); "
                             "use the same ones or another checkpoint_dir")
        with loading(source):
            run.load_state_dict(state)
        start, elapsed_before = int(state["step"]), float(state["elapsed"])
        load_progress(best, state.get("monitor", {}))
    estimator, optimizer, sampler, rows, mixed = run.estimator, run.optimizer, run.sampler, run.rows, run.precision
    distributed.broadcast_parameters(supernet)  # every rank starts from rank 0's weights
    trained = [p for group in optimizer.param_groups for p in group["params"]]

    supernet.train()
    clock = time.perf_counter()
    elapsed = lambda: elapsed_before + time.perf_counter() - clock  # noqa: E731
    losses: list[float] = []
    interval: list[float] = []
    interval_start = time.perf_counter()
    last_saved = start
    bar = tqdm(total=steps, initial=start, desc="supernet", unit="step", disable=not progress)
    last = start
    for step in range(start + 1, steps + 1):
        if best.stopped_early:
            break
        arch = sampler.sample()  # the same on every rank (same seed, same stream)
        global_rows = rows.next()
        batch = training_batch(data, distributed.shard(global_rows, here), device,
                               history_dropout=s.history_dropout, seed=(seed, step),
                               within=distributed.place(len(global_rows), here))
        users = mixed.tower(lambda b: supernet.encode_users(b, arch))  # fp32 out, whatever the precision
        items = mixed.tower(lambda b: supernet.encode_items(b, arch))
        if objective is None:
            loss = _sharded_path_loss(users, items, batch, temperature, estimator)
        else:
            loss = objective(batch, users, items)
        share = len(batch["item"]) / len(global_rows)  # this rank's part of the global mean (1 alone)
        optimizer.zero_grad(set_to_none=True)  # off-path candidates: grad None, so Adam leaves them alone
        value = mixed.backward(loss, share, trained)
        if not math.isfinite(value):  # the global loss: every rank stops at the same step
            saved = f"; the checkpoint of step {last_saved} is intact" if path is not None and last_saved else ""
            raise SupernetDivergedError(
                f"supernet loss is {value} at step {step} (arch {describe(arch)}); "
                f"lower the learning rate (lr={lr}) or raise the temperature (temperature={temperature})"
                f"{mixed.diverged_hint()}{saved}")
        mixed.step(optimizer)
        losses.append(value)
        interval.append(value)
        bar.update(1)
        if step % log_every == 0 or step == steps:
            now = time.perf_counter()
            record = {"step": step, "loss": float(np.mean(interval)), "lr": lr, "elapsed": elapsed(),
                      "steps_per_s": len(interval) / max(now - interval_start, 1e-9)}
            bar.set_postfix(loss=f"{record['loss']:.4f}")
            if log is not None:
                log(record)
            interval, interval_start = [], now
        last = step
        if monitor is not None and s.monitor_every and (step % s.monitor_every == 0 or step == steps):
            value = distributed.broadcast_object(monitor(supernet, estimator))  # one decision for all ranks
            best.update(step, {VAL_LOSS: value}, weights)
            bar.set_postfix(loss=f"{value:.4f}", best=f"{best.best_value:.4f}@{best.best_epoch}")
            if log is not None:
                log({"step": step, "val_loss": value, "best_val_loss": best.best_value, "best_step": best.best_epoch})
        if path is not None and (step % s.checkpoint_every == 0 or step == steps or best.stopped_early):
            save_checkpoint(path, {"step": step, "elapsed": elapsed(), "settings": resumed,
                                   "monitor": progress_of(best), **run.state_dict()}, keep_previous=True)
            last_saved = step
    bar.close()
    if monitor is not None:
        best.restore(weights)
    tail = losses[-min(len(losses), log_every):]
    return {"step": last, "loss": float(np.mean(tail)) if tail else None, "losses": losses,
            "elapsed": elapsed(), "resumed_from": start, "checkpoint": str(path) if path is not None else None,
            "estimator": estimator, "best_step": best.best_epoch, "best_val_loss": best.best_value,
            "stopped_early": best.stopped_early}


def _sharded_path_loss(encode_users: Callable[[Batch], torch.Tensor], encode_items: Callable[[Batch], torch.Tensor],
                       batch: Batch, temperature: float, estimator: StreamingFrequencyEstimator) -> torch.Tensor:
    """The in-batch softmax + logQ of one path (its two towers' encoders) on this rank's rows against the whole
    global batch's items (gathered from every rank with their gradient); the estimator counts the global batch
    on every rank. Alone: ``path_loss`` on the batch."""
    ids, offset = distributed.gather_rows(batch["item"])
    estimator.update(ids)  # the batch counts towards its own sampling probabilities
    if len(ids) == len(batch["item"]):
        return in_batch_softmax(encode_users(batch), encode_items(batch), ids, temperature=temperature,
                                log_q=estimator.log_q(ids))
    items, _ = distributed.gather_rows(encode_items(batch))
    return in_batch_softmax(encode_users(batch), items, ids, temperature=temperature, log_q=estimator.log_q(ids),
                            offset=offset)


VAL_LOSS = "val_loss"  # the monitor's score (lower is better), the metric ``BestEpoch`` selects on


class _Weights:
    """The supernet and its frequency estimator as the one state ``BestEpoch`` keeps and restores."""

    def __init__(self, supernet: Supernet, estimator: StreamingFrequencyEstimator) -> None:
        self.supernet, self.estimator = supernet, estimator

    def state_dict(self) -> dict:
        return {"model": self.supernet.state_dict(), "estimator": self.estimator.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.supernet.load_state_dict(state["model"])
        self.estimator.load_state_dict(state["estimator"])


class BestFile:
    """A ``BestEpoch`` snapshot in ``path`` (``supernet_best.pt``: step, value, model, estimator), so a resumed
    run restores the best point of the runs before it."""

    def __init__(self, path: Path, map_location: torch.device | str = "cpu") -> None:
        self.path, self.map_location = path, map_location

    def keep(self, epoch: int, valid: dict, model) -> None:
        save_checkpoint(self.path, {"step": epoch, "value": valid[VAL_LOSS], **model.state_dict()})

    def restore(self, model) -> None:
        snapshot = load_checkpoint(self.path, map_location=self.map_location)
        if snapshot is not None:
            with loading(self.path):
                model.load_state_dict(snapshot)


def best_point(settings: SupernetSettings, path: Path | None, device: torch.device | str) -> BestEpoch:
    """The tracker of the best monitored point: steps as epochs, so ``patience`` monitoring points are
    ``patience * monitor_every`` steps; its state in ``path`` (None: in memory). It starts at an infinite loss,
    which no infinite score beats."""
    best = BestEpoch(VAL_LOSS, settings.patience * settings.monitor_every, lower_is_better=True,
                     snapshot=BestFile(path, device) if path is not None else None)
    load_progress(best, {})
    return best


def progress_of(best: BestEpoch) -> dict:
    """The checkpoint's ``monitor`` entry: ``{"best", "best_step", "stopped"}``."""
    return {"best": best.best_value, "best_step": best.best_epoch, "stopped": best.stopped_early}


def load_progress(best: BestEpoch, saved: dict) -> None:
    """Resume ``best`` from a checkpoint's ``monitor`` entry (``progress_of``; empty: nothing monitored yet)."""
    best.load_state({"best_epoch": int(saved.get("best_step", 0)),
                     "best_valid": {VAL_LOSS: float(saved.get("best", math.inf))},
                     "stopped_early": bool(saved.get("stopped", False))})


class _Run:
    """Everything a training run carries from step to step, with the (weights_only-safe) state to resume it."""

    def __init__(self, supernet: Supernet, data: InteractionData, settings: SupernetSettings, device: torch.device,
                 admits=None, objective: RetrievalObjective | None = None) -> None:
        self.supernet = supernet
        self.precision = Precision(settings.precision, device)
        self.objective = objective
        self.addons = torch.nn.ModuleList(objective.addons if objective is not None else []).to(device)
        tables = list(supernet.embedder.parameters())
        ids = {id(p) for p in tables}
        rest = [p for p in supernet.parameters() if id(p) not in ids] + list(self.addons.parameters())
        self.optimizer = adam([{"params": tables, "weight_decay": settings.embedding_decay}, {"params": rest}],
                              settings.lr)
        self.estimator = StreamingFrequencyEstimator(data.n_items, device=device)
        self.sampler = ArchSampler(supernet.space, settings.seed, admits, balance=settings.balance)
        self.rows = RowStream(data.rows("train"), settings.batch_size, settings.seed)

    def state_dict(self) -> dict:
        state = {"model": self.supernet.state_dict(), "optimizer": self.optimizer.state_dict(),
                 "estimator": self.estimator.state_dict(), "sampler": self.sampler.state(),
                 "rows": self.rows.state(), "torch_rng": torch.get_rng_state()}
        if self.precision.scaler is not None:
            state["precision"] = self.precision.state_dict()
        if self.objective is not None:
            state.update(objective=self.objective.state_dict(), addons=self.addons.state_dict())
        return state

    def load_state_dict(self, state: dict) -> None:
        self.supernet.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.estimator.load_state_dict(state["estimator"])
        self.sampler.load_state(state["sampler"])
        self.rows.load_state(state["rows"])
        torch.set_rng_state(state["torch_rng"].cpu())  # unused by today's ops (no dropout); kept for exactness
        if "precision" in state:
            self.precision.load_state_dict(state["precision"])
        if self.objective is not None:
            self.objective.load_state_dict(state["objective"])
            self.addons.load_state_dict(state["addons"])


def fixed_batches(data: InteractionData, split: str = "valid", *, n_batches: int, batch_size: int, seed: int = 0,
                  device: torch.device | str = "cpu") -> list[Batch]:
    """``n_batches`` batches of ``split`` rows drawn once (seeded): the common test set of every candidate.

    Full batches only (fewer if the split is small; one batch of all rows if it holds less than one).
    """
    rows = data.rows(split)
    if len(rows) == 0:
        raise ValueError(f"split {split!r} has no rows")
    size = min(batch_size, len(rows))
    chunks = [c for c in iterate_rows(rows, size, np.random.default_rng(seed)) if len(c) == size]
    return [training_batch(data, c, device) for c in chunks[:n_batches]]


@torch.no_grad()
def validation_loss(supernet: Supernet, arch: Arch, batches: list[Batch], temperature: float,
                    log_q_fn: Callable[[torch.Tensor], torch.Tensor] | None) -> float:
    """Mean in-batch softmax loss of ``arch`` through the supernet weights on fixed ``batches`` (lower is better).

    ``log_q_fn`` maps item ids to log q (e.g. ``estimator.log_q`` of the trained, now frozen estimator;
    None: no correction). Runs in eval mode under no_grad and restores the previous mode.
    """
    was_training = supernet.training
    supernet.eval()
    try:
        total, n = 0.0, 0
        for batch in batches:
            log_q = log_q_fn(batch["item"]) if log_q_fn is not None else None
            total += float(path_loss(supernet, arch, batch, temperature, log_q)) * len(batch["item"])
            n += len(batch["item"])
        return total / max(n, 1)
    finally:
        supernet.train(was_training)


class PathModel:
    """One path of the supernet seen as a two-tower model (``encode_users(batch)`` / ``encode_items(batch)``)."""

    def __init__(self, supernet: Supernet, arch: Arch) -> None:
        self.supernet, self.arch = supernet, arch

    def eval(self) -> "PathModel":
        self.supernet.eval()
        return self

    def encode_users(self, batch: Batch) -> torch.Tensor:
        return self.supernet.encode_users(batch, self.arch)

    def encode_items(self, batch: Batch) -> torch.Tensor:
        return self.supernet.encode_items(batch, self.arch)


@torch.no_grad()
def validation_recall(supernet: Supernet, arch: Arch, data: InteractionData, queries, k: int = 50,
                      device: torch.device | str = "cpu") -> float:
    """Full-ranking validation Recall@k of ``arch`` through the supernet weights (higher is better), on the
    validation ``queries`` (``data.queries("valid")`` or a fixed subsample of it: ``eval.encode.sample_queries``).
    Runs in eval mode and restores the previous mode; equals ``evaluate_model(export(supernet, arch))``."""
    from towernas.eval.encode import evaluate_model

    was_training = supernet.training
    try:
        return float(evaluate_model(PathModel(supernet, arch), data, "valid", (k,), device=device,
                                    queries=queries)[f"recall@{k}"])
    finally:
        supernet.train(was_training)
