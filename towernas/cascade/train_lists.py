"""Where a cascade's rankers get their training lists (``cascade.train_lists``).

A ranker reranks the retriever's top-K0 for validation and test queries, which the retriever was never fitted
on. Its training lists should look the same:

- ``in_sample``: the served retriever's top-K0 for queries at train interactions (``queries.train_queries``).
  The retriever was fitted on exactly those targets, so its lists rank them higher than it ever will a
  future item, and a ranker learns what does not carry to served lists (on real MovieLens-100K its best
  validation epoch was epoch 0: the retriever alone).
- ``time_split``: each user's train interactions are split in time: the latest ``cascade.holdout`` share
  (at least one; users with at least two train interactions) is held out as a window. The same model (the
  artifact records its candidate and its ``retrain`` recipe) is refitted on the earlier part, early-stopped on
  the window as ``retrain`` early-stops on validation, and its top-K0 at each user's boundary are the
  rankers' training lists, with every held-out item a positive (one query per item). This is the protocol's
  validation query one step earlier: history up to a time, targets after it, candidates from a retriever that
  never saw them. The served stage 1 stays the artifact (fitted on all of train); the refitted retriever is
  written to ``<run dir>/train_lists_retriever`` and reused when the run resumes.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from towernas.cascade.queries import rows_as_queries, subset, train_queries
from towernas.cascade.retriever_stage import RetrieverStage
from towernas.complexity.budgets import Budget
from towernas.data.interactions import TEST, TRAIN, VALID, EvalQueries, InteractionData
from towernas.data.ragged import Ragged
from towernas.data.spec import DatasetSpec
from towernas.retrievers.candidate import Candidate
from towernas.runs.errors import UserError
from towernas.runs.files import writes_files
from towernas.runs.registry import Registry

log = logging.getLogger(__name__)
TRAIN_LISTS = Registry("training-list source", key="cascade.train_lists")
ANCHORS = ("boundary", "each")  # cascade.window_anchor (window_queries)


@dataclass
class TrainingLists:
    """What a cascade's rankers train on: ``retriever``'s top-K0 for ``queries`` (one target each); list
    negatives skip the items each user consumes in the train split after row ``after``; ``fitted_on``: the data
    whose train split the retriever was fitted on (and pair features count)."""

    retriever: RetrieverStage
    queries: EvalQueries
    after: np.ndarray
    fitted_on: InteractionData


@TRAIN_LISTS.register("in_sample")
def in_sample(served: RetrieverStage, data: InteractionData, cfg: DictConfig, run_dir: Path,
              device) -> TrainingLists:
    queries = train_queries(data, cfg.cascade.train_queries, seed=cfg.seed)
    return TrainingLists(served, queries, queries.positions, data)


@TRAIN_LISTS.register("time_split")
def time_split(served: RetrieverStage, data: InteractionData, cfg: DictConfig, run_dir: Path,
               device) -> TrainingLists:
    split_data = holdout_split(data, cfg.cascade.holdout)
    retriever = refit_retriever(served, split_data, cfg, Path(run_dir) / "train_lists_retriever", device)
    anchor = cfg.cascade.window_anchor
    queries = window_queries(split_data, cfg.cascade.train_queries, seed=cfg.seed, anchor=anchor)
    after = queries.positions - 1 if anchor == "boundary" else queries.positions  # the user's later window items
    return TrainingLists(retriever, queries, after, split_data)


def holdout_split(data: InteractionData, share: float) -> InteractionData:
    """``data`` with the latest ``share`` of every user's train rows (at least one, never all: users with fewer
    than two train rows keep theirs) relabelled VALID, and the protocol's validation and test rows relabelled
    TEST, so nothing fitted on the result sees them (its test split is never read)."""
    if not 0.0 < share < 1.0:
        raise UserError(f"holdout share {share!r}: expected a share in (0, 1)")
    train = data.split == TRAIN
    counts = np.bincount(data.users[train], minlength=data.n_users)
    held = np.where(counts >= 2, np.clip(np.floor(share * counts), 1, counts - 1), 0).astype(np.int64)
    offset = np.arange(data.n_interactions) - data.user_indptr[data.users]  # train rows come first per user
    window = train & (offset >= (counts - held)[data.users])
    split = np.where(train, TRAIN, TEST).astype(data.split.dtype)
    split[window] = VALID
    return dataclasses.replace(data, split=split)


def window_queries(split_data: InteractionData, limit: int | None = None, seed: int = 0,
                   anchor: str = "boundary") -> EvalQueries:
    """One query per held-out item of ``holdout_split``'s data, target that item. ``anchor``: "boundary": the user
    at the window's start (history before the window, the earlier items excluded as served), as a validation
    query; "each": the user right before that item (history and exclusions up to it; more distinct contexts).
    ``limit``: a seeded sample, kept in order."""
    if anchor == "each":
        rows = split_data.rows("valid")
        if limit is not None and len(rows) > limit:
            rows = np.sort(np.random.default_rng(seed).choice(rows, limit, replace=False))
        return rows_as_queries(split_data, rows)
    if anchor != "boundary":
        raise UserError(f"cascade.window_anchor={anchor!r}: expected one of {list(ANCHORS)}")
    per_user = split_data.queries("valid")
    lengths = np.diff(per_user.targets.indptr)
    index = np.repeat(np.arange(len(per_user.users)), lengths)
    if limit is not None and len(index) > limit:
        keep = np.sort(np.random.default_rng(seed).choice(len(index), limit, replace=False))
    else:
        keep = np.arange(len(index))
    chosen = subset(per_user, index[keep])  # each user's query once per target kept ...
    targets = Ragged.from_lengths(np.ones(len(keep), np.int64), per_user.targets.values[keep])
    return dataclasses.replace(chosen, targets=targets)  # ... with that one target


def refit_retriever(served: RetrieverStage, split_data: InteractionData, cfg: DictConfig, directory: Path,
                    device) -> RetrieverStage:
    """The served artifact's model refitted on ``split_data``'s train part with the artifact's recorded recipe
    (its seed too), written to ``directory`` (reused if a finished one is there) and loaded as a stage."""
    if (directory / "meta.json").exists():
        log.info("training lists: reusing the refitted retriever %s", directory)
        return RetrieverStage.load(directory, split_data)
    meta = served.artifact.meta.get("metadata") or {}
    where = f"retriever artifact {served.directory}"
    if "candidate" not in meta or "recipe" not in meta:
        raise UserError(f"{where}: it does not record its model and recipe (exported by an older `make retrain`); "
                        "cascade.train_lists=time_split refits them on the earlier part of train. Re-export it with "
                        "`make retrain`, or set cascade.train_lists=in_sample")
    candidate = Candidate.from_dict(meta["candidate"], str(meta.get("model", "retriever")),
                                    f"{where}: meta.json metadata.candidate")
    recipe = {k: v for k, v in meta["recipe"].items() if k in cfg.retrain}
    refit_cfg = OmegaConf.merge(cfg, {"retrain": recipe})
    seed = int(meta.get("seed", 0))
    spec = DatasetSpec.from_data(split_data)
    torch.manual_seed(seed)
    backbone = candidate.build(spec, Budget.from_config(cfg.budget))
    from towernas.serving.export import export_retriever
    from towernas.train.configured import fit_configured

    log.info("training lists: refitting %s on the earlier %.0f%% of each user's train interactions",
             candidate.name, 100 * (1 - cfg.cascade.holdout))
    model, fitted = fit_configured(backbone, split_data, refit_cfg, seed=seed, device=device)
    if writes_files():
        export_retriever(model, split_data, directory, metadata={
            "model": candidate.name, "seed": seed, "valid": fitted.best_valid, "candidate": meta["candidate"],
            "recipe": meta["recipe"], "temperature": refit_cfg.retrain.temperature,
            "history_dropout": refit_cfg.retrain.history_dropout, "holdout": cfg.cascade.holdout})
    from towernas.train import distributed

    distributed.barrier()
    return RetrieverStage.load(directory, split_data)
