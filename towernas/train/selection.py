"""Stages 2 and 3 of the search: short retrains of proposed candidates, then full retrains of the best few.

A *proposer* decides which genome is short-retrained next, having seen every short-retrain score so far:

- :class:`LeadersThenTop` (``search.propose=leaders``, the default): the supernet's best genome of every
  pooling first, then the supernet's diverse top by fitness. Every pooling gets its best shot at the
  retrains; the rest of the budget follows the supernet's order.
- :class:`TopByFitness` (``search.propose=fitness``, the paper's rule): the supernet's diverse top N.
- :class:`RandomProposals` (the equal-compute control): a fixed first batch, then random feasible genomes
  while the short retrains have used less than a number of seconds.

Both supernet proposers end with the hand-built tower (the in-budget MLP) of the pooling that retrained best.
Every score is validation; results are cached in the run directory (``selection.json``), so a resumed search
neither retrains again nor spends a different budget.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Protocol

import torch
from omegaconf import DictConfig
from tqdm.auto import tqdm

from towernas.addons import WithAddOns
from towernas.data.spec import DatasetSpec
from towernas.retrievers.two_tower import build
from towernas.runs import tables
from towernas.runs.device import resolve_device
from towernas.runs.files import write_json_atomic
from towernas.runs.jobs import JobsSettings, run_jobs
from towernas.runs.tracking import Tracker
from towernas.space import Arch
from towernas.space.arch_space import ArchSpace
from towernas.train.configured import build_objective, decay_options
from towernas.train.hparams import Tuned, configured_values, tune_training, with_values
from towernas.train.loop import fit

Genome = tuple[str, ...]


class Proposer(Protocol):
    def __call__(self, rows: Sequence[dict]) -> tuple[Genome, float | None, int | None] | None:
        """The next ``(genome, supernet fitness, fitness rank)`` to short-retrain, given the rows retrained so
        far (each with ``genome`` and ``short``, in order), or None to stop."""


def distance(a: Sequence[str], b: Sequence[str]) -> int:
    """Slots in which two genomes differ."""
    return sum(x != y for x, y in zip(a, b))


def best_short_by_pooling(rows: Sequence[dict]) -> dict[str, float]:
    """Each pooling's best short-retrain score so far."""
    best: dict[str, float] = {}
    for row in rows:
        pooling = row["genome"][0]
        best[pooling] = max(best.get(pooling, -float("inf")), row["short"])
    return best


def hand_built_for(rows: Sequence[dict], hand_built: Sequence[Genome]) -> Genome | None:
    """The hand-built tower (one per pooling, e.g. the in-budget MLPs) of the pooling whose best short retrain
    is highest so far (the first one when none of their poolings was tried), unless one was proposed."""
    proposed = {tuple(row["genome"]) for row in rows}
    if not hand_built or proposed & set(hand_built):
        return None
    best = best_short_by_pooling(rows)
    return max(hand_built, key=lambda g: best.get(g[0], -float("inf")))


class TopByFitness:
    """The supernet's diverse top ``n`` by fitness alone, whatever their pooling (``search.propose=fitness``;
    the paper's "top 3 by supernet fitness"), from the queue of every pooling's admitted genomes by fitness.

    Args:
        evaluated: every ``(genome, fitness)`` the evolution scored (lower fitness is better); slot 0 of a
            genome is its pooling.
        n: candidates to propose from ``evaluated``.
        min_distance: every proposal differs from every earlier one in at least this many slots.
        admits: the run's budget (only admitted genomes are proposed).
        hand_built: after the ``n``, the one of these (one per pooling: the in-budget MLPs) whose pooling
            retrained best is proposed too, unless one of them was proposed already.
    """

    def __init__(self, evaluated: Iterable[tuple[Genome, float]], n: int, min_distance: int,
                 admits: Callable[[Genome], bool], hand_built: Sequence[Genome] = ()) -> None:
        ranked = sorted(((tuple(g), f) for g, f in evaluated if admits(tuple(g))), key=lambda gf: (gf[1], gf[0]))
        self.rank = {g: i for i, (g, _) in enumerate(ranked, 1)}  # supernet rank among admitted genomes
        self.fitness = dict(ranked)
        self.queues: dict[str, list[Genome]] = {}
        for genome, _ in ranked:
            self.queues.setdefault(genome[0], []).append(genome)
        self.n, self.min_distance = n, min_distance
        self.hand_built = [tuple(g) for g in hand_built if admits(tuple(g))]

    def _next(self, poolings: Iterable[str], proposed: Sequence[Genome]) -> Genome | None:
        """The best-fitness genome of ``poolings`` that is far enough from every proposal (the ones too close
        are dropped on the way)."""
        poolings = [p for p in poolings if p in self.queues]
        while heads := [p for p in poolings if self.queues[p]]:
            pooling = min(heads, key=lambda p: (self.fitness[self.queues[p][0]], self.queues[p][0]))
            genome = self.queues[pooling].pop(0)
            if all(distance(genome, p) >= self.min_distance for p in proposed):
                return genome
        return None

    def _pick(self, proposed: Sequence[Genome]) -> Genome | None:
        return self._next(self.queues, proposed)

    def __call__(self, rows: Sequence[dict]):
        proposed = [tuple(row["genome"]) for row in rows]
        genome = self._pick(proposed) if len(proposed) < self.n else None
        if genome is None:
            genome = hand_built_for(rows, self.hand_built)
        return None if genome is None else (genome, self.fitness.get(genome), self.rank.get(genome))


class LeadersThenTop(TopByFitness):
    """``search.propose=leaders`` (the default): first the supernet's best genome of every pooling (best
    pooling first), then the supernet's diverse top by fitness. Every pooling gets its best shot at the
    retrains, whatever the supernet thinks of it across poolings; the rest of the budget follows the
    supernet's order, which ranks paths well."""

    def _pick(self, proposed: Sequence[Genome]) -> Genome | None:
        tried = {p[0] for p in proposed}
        leader = self._next([p for p in self.queues if p not in tried], proposed)
        return leader if leader is not None else self._next(self.queues, proposed)


PROPOSERS = {"leaders": LeadersThenTop, "fitness": TopByFitness}


class RandomProposals:
    """The random-search control's proposer: ``first`` (random feasible genomes), then the hand-built tower of
    the pooling that retrained best among them (as the supernet proposers), then genomes of ``stream`` while the
    short retrains so far have taken less than ``seconds`` in total (each row's ``seconds`` is the cached
    retrain time, so a resumed run spends the same budget)."""

    def __init__(self, first: Sequence[Genome], stream: Iterator[Genome], seconds: float,
                 hand_built: Sequence[Genome] = ()) -> None:
        self.first, self.stream, self.seconds = [tuple(g) for g in first], stream, seconds
        self.hand_built = [tuple(g) for g in hand_built]

    def __call__(self, rows: Sequence[dict]):
        if len(rows) < len(self.first):
            return self.first[len(rows)], None, None
        genome = hand_built_for(rows, self.hand_built)
        if genome is not None:
            return genome, None, None
        if sum(row["seconds"] for row in rows) >= self.seconds:
            return None
        proposed = {tuple(row["genome"]) for row in rows}
        for genome in self.stream:
            if genome not in proposed:
                return genome, None, None
        return None


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


def timed_retrain_score(genome, seed: int, *, data, cfg: DictConfig, space: ArchSpace, epochs: int,
                        patience: int) -> tuple[float, float]:
    """``(retrain_score, seconds)`` of one genome and seed: a full retrain as an independent job."""
    started = time.perf_counter()
    score = retrain_score(space.arch(genome), data, cfg, epochs=epochs, patience=patience, seed=seed)
    return score, time.perf_counter() - started


def retrain_score(arch: Arch, data, cfg: DictConfig, *, epochs: int, patience: int, seed: int) -> float:
    """Validation R@50 (``retrain.select``) of ``arch`` trained from scratch by the retrain trainer. Never test."""
    r = cfg.retrain
    torch.manual_seed(seed)
    model = build(arch, DatasetSpec.from_data(data))
    device = resolve_device(cfg.device)
    addons, objective = build_objective(cfg, "retrain", data, seed=seed, device=device)  # what retraining will use
    model = WithAddOns(model, addons) if addons else model
    fitted = fit(model, data, max_epochs=epochs, patience=patience, batch_size=r.batch_size, lr=r.lr,
                 temperature=r.temperature, seed=seed, device=device, select=r.select,
                 ks=tuple(cfg.eval.ks), progress=False, objective=objective, precision=cfg.precision,
                 **decay_options(r))
    return float(fitted.best_valid[r.select])


def tune_leader(cfg: DictConfig, data, space: ArchSpace, leader: dict, cache: SelectionCache,
                tracker: Tracker | None = None) -> Tuned:
    """``search.hparam_trials`` retrains of the short-retrain leader over ``search.hparams`` (TPE, seeded), each
    cached like every other retrain of the selection: on the retrain's own early-stopped schedule (up to
    ``search.hparam_epochs``, default ``retrain.max_epochs``), or short ones when ``hparam_epochs`` equals
    ``search.short_epochs`` (cheaper, but biased towards what learns fastest: measured, see the README)."""
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
    ``search.final_seeds``.

    Returns one record per short-retrained genome, ranked: the fully retrained ones by mean validation score,
    then the others by their short-retrain score.
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
    if s.hparams and by_short:  # training hyperparameters: genes of this stage (towernas.train.hparams)
        tuned = tune_leader(cfg, data, space, by_short[0], cache, tracker)
        full_cfg, training = with_values(cfg, tuned.values), tuned.to_dict()
        by_short[0]["training_trials"] = training
    def full_key(row: dict, seed: int) -> tuple:
        key = ("full", list(row["genome"]), r.max_epochs, r.patience, seed)
        return key + (sorted(training["values"].items()),) if training is not None and training["improved"] else key

    jobs = JobsSettings.from_config(cfg.jobs)
    if jobs.engine != "local":  # the full retrains are independent jobs: side by side on the engine
        pending = [(row["genome"], seed) for row in by_short[: s.final_top] for seed in s.final_seeds
                   if full_key(row, seed) not in cache]
        shared = {"data": data, "cfg": full_cfg, "space": space, "epochs": r.max_epochs, "patience": r.patience}
        for (genome, seed), (score, seconds) in zip(pending, run_jobs(timed_retrain_score, pending, jobs, shared)):
            cache.put(full_key({"genome": genome}, seed), score, seconds)
    for row in tqdm(by_short[: s.final_top], desc="full retrains", disable=not cfg.progress):
        scores = []
        for seed in s.final_seeds:
            key = full_key(row, seed)
            scores.append(cache.get(key, lambda seed=seed, row=row: retrain_score(
                space.arch(row["genome"]), data, full_cfg, epochs=r.max_epochs, patience=r.patience,
                seed=seed))["score"])
        row["retrained"], row["retrained_std"] = tables.mean_std(scores)
        if training is not None:
            row["training"] = training["values"]
        if tracker is not None:
            tracker.log("selection", {"stage": "full", **row})
    full = sorted((row for row in rows if "retrained" in row), key=lambda row: -row["retrained"])
    return full + [row for row in by_short if "retrained" not in row]
