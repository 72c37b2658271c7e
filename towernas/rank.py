"""``python -m towernas.rank``: train a ranker on labelled pairs (the CTR task, or with ``rank.task=rating`` the
rating task), select on validation, read test once.

Labels come from ``dataset.ctr`` (``rating``: rating >= threshold; ``implicit``: every interaction is positive
and ``rank.negatives`` uniform negatives per positive are sampled, afresh each training epoch and once, with a
fixed seed, for validation and test). Pairs follow the dataset's per-user chronological split; a pair's query
is the user with the history right before it. The ranker (``ranker=<name>``, ``towernas/rankers/``) trains with
pointwise BCE and Adam, early-stopped on validation ``rank.select`` (AUC by default), for every seed of
``rank.seeds``. Reported per split: AUC, GAUC (pair-weighted per-user AUC; users whose pairs hold one class
only are skipped and counted in ``gauc_users_skipped``), logloss. Writes ``results.{json,md,csv}`` in the run
directory (mean ± std over seeds) and prints the table.

The rating task (AutoRec's rating prediction) trains on every rated pair of the same split with MSE against the
rating centred on the train mean (``towernas.data.ctr.rating_pairs``: a ranker predicts ``mean + score``), early
stopped on validation RMSE; it reports RMSE and MAE of predictions clipped to the train ratings' range, beside
the train mean's own (the no-model reference row). Any registered ranker trains on it; ``mf`` and ``ncf`` are its
id-only baselines. Add-ons (built for click logits) are refused there.

    python -m towernas.rank ranker=din rank.seeds=[0,1,2]
    python -m towernas.rank rank.task=rating ranker=mf rank.seeds=[0,1,2]
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import hydra
import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from towernas.config import register_configs
from towernas.config.ranker import TASK_METRICS, hyperparameters
from towernas.config.resume import RESUME
from towernas.config.validate import RANK_VALUES, check_values
from towernas.data import InteractionData, load_dataset
from towernas.data.batches import pair_batches
from towernas.data.ctr import CtrPairs, RatingScale, ctr_pairs, rating_pairs, with_sampled_negatives
from towernas.eval.ctr_eval import evaluate_ctr, evaluate_rating
from towernas.eval.rating_metrics import rating_metrics
from towernas.rankers import RANKERS, Catalog, build_ranker
from towernas.rankers.cost import ranker_cost
from towernas.rankers.inputs import RATING_INPUTS
from towernas.rankers.pair_features import PAIR_FEATURES
from towernas.runs import seeds, tables
from towernas.runs.cli import run_entry, validation_entry
from towernas.runs.device import resolve_device
from towernas.runs.files import write_results
from towernas.runs.records import RecordLog
from towernas.runs.run_dir import claim
from towernas.train import distributed
from towernas.train.configured import ranker_addons
from towernas.train.precision import resolve_precision
from towernas.train.early_stopping import LOWER_IS_BETTER
from towernas.train.ranker_loop import fit_ranker
from towernas.train.settings import RankerFitSettings
from towernas.runs.tracking import Tracker
from towernas.addons import RankerWithAddOns

log = logging.getLogger(__name__)
register_configs()


@dataclass(frozen=True)
class Task:
    """What ``rank.task`` trains on and reports: its metrics (the first is the default ``rank.select``; every one
    is selectable) and its loss (``towernas.train.ranker_loop.LOSSES``)."""

    metrics: tuple[str, ...]
    loss: str


TASKS = {"ctr": Task(TASK_METRICS["ctr"], "bce"), "rating": Task(TASK_METRICS["rating"], "mse")}


def task_of(cfg: DictConfig) -> Task:
    return TASKS[cfg.rank.task]


def check_rank_values(cfg: DictConfig) -> None:
    """One line naming the key for a training value no run could use."""
    r = cfg.rank
    check_values(cfg, RANK_VALUES)
    if r.task not in TASKS:
        raise ValueError(f"rank.task={r.task!r}: expected one of {list(TASKS)}")
    if r.select not in task_of(cfg).metrics:
        raise ValueError(f"rank.select={r.select!r}: rank.task={r.task} selects on one of {list(task_of(cfg).metrics)}")
    if not r.seeds:
        raise ValueError("rank.seeds=[]: expected at least one seed")
    if r.task == "rating" and r.addons:
        raise ValueError(f"rank.addons={list(r.addons)}: the add-ons adjust click logits; rank.task=rating takes none")
    ranker_addons(cfg, "rank", "bce")  # names, options and the loss, before any data
    if r.ratings not in RATING_INPUTS:
        raise ValueError(f"rank.ratings={r.ratings!r}: expected one of {list(RATING_INPUTS)}")
    for feature in r.pair_features:
        PAIR_FEATURES.get(feature, key="rank.pair_features")
    if "retriever" in r.pair_features:
        raise ValueError("rank.pair_features=[retriever, …]: the CTR task has no retriever (use it in the cascade)")


def labelled_pairs(data: InteractionData, cfg: DictConfig) -> dict[str, CtrPairs]:
    """The split's pairs; implicit labels get their fixed validation/test negatives here (train: per epoch). The
    rating task: every rated pair, its label the centred rating."""
    if cfg.rank.task == "rating":
        return rating_pairs(data, RatingScale.of(data))
    pairs = ctr_pairs(data, cfg.dataset.ctr.label, cfg.dataset.ctr.threshold)
    if cfg.dataset.ctr.label == "implicit":
        for offset, split in enumerate(("valid", "test"), start=1):
            pairs[split] = with_sampled_negatives(pairs[split], data.n_items, cfg.rank.negatives, seed=10_000 + offset)
    return pairs


def train_batches(data: InteractionData, train: CtrPairs, cfg: DictConfig, device):
    implicit = cfg.rank.task == "ctr" and cfg.dataset.ctr.label == "implicit"

    def batches(rng: np.random.Generator):
        pairs = with_sampled_negatives(train, data.n_items, cfg.rank.negatives, int(rng.integers(2**31))) \
            if implicit else train
        return pair_batches(data, pairs.users, pairs.rows, pairs.items, pairs.labels, cfg.rank.batch_size, rng,
                            device)

    per_epoch = len(train) * (1 + cfg.rank.negatives if implicit else 1)
    return batches, -(-per_epoch // cfg.rank.batch_size)


def rank_one(data: InteractionData, pairs: dict[str, CtrPairs], cfg: DictConfig, seed: int, device, tracker):
    """Train one ranker for one seed; select on validation; read test once. Returns (ranker, record)."""
    r, name = cfg.rank, cfg.ranker.name
    torch.manual_seed(seed)
    catalog = Catalog.from_data(data, r.pair_features, ratings=r.ratings)
    ranker = build_ranker(name, catalog, **hyperparameters(cfg.ranker))
    addons = ranker_addons(cfg, "rank", "bce", data, ranker)
    ranker = (RankerWithAddOns(ranker, addons) if addons else ranker).to(device)
    batches, n_batches = train_batches(data, pairs["train"], cfg, device)
    settings = RankerFitSettings.from_config(r, seed=seed, precision=cfg.precision, loss=task_of(cfg).loss)
    evaluate = split_evaluator(ranker, data, cfg, device)
    fitted = fit_ranker(ranker, batches, lambda: evaluate(pairs["valid"]), settings,
                        device=device, n_batches=n_batches, progress=cfg.progress,
                        log=lambda rec: tracker.log("rank", {"ranker": name, "seed": seed, **rec}))
    test = evaluate(pairs["test"])  # the one read of test
    return ranker, {"ranker": name, "seed": seed, "best_epoch": fitted.best_epoch,
                    "stopped_early": fitted.stopped_early, "valid": fitted.best_valid, "test": test,
                    "cost": ranker_cost(getattr(ranker, "ranker", ranker), data.max_len).to_dict()}  # add-ons excluded


def split_evaluator(ranker, data: InteractionData, cfg: DictConfig, device):
    """``evaluate(pairs) -> metrics`` of the task: CTR metrics, or RMSE/MAE against the train ratings' scale."""
    if cfg.rank.task == "rating":
        scale = RatingScale.of(data)
        return lambda pairs: evaluate_rating(ranker, data, pairs, scale, device=device)
    return lambda pairs: evaluate_ctr(ranker, data, pairs, device=device)


def train_mean_reference(data: InteractionData, pairs: dict[str, CtrPairs]) -> dict:
    """The rating task's no-model row: every pair predicted at the train mean (score 0), per split."""
    scale = RatingScale.of(data)
    return {split: rating_metrics(np.zeros(len(p)), p.labels, scale.low - scale.mean, scale.high - scale.mean)
            for split, p in pairs.items() if split != "train"}


def aggregate(records: list[dict], metrics: tuple[str, ...] = TASK_METRICS["ctr"]) -> list[dict]:
    """Mean ± std over seeds of each ranker's test ``metrics``."""
    return [{"model": name, "seeds": len(mine), "cost": mine[0]["cost"],
             **seeds.over_seeds([r["test"] for r in mine], metrics)}
            for name, mine in seeds.group(records, lambda r: r["ranker"]).items()]


METRIC_TITLES = {"auc": "AUC", "gauc": "GAUC", "logloss": "logloss", "rmse": "RMSE", "mae": "MAE"}


def results_table(rows: list[dict], metrics: tuple[str, ...], reference: dict | None = None) -> str:
    """The test table; ``reference`` (the rating task's train mean) a first row of its own."""
    first = [["(train mean, no model)", *(f"{reference['test'][m]:.4f}" for m in metrics), "0", "0", "0"]] \
        if reference else []
    return tables.markdown(["ranker", *(METRIC_TITLES[m] for m in metrics), "params", "embedding params",
                            "FLOPs/pair"],
                           first + [[r["model"], *(tables.mean_std_cell(r, m) for m in metrics),
                                     tables.thousands(r["cost"]["params"]),
                                     tables.thousands(r["cost"]["embedding_params"]),
                                     tables.thousands(r["cost"]["flops_per_pair"])]
                                    for r in rows])


def results_csv(rows: list[dict], metrics: tuple[str, ...]) -> str:
    return tables.csv_text(["model", "seeds", *tables.with_std(metrics), "params", "flops_per_pair"],
                           ({**r, "params": r["cost"]["params"], "flops_per_pair": r["cost"]["flops_per_pair"]}
                            for r in rows))


def pair_counts(pairs: dict[str, CtrPairs], cfg: DictConfig, data: InteractionData) -> dict:
    """Per split: the pair count and the positive rate (CTR) or mean rating (rating task)."""
    if cfg.rank.task == "rating":
        mean = RatingScale.of(data).mean
        return {s: {"pairs": len(p), "mean_rating": float(p.labels.mean()) + mean if len(p) else None}
                for s, p in pairs.items()}
    return {s: {"pairs": len(p), "positive_rate": p.positive_rate} for s, p in pairs.items()}


def run_rank(cfg: DictConfig, run_dir: Path) -> dict:
    """Train and evaluate ``cfg.ranker`` on the CTR task for every seed; write and return the results."""
    RANKERS.get(cfg.ranker.name)  # an unknown ranker: one line listing the known ones, before any data
    check_rank_values(cfg)
    device = resolve_device(cfg.device)
    resolve_precision(cfg.precision, device)  # a bad precision: one line, before any work
    data = load_dataset(cfg.dataset, progress=cfg.progress)
    pairs = labelled_pairs(data, cfg)
    config = OmegaConf.to_container(cfg, resolve=True)
    claim(run_dir, config, RESUME.ignoring("rank.seeds"))  # seeds: units of their own
    tracker = Tracker(run_dir, use_wandb=cfg.tracking.wandb, project=cfg.tracking.project, config=config,
                      name=f"rank-{cfg.dataset.name}-{cfg.ranker.name}")
    done, records = RecordLog(run_dir), []
    try:
        for seed in cfg.rank.seeds:
            key = f"{cfg.ranker.name}/seed{seed}"
            if done.get(key) is None:
                done.add(key, rank_one(data, pairs, cfg, seed, device, tracker)[1])
            records.append(done.get(key))
    finally:
        tracker.close()
    metrics, select = task_of(cfg).metrics, cfg.rank.select
    rows = aggregate(records, metrics)
    reference = train_mean_reference(data, pairs) if cfg.rank.task == "rating" else None
    results = {"dataset": cfg.dataset.name, "task": cfg.rank.task,
               "ranker": OmegaConf.to_container(cfg.ranker, resolve=True), **distributed.world().describe(),
               "label": OmegaConf.to_container(cfg.dataset.ctr, resolve=True) if cfg.rank.task == "ctr" else "rating",
               "pairs": pair_counts(pairs, cfg, data), "records": records, "table": rows,
               **({"train_mean": reference} if reference else {}),
               "validation": validation_entry(select, sum(r["valid"][select] for r in records) / len(records),
                                              cfg.ranker.name, lower_is_better=select in LOWER_IS_BETTER)}
    write_results(run_dir, results, results_table(rows, metrics, reference), results_csv(rows, metrics))
    return results


@hydra.main(version_base="1.3", config_path="conf", config_name="rank")
def main(cfg: DictConfig) -> float:
    return run_entry("towernas.rank", run_rank, cfg, distributed)


if __name__ == "__main__":
    main()
