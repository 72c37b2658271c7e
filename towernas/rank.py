"""``python -m towernas.rank`` (the CTR task): train a ranker on labelled pairs, select on validation, read
test once.

Labels come from ``dataset.ctr`` (``rating``: rating >= threshold; ``implicit``: every interaction is positive
and ``rank.negatives`` uniform negatives per positive are sampled, afresh each training epoch and once, with a
fixed seed, for validation and test). Pairs follow the dataset's per-user chronological split; a pair's query
is the user with the history right before it. The ranker (``ranker=<name>``, ``towernas/rankers/``) trains with
pointwise BCE and Adam, early-stopped on validation ``rank.select`` (AUC by default), for every seed of
``rank.seeds``. Reported per split: AUC, GAUC (pair-weighted per-user AUC; users whose pairs hold one class
only are skipped and counted in ``gauc_users_skipped``), logloss. Writes ``results.{json,md,csv}`` in the run
directory (mean ± std over seeds) and prints the table.

    python -m towernas.rank ranker=din rank.seeds=[0,1,2]
"""

from __future__ import annotations

import logging
from pathlib import Path

import hydra
import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from towernas.config import register_configs
from towernas.config.ranker import hyperparameters
from towernas.config.resume import RESUME
from towernas.config.validate import RANK_VALUES, check_values
from towernas.data import InteractionData, load_dataset
from towernas.data.batches import pair_batches
from towernas.data.ctr import CtrPairs, ctr_pairs, with_sampled_negatives
from towernas.eval.ctr_eval import evaluate_ctr
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
from towernas.train.ranker_loop import fit_ranker
from towernas.train.settings import RankerFitSettings
from towernas.runs.tracking import Tracker
from towernas.addons import RankerWithAddOns

log = logging.getLogger(__name__)
register_configs()
METRICS = ("auc", "gauc", "logloss")
SELECTABLE = METRICS


def check_rank_values(cfg: DictConfig) -> None:
    """One line naming the key for a training value no run could use."""
    r = cfg.rank
    check_values(cfg, RANK_VALUES)
    if r.select not in SELECTABLE:
        raise ValueError(f"rank.select={r.select!r}: expected one of {list(SELECTABLE)}")
    if not r.seeds:
        raise ValueError("rank.seeds=[]: expected at least one seed")
    ranker_addons(cfg, "rank", "bce")  # names, options and the loss, before any data
    if r.ratings not in RATING_INPUTS:
        raise ValueError(f"rank.ratings={r.ratings!r}: expected one of {list(RATING_INPUTS)}")
    for feature in r.pair_features:
        PAIR_FEATURES.get(feature, key="rank.pair_features")
    if "retriever" in r.pair_features:
        raise ValueError("rank.pair_features=[retriever, …]: the CTR task has no retriever (use it in the cascade)")


def labelled_pairs(data: InteractionData, cfg: DictConfig) -> dict[str, CtrPairs]:
    """The split's pairs; implicit labels get their fixed validation/test negatives here (train: per epoch)."""
    pairs = ctr_pairs(data, cfg.dataset.ctr.label, cfg.dataset.ctr.threshold)
    if cfg.dataset.ctr.label == "implicit":
        for offset, split in enumerate(("valid", "test"), start=1):
            pairs[split] = with_sampled_negatives(pairs[split], data.n_items, cfg.rank.negatives, seed=10_000 + offset)
    return pairs


def train_batches(data: InteractionData, train: CtrPairs, cfg: DictConfig, device):
    implicit = cfg.dataset.ctr.label == "implicit"

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
    settings = RankerFitSettings.from_config(r, seed=seed, precision=cfg.precision)
    fitted = fit_ranker(ranker, batches, lambda: evaluate_ctr(ranker, data, pairs["valid"], device=device), settings,
                        device=device, n_batches=n_batches, progress=cfg.progress,
                        log=lambda rec: tracker.log("rank", {"ranker": name, "seed": seed, **rec}))
    test = evaluate_ctr(ranker, data, pairs["test"], device=device)  # the one read of test
    return ranker, {"ranker": name, "seed": seed, "best_epoch": fitted.best_epoch,
                    "stopped_early": fitted.stopped_early, "valid": fitted.best_valid, "test": test,
                    "cost": ranker_cost(getattr(ranker, "ranker", ranker), data.max_len).to_dict()}  # add-ons excluded


def aggregate(records: list[dict]) -> list[dict]:
    """Mean ± std over seeds of each ranker's test metrics."""
    return [{"model": name, "seeds": len(mine), "cost": mine[0]["cost"],
             **seeds.over_seeds([r["test"] for r in mine], METRICS)}
            for name, mine in seeds.group(records, lambda r: r["ranker"]).items()]


def results_table(rows: list[dict]) -> str:
    return tables.markdown(["ranker", "AUC", "GAUC", "logloss", "params", "embedding params", "FLOPs/pair"],
                           [[r["model"], *(tables.mean_std_cell(r, m) for m in METRICS),
                             tables.thousands(r["cost"]["params"]), tables.thousands(r["cost"]["embedding_params"]),
                             tables.thousands(r["cost"]["flops_per_pair"])]
                            for r in rows])


def results_csv(rows: list[dict]) -> str:
    return tables.csv_text(["model", "seeds", *tables.with_std(METRICS), "params", "flops_per_pair"],
                           ({**r, "params": r["cost"]["params"], "flops_per_pair": r["cost"]["flops_per_pair"]}
                            for r in rows))


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
    rows = aggregate(records)
    results = {"dataset": cfg.dataset.name, "ranker": OmegaConf.to_container(cfg.ranker, resolve=True),
               **distributed.world().describe(),
               "label": OmegaConf.to_container(cfg.dataset.ctr, resolve=True),
               "pairs": {s: {"pairs": len(p), "positive_rate": p.positive_rate} for s, p in pairs.items()},
               "records": records, "table": rows,
               "validation": validation_entry(cfg.rank.select,
                                              sum(r["valid"][cfg.rank.select] for r in records) / len(records),
                                              cfg.ranker.name, lower_is_better=cfg.rank.select == "logloss")}
    write_results(run_dir, results, results_table(rows), results_csv(rows))
    return results


@hydra.main(version_base="1.3", config_path="conf", config_name="rank")
def main(cfg: DictConfig) -> float:
    return run_entry("towernas.rank", run_rank, cfg, distributed)


if __name__ == "__main__":
    main()
