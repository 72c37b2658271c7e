"""Stages 2 and 3 of the search: short retrains of proposed candidates (``towernas.search.proposals``), then
full retrains of the best few.

Every score is validation; results are cached in the run directory (``selection.json``), so a resumed search
neither retrains again nor spends a different budget.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path

import torch
from omegaconf import DictConfig
from tqdm.auto import tqdm

from towernas.addons import WithAddOns
from towernas.complexity.budgets import Budget
from towernas.data.spec import DatasetSpec
from towernas.retrievers.hand_built import HandBuilt
from towernas.retrievers.sizing import build_size, fitting_sizes, grid_size
from towernas.retrievers.two_tower import build
from towernas.runs.seeds import mean_std
from towernas.runs.device import resolve_device
from towernas.runs.files import write_json_atomic
from towernas.runs.jobs import JobsSettings, run_jobs
from towernas.runs.tracking import Tracker
from towernas.search.hparams import Tuned, configured_values, tune_training, with_values
from towernas.search.proposals import Proposer
from towernas.space import Arch
from towernas.space.arch_space import ArchSpace
from towernas.train.configured import build_objective, retrain_settings
from towernas.train.loop import fit

log = logging.getLogger(__name__)

class SelectionCache:
    """Retrain scores of the final selection and their seconds, persisted as JSON in the run directory."""

    def __init__(self, path: Path) -> None:
        self.path = path
        saved = json.loads(path.read_text()) if path.exists() else {}
        # entries of another format (an older TowerNAS) are recomputed rather than misread
        self.entries: dict[str, dict] = {k: v for k, v in saved.items() if isinstance(v, dict) and "score" in v}

    def get(self, key: tuple, compute: Callable[[], float]) -> dict:
        """``{"score", "seconds"}`` of ``key``, computed (and written atomically) the first time."""
        name = json.dumps(key)
        if name not in self.entries:
            started = time.perf_counter()
            score = compute()
            self.entries[name] = {"score": score, "seconds": time.perf_counter() - started}
            write_json_atomic(self.path, self.entries)
        return self.entries[name]

    def put(self, key: tuple, score: float, seconds: float) -> None:
        """Record a score computed elsewhere (an independent job) as ``get`` would have."""
        self.entries[json.dumps(key)] = {"score": score, "seconds": seconds}
        write_json_atomic(self.path, self.entries)

    def __contains__(self, key: tuple) -> bool:
        return json.dumps(key) in self.entries


def tower_of(row: dict, space: ArchSpace | None) -> Arch | HandBuilt:
    """What a selection row retrains: the space's genome, or a hand-built baseline at its size."""
    if row.get("baseline") is not None:
        return HandBuilt(row["baseline"], grid_size(row["baseline"], row["size"]))
    return space.arch(row["genome"])


def row_id(row: dict) -> list:
    """A row's identity in cache keys: its genome, or ``["hand-built", family, size]``."""
    return ["hand-built", row["baseline"], row["size"]] if row.get("baseline") is not None else list(row["genome"])


def timed_retrain_score(tower: Arch | HandBuilt, seed: int, *, data, cfg: DictConfig, epochs: int,
                        patience: int) -> tuple[float, float]:
    """``(retrain_score, seconds)`` of one tower and seed: a full retrain as an independent job."""
    started = time.perf_counter()
    score = retrain_score(tower, data, cfg, epochs=epochs, patience=patience, seed=seed)
    return score, time.perf_counter() - started


def build_tower(tower: Arch | HandBuilt, spec: DatasetSpec):
    """A freshly initialised model of a searched ``Arch`` or of a ``HandBuilt`` baseline at its size."""
    return build_size(tower.baseline, tower.size, spec) if isinstance(tower, HandBuilt) else build(tower, spec)


def retrain_score(tower: Arch | HandBuilt, data, cfg: DictConfig, *, epochs: int, patience: int, seed: int) -> float:
    """Validation R@50 (``retrain.select``) of ``tower`` trained from scratch by the retrain trainer. Never test."""
    r = cfg.retrain
    torch.manual_seed(seed)
    model = build_tower(tower, DatasetSpec.from_data(data))
    device = resolve_device(cfg.device)
    addons, objective = build_objective(cfg, "retrain", data, seed=seed, device=device)  # what retraining will use
    model = WithAddOns(model, addons) if addons else model
    fitted = fit(model, data, retrain_settings(cfg, seed, max_epochs=epochs, patience=patience), device=device,
                 progress=False, objective=objective)
    return float(fitted.best_valid[r.select])


def hand_built_rows(cfg: DictConfig, data, cache: SelectionCache, tracker: Tracker | None = None) -> list[dict]:
    """The hand-built candidates of stage 2: every in-budget grid size (``towernas.retrievers.sizing``) of every
    family of ``search.baselines``, short-retrained exactly as the search's own candidates are
    (``search.short_epochs``, seed ``cfg.seed``), so one schedule sizes and ranks both. Each is cached like every
    other retrain. A family none of whose sizes fits is left out with a warning."""
    s, budget, spec = cfg.search, Budget.from_config(cfg.budget), DatasetSpec.from_data(data)
    rows = []
    for name in s.baselines:
        fitting = fitting_sizes(name, budget, spec)
        if not fitting:
            log.warning("search.baselines: %s has no size that fits %s; it is not a candidate", name, budget)
        for label, _ in fitting:
            row = {"genome": None, "baseline": name, "size": label, "fitness": None, "fitness_rank": None}
            entry = cache.get(("short", row_id(row), s.short_epochs, cfg.seed),
                              lambda r=row: retrain_score(tower_of(r, None), data, cfg, epochs=s.short_epochs,
                                                          patience=0, seed=cfg.seed))
            row.update(short=entry["score"], seconds=round(entry["seconds"], 2))
            rows.append(row)
            if tracker is not None:
                tracker.log("selection", {"stage": "short", **row})
    return rows


def best_per_family(rows: list[dict], n: int) -> list[dict]:
    """The ``n`` best hand-built families by short retrain, each at its best size (ties: the cheaper, earlier
    size of the grid)."""
    best: dict[str, dict] = {}
    for row in rows:
        if row["baseline"] not in best or row["short"] > best[row["baseline"]]["short"]:
            best[row["baseline"]] = row
    return sorted(best.values(), key=lambda row: -row["short"])[:n]


def tune_leader(cfg: DictConfig, data, space: ArchSpace, leader: dict, cache: SelectionCache,
                tracker: Tracker | None = None) -> Tuned:
    """``search.hparam_trials`` retrains of the short-retrain leader over ``search.hparams`` (TPE, seeded), each
    cached like every other retrain of the selection: on the retrain's own early-stopped schedule (up to
    ``search.hparam_epochs``, default ``retrain.max_epochs``), or short ones when ``hparam_epochs`` equals
    ``search.short_epochs`` (cheaper, but biased towards what learns fastest: measured in docs/results/tuning.md)."""
    s, r = cfg.search, cfg.retrain
    epochs = r.max_epochs if s.hparam_epochs is None else s.hparam_epochs
    patience = 0 if epochs == s.short_epochs else r.patience

    def score(trial_cfg: DictConfig) -> float:
        values = configured_values(trial_cfg, s.hparams)
        key = ("hparams", leader["genome"], epochs, patience, cfg.seed, sorted(values.items()))
        return cache.get(key, lambda: retrain_score(space.arch(leader["genome"]), data, trial_cfg,
                                                    epochs=epochs, patience=patience, seed=cfg.seed))["score"]

    log = (lambda record: tracker.log("selection", {"stage": "hparams", **record})) if tracker is not None else None
    configured = leader["short"] if epochs == s.short_epochs else score(cfg)  # the bar, on the trials' schedule
    return tune_training(cfg, list(s.hparams), score, configured, trials=s.hparam_trials, seed=cfg.seed,
                         on_trial=log)


def final_selection(cfg: DictConfig, data, space: ArchSpace, propose: Proposer, cache: SelectionCache,
                    tracker: Tracker | None = None) -> list[dict]:
    """Stage 2, short retrains (``search.short_epochs``) of what ``propose`` proposes, one at a time (then, with
    ``search.hparams``, a TPE study of the leader's training hyperparameters: ``tune_leader``); stage 3, full
    retrains (the retrain schedule, at the tuned hyperparameters) of the best ``search.final_top`` on
    ``search.final_seeds``, side by side with the best ``search.hand_built_finalists`` hand-built families of
    ``search.baselines`` at their best in-budget size (``hand_built_rows``: short-retrained like the rest), so the
    winner is never a tower validation rates below the best hand-built one.

    Returns one record per short-retrained genome and per hand-built candidate (``baseline`` and ``size``, no
    ``genome``), ranked: the fully retrained ones by mean validation score, then the others by their short-retrain
    score.
    """
    s, r = cfg.search, cfg.retrain
    rows: list[dict] = []
    with tqdm(desc="short retrains", disable=not cfg.progress, unit="arch") as bar:
        while (proposal := propose(rows)) is not None:
            genome, fitness, rank = proposal
            key = ("short", list(genome), s.short_epochs, cfg.seed)
            entry = cache.get(key, lambda g=genome: retrain_score(space.arch(g), data, cfg, epochs=s.short_epochs,
                                                                  patience=0, seed=cfg.seed))
            row = {"genome": list(genome), "fitness": fitness, "fitness_rank": rank, "short": entry["score"],
                   "seconds": round(entry["seconds"], 2)}
            rows.append(row)
            bar.update(1)
            if tracker is not None:
                tracker.log("selection", {"stage": "short", **row})
    by_short = sorted(rows, key=lambda row: -row["short"])
    for i, row in enumerate(by_short, 1):
        row["short_rank"] = i
    full_cfg, training = cfg, None
    if s.hparams and by_short:  # training hyperparameters: genes of this stage (towernas.search.hparams)
        tuned = tune_leader(cfg, data, space, by_short[0], cache, tracker)
        full_cfg, training = with_values(cfg, tuned.values), tuned.to_dict()
        by_short[0]["training_trials"] = training
    hand_built = hand_built_rows(cfg, data, cache, tracker)
    finalists = by_short[: s.final_top] + best_per_family(hand_built, s.hand_built_finalists)

    def trained_cfg(row: dict) -> DictConfig:
        """Hand-built candidates train at the configured values, as ``retrain`` trains a baseline."""
        return cfg if row.get("baseline") is not None else full_cfg

    def full_key(row: dict, seed: int) -> tuple:
        key = ("full", row_id(row), r.max_epochs, r.patience, seed)
        tuned = training is not None and training["improved"] and row.get("baseline") is None
        return key + (sorted(training["values"].items()),) if tuned else key

    jobs = JobsSettings.from_config(cfg.jobs)
    if jobs.engine != "local":  # the full retrains are independent jobs: side by side on the engine
        pending = [(row, seed) for row in finalists for seed in s.final_seeds if full_key(row, seed) not in cache]
        shared = {"data": data, "epochs": r.max_epochs, "patience": r.patience}
        configs = {id(c): c for c in (full_cfg, cfg)}.values()  # the tuned values (if any), the configured ones
        for trained_as in configs:
            mine = [(row, seed) for row, seed in pending if trained_cfg(row) is trained_as]
            units = [(tower_of(row, space), seed) for row, seed in mine]
            for (row, seed), (score, seconds) in zip(mine, run_jobs(timed_retrain_score, units, jobs,
                                                                    {**shared, "cfg": trained_as})):
                cache.put(full_key(row, seed), score, seconds)
    for row in tqdm(finalists, desc="full retrains", disable=not cfg.progress):
        scores = []
        for seed in s.final_seeds:
            key = full_key(row, seed)
            scores.append(cache.get(key, lambda seed=seed, row=row: retrain_score(
                tower_of(row, space), data, trained_cfg(row), epochs=r.max_epochs, patience=r.patience,
                seed=seed))["score"])
        row["retrained"], row["retrained_std"] = mean_std(scores)
        if training is not None and row.get("baseline") is None:
            row["training"] = training["values"]
        if tracker is not None:
            tracker.log("selection", {"stage": "full", **row})
    full = sorted((row for row in finalists if "retrained" in row), key=lambda row: -row["retrained"])
    rest = sorted((row for row in rows + hand_built if "retrained" not in row), key=lambda row: -row["short"])
    return full + rest
