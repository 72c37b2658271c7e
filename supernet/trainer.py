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
    >>> out = train_supernet(net, data, steps=3, batch_size=32, lr=1e-3, temperature=0.1, seed=0,
    ...                      device="cpu", progress=False)
    >>> out["step"]
    3
"""

from __future__ import annotations

import copy
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
from towernas.train.loop import TrainingDivergedError
from towernas.train.objective import RetrievalObjective
from towernas.train.optim import adam
from towernas.train.precision import Precision

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


def train_supernet(supernet: Supernet, data: InteractionData, *, steps: int, batch_size: int, lr: float,
                   temperature: float, seed: int, device: torch.device | str, checkpoint_dir: str | Path | None = None,
                   checkpoint_every: int = 500, progress: bool = True, log: Callable[[dict], None] | None = None,
                   log_every: int = 50, monitor: Monitor | None = None, monitor_every: int = 0,
                   patience: int = 0, admits: Callable[[tuple[str, ...]], bool] | None = None,
                   embedding_decay: float = 0.0, objective: RetrievalObjective | None = None,
                   precision: str = "fp32", history_dropout: float = 0.0) -> dict:
    """Train ``supernet`` in place with SPOS for ``steps`` steps (resuming from ``checkpoint_dir`` if possible).

    Args:
        supernet: the model (its initial weights are replaced on resume).
        data: the dataset; batches come from its train rows.
        steps: total number of steps, counting those of a resumed checkpoint.
        batch_size, lr, temperature, seed: training settings (a resume must use the same ones).
        device: where the model, the estimator and the batches live ("auto" allowed).
        checkpoint_dir: where ``supernet.pt`` is written every ``checkpoint_every`` steps and at the end.
        progress: show a tqdm bar over the steps.
        log: receives ``{"step", "loss", "lr", "elapsed", "steps_per_s"}`` every ``log_every`` steps and
            at the last step (loss = mean over the interval; elapsed = seconds, summed over resumes), and
            ``{"step", "val_loss", "best_val_loss", "best_step"}`` at each monitoring point.
        monitor: ``monitor(supernet, estimator) -> float``, a validation score (lower is better), e.g. the
            mean validation loss of a few fixed architectures. Called every ``monitor_every`` steps; the
            weights (and estimator) of the best score are kept (``supernet_best.pt`` in
            ``checkpoint_dir``) and restored at the end, so the search uses the supernet at its best
            validation point, not an overfitted one.
        patience: stop early after this many monitoring points without improvement (0: never).
        admits: ``admits(genome) -> bool``: sample only the paths it admits (budget-feasible sampling);
            None: the whole space.
        embedding_decay: L2 weight decay on the shared embedding tables (AutoTower regularises them so
            the shared tables do not overfit before the candidate blocks have been trained).
        objective: the training objective of each path (sampler, loss, add-ons; ``towernas.train.objective``);
            None: the in-batch softmax with logQ. The monitor's validation loss is the in-batch softmax
            either way, so runs with different objectives are monitored alike. Add-on parameters train with
            the supernet and are checkpointed with it.
        precision: ``fp32`` | ``bf16`` | ``fp16`` | ``auto`` (``towernas.train.precision``): the path's towers
            under autocast, the loss in fp32; fp16's loss scale is checkpointed.
        history_dropout: drop each history item of a training example with this probability
            (``towernas.data.batches.drop_history``), the mask of step s drawn from (seed, s) for the global batch,
            so a resumed or sharded run drops what an uninterrupted single process would. The monitor sees whole
            histories.

    Returns:
        ``{"step", "loss", "losses", "elapsed", "resumed_from", "checkpoint", "estimator", "best_step",
        "best_val_loss", "stopped_early"}``: ``losses`` are this call's per-step losses; ``estimator`` is the
        trained StreamingFrequencyEstimator (its ``log_q`` is the logQ of ``validation_loss``); with a
        monitor, the supernet and the estimator are those of ``best_step``.

    Raises:
        SupernetDivergedError: the loss became NaN or infinite.
    """
    device = resolve_device(device) if isinstance(device, str) else device
    supernet.to(device)
    run = _Run(supernet, data, batch_size, lr, seed, device, admits, embedding_decay, objective, precision)
    settings = {"batch_size": batch_size, "lr": lr, "temperature": temperature, "seed": seed,
                "n_items": data.n_items, "dims": supernet.dims.to_dict(), "space": supernet.space.name,
                "feasible_sampling": admits is not None, "embedding_decay": embedding_decay,
                "genome_slots": [list(s) for s in supernet.space.slots()]}
    if objective is not None:  # only then, so checkpoints of the default objective keep resuming
        settings["objective"] = objective.describe()
    if history_dropout > 0:  # only then, so checkpoints without it keep resuming
        settings["history_dropout"] = history_dropout
    if run.precision.mixed:  # only then, so fp32 checkpoints keep resuming
        settings["precision"] = run.precision.name
    path = checkpoint_path(checkpoint_dir) if checkpoint_dir is not None else None
    state, source = load_resumable(path, map_location=device) if path is not None else (None, None)
    start, elapsed_before = 0, 0.0
    here = distributed.world()
    # the best weights on disk on rank 0; the other ranks keep theirs in memory (rank 0 writes the files)
    best = _Best(path.with_name(BEST_FILENAME) if path is not None and here.is_main else None)
    if state is not None:
        if state["settings"] != settings:
            changed = sorted(k for k in {*settings, *state["settings"]} if state["settings"].get(k) != settings.get(k))
            raise ValueError(f"{source}: checkpoint was trained with other settings ({', '.join(changed)}); "
                             "use the same ones or another checkpoint_dir")
        with loading(source):
            run.load_state_dict(state)
        start, elapsed_before = int(state["step"]), float(state["elapsed"])
        best.load_progress(state.get("monitor", {}))
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
        if best.stopped:
            break
        arch = sampler.sample()  # the same on every rank (same seed, same stream)
        global_rows = rows.next()
        batch = training_batch(data, distributed.shard(global_rows, here), device, history_dropout=history_dropout,
                               seed=(seed, step), within=distributed.place(len(global_rows), here))
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
        if monitor is not None and monitor_every and (step % monitor_every == 0 or step == steps):
            value = distributed.broadcast_object(monitor(supernet, estimator))  # one decision for all ranks
            best.offer(value, step, supernet, estimator)
            best.stopped = bool(patience) and step - best.step >= patience * monitor_every
            bar.set_postfix(loss=f"{value:.4f}", best=f"{best.value:.4f}@{best.step}")
            if log is not None:
                log({"step": step, "val_loss": value, "best_val_loss": best.value, "best_step": best.step})
        if path is not None and (step % checkpoint_every == 0 or step == steps or best.stopped):
            save_checkpoint(path, {"step": step, "elapsed": elapsed(), "settings": settings,
                                   "monitor": best.progress(), **run.state_dict()}, keep_previous=True)
            last_saved = step
    bar.close()
    if monitor is not None:
        best.restore(supernet, estimator)
    tail = losses[-min(len(losses), log_every):]
    return {"step": last, "loss": float(np.mean(tail)) if tail else None, "losses": losses,
            "elapsed": elapsed(), "resumed_from": start, "checkpoint": str(path) if path is not None else None,
            "estimator": estimator, "best_step": best.step, "best_val_loss": best.value,
            "stopped_early": best.stopped}


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


class _Best:
    """The best monitored point: its score and step (checkpointed) and its weights (kept aside)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.value, self.step, self.stopped = math.inf, 0, False
        self._in_memory: dict | None = None

    def progress(self) -> dict:
        return {"best": self.value, "best_step": self.step, "stopped": self.stopped}

    def load_progress(self, saved: dict) -> None:
        self.value = float(saved.get("best", math.inf))
        self.step = int(saved.get("best_step", 0))
        self.stopped = bool(saved.get("stopped", False))

    def offer(self, value: float, step: int, supernet: Supernet, estimator: StreamingFrequencyEstimator) -> None:
        if not value < self.value:
            return
        self.value, self.step = value, step
        snapshot = {"step": step, "value": value, "model": supernet.state_dict(), "estimator": estimator.state_dict()}
        if self.path is not None:
            save_checkpoint(self.path, snapshot)
        else:
            self._in_memory = copy.deepcopy(snapshot)

    def restore(self, supernet: Supernet, estimator: StreamingFrequencyEstimator) -> None:
        device = next(supernet.parameters()).device
        snapshot = self._in_memory if self.path is None else load_checkpoint(self.path, map_location=device)
        if snapshot is not None:
            with loading(self.path):
                supernet.load_state_dict(snapshot["model"])
                estimator.load_state_dict(snapshot["estimator"])


class _Run:
    """Everything a training run carries from step to step, with the (weights_only-safe) state to resume it."""

    def __init__(self, supernet: Supernet, data: InteractionData, batch_size: int, lr: float, seed: int,
                 device: torch.device, admits=None, embedding_decay: float = 0.0,
                 objective: RetrievalObjective | None = None, precision: str = "fp32") -> None:
        self.supernet = supernet
        self.precision = Precision(precision, device)
        self.objective = objective
        self.addons = torch.nn.ModuleList(objective.addons if objective is not None else []).to(device)
        tables = list(supernet.embedder.parameters())
        ids = {id(p) for p in tables}
        rest = [p for p in supernet.parameters() if id(p) not in ids] + list(self.addons.parameters())
        self.optimizer = adam([{"params": tables, "weight_decay": embedding_decay}, {"params": rest}], lr)
        self.estimator = StreamingFrequencyEstimator(data.n_items, device=device)
        self.sampler = ArchSampler(supernet.space, seed, admits)
        self.rows = RowStream(data.rows("train"), batch_size, seed)

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
