"""Stage 1 of the search: the weight-sharing supernet of ``cfg.space`` trained on the data, and the fitness
of a path through its weights (minus full-ranking validation Recall@50, or the in-batch validation loss)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig

from supernet import RecallFitness, Supernet, fixed_batches, train_supernet, validation_loss, validation_recall
from towernas.complexity import CostModel
from towernas.complexity.budgets import Budget
from towernas.config.addons import sampler_schema
from towernas.data.spec import DatasetSpec
from towernas.eval.encode import sample_queries
from towernas.runs.device import resolve_device
from towernas.runs.tracking import Tracker
from towernas.search.genomes import admitted_by, random_feasible
from towernas.space import Arch
from towernas.space.arch_space import ArchSpace
from towernas.train import distributed
from towernas.train.configured import build_objective
from towernas.train.settings import SupernetSettings


@dataclass
class PreparedSupernet:
    """A trained supernet with what scoring its paths needs (``prepare_supernet``)."""

    supernet: Supernet
    batches: list
    log_q: Callable
    trained: dict
    fitness: Callable[[Arch], float]  # the search's fitness of a path (lower is better)


def supernet_objective(cfg: DictConfig, data, device):
    """The supernet's training objective from ``supernet.sampler / loss / addons``; None for the default
    in-batch softmax + logQ (then checkpoints are those of every earlier release)."""
    sn = cfg.supernet
    default_alpha = cfg.sampler.in_batch.alpha == sampler_schema("in_batch").alpha  # the trainer's own estimator's
    if sn.sampler == "in_batch" and sn.loss == "softmax" and not sn.addons and default_alpha:
        return None
    return build_objective(cfg, "supernet", data, seed=cfg.seed, device=device)[1]


def prepare_supernet(cfg: DictConfig, data, run_dir: Path, admitting: Sequence[Budget] | None = None,
                     tracker: Tracker | None = None) -> PreparedSupernet:
    """Stage 1: train the supernet of ``cfg.space`` on ``data`` in ``run_dir`` (resuming what is there)."""
    device = resolve_device(cfg.device)
    spec = DatasetSpec.from_data(data)
    sn, space = cfg.supernet, ArchSpace.from_config(cfg.space)
    cost_model = CostModel.from_space(spec, space)
    admits = admitted_by(cost_model, space, admitting if admitting is not None else [Budget.from_config(cfg.budget)])
    supernet = Supernet.from_space(spec, space)
    batches = fixed_batches(data, "valid", n_batches=cfg.search.val_batches, batch_size=cfg.search.val_batch_size,
                            seed=cfg.seed, device=device)
    queries = sample_queries(data.queries("valid"), cfg.search.fitness_users, seed=cfg.seed)

    def score(net, arch: Arch, log_q) -> float:
        """The fitness of ``arch`` through ``net`` (lower is better): minus validation Recall@50 by full
        ranking (``search.fitness=recall``, the default) or the in-batch validation loss (``loss``)."""
        if cfg.search.fitness == "loss":
            return validation_loss(net, arch, batches, sn.temperature, log_q)
        return -validation_recall(net, arch, data, queries, k=50, device=device)

    # early stopping of the supernet on the same measure: the mean fitness of a few fixed feasible architectures
    probes = [space.arch(g) for g in random_feasible(space.slots(), admits, sn.monitor_archs, cfg.seed + 1)]

    def monitor(net, estimator) -> float:  # torchrun: the probes are split across ranks
        return sum(distributed.map_split(lambda a: score(net, a, estimator.log_q), probes)) / len(probes)

    log = (lambda r: tracker.log("supernet", r)) if tracker is not None else None
    settings = SupernetSettings.from_config(sn, seed=cfg.seed, precision=cfg.precision)
    trained = train_supernet(supernet, data, settings, device=device, checkpoint_dir=run_dir, progress=cfg.progress,
                             log=log, monitor=monitor if probes else None,
                             admits=admits if sn.feasible_sampling else None,
                             objective=supernet_objective(cfg, data, device))
    log_q = trained["estimator"].log_q
    if cfg.search.fitness == "recall":  # frozen weights from here on: item vectors are shared across paths
        return PreparedSupernet(supernet, batches, log_q, trained,
                                RecallFitness(supernet, data, queries, k=50, device=device))
    return PreparedSupernet(supernet, batches, log_q, trained, lambda arch: score(supernet, arch, log_q))
