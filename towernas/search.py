"""``python -m towernas.search dataset=<name> budget=<L|M|H>``: the architecture search, in three stages.

1. Train the weight-sharing supernet of ``cfg.space`` (SPOS over budget-feasible paths, in-batch softmax +
   streaming logQ), then run the complexity-aware evolution with fitness = full-ranking validation
   Recall@50 of each child through the supernet weights (or its validation loss) and cost = exact
   per-tower params/FLOPs. The evolution only orders candidates, and stops once its best fitness stalls
   (``search.stall_generations``): polishing the supernet's fitness further only reorders ties.
2. Short retrains (``search.short_epochs``) of ``search.final_candidates`` genomes, proposed one at a time
   (``towernas.train.selection``): the supernet's best of every pooling first, then the supernet's diverse top;
   then the in-budget MLP of the pooling that retrained best.
3. Full retrains of the best few on ``search.final_seeds`` decide: ``best.json`` is the validation winner.

``search.strategy=random`` replaces stage 1 by random feasible architectures (the equal-compute control).
Writes into the run directory: ``run_config.json``, ``supernet.pt`` (+ ``supernet.prev.pt``,
``supernet_best.pt``), ``supernet.jsonl``, ``search.jsonl``, ``evolution_state.json``, ``selection.json``
(retrain scores), ``selection.jsonl``, ``archs/top<i>.json``, ``best.json`` (and ``best_<budget>.json`` +
``pareto_front.json`` in pareto mode), ``summary.{json,md}``. Rerunning the same command resumes.
Validation only: the test split is never read here.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import hydra
import torch
from omegaconf import DictConfig, OmegaConf

from evolution import EvolutionConfig, SearchSpace, best_under, evolve
from supernet import (
    RecallFitness,
    Supernet,
    fixed_batches,
    train_supernet,
    validation_loss,
    validation_recall,
)
from towernas import __version__
from towernas.complexity import CostModel, TowerCost
from towernas.complexity.budgets import Budget, check_feasible
from towernas.config import register_configs
from towernas.config.addons import InBatchOptions
from towernas.config.validate import check_training_values
from towernas.data import load_dataset
from towernas.data.spec import DatasetSpec
from towernas.eval.encode import sample_queries
from towernas.runs.cli import run_entry, validation_entry
from towernas.runs.device import resolve_device
from towernas.runs.errors import UserError
from towernas.runs.files import write_json_atomic, write_text_atomic
from towernas.runs.jobs import JobsSettings
from towernas.runs.run_dir import claim, config_hash
from towernas.runs.search_outputs import (
    annotate,
    random_comparison,
    save_archs,
    summary_table,
)
from towernas.runs.tracking import Tracker
from towernas.space import SKIP, Arch, ArchError
from towernas.space.arch_space import ArchSpace
from towernas.train import distributed
from towernas.train.configured import build_objective, check_objective
from towernas.train.hparams import TRAINING_HPARAMS, check_hparams
from towernas.train.precision import resolve_precision
from towernas.train.selection import PROPOSERS, RandomProposals, SelectionCache, final_selection

log = logging.getLogger(__name__)
STRATEGIES = ("evolution", "random")
FITNESSES = ("recall", "loss")
NOT_READ = ("dataset.ctr",)  # config keys a search never reads: a run resumes across changes to them
register_configs()


@dataclass
class PreparedSupernet:
    """A trained supernet with what scoring its paths needs (``prepare_supernet``)."""

    supernet: Supernet
    batches: list
    log_q: Callable
    trained: dict
    fitness: Callable[[Arch], float]  # the search's fitness of a path (lower is better)


def genome_cost(cost_model: CostModel, space: ArchSpace, genome: Sequence[str]) -> TowerCost:
    """Exact cost of a genome ``(pooling, *user, *item)`` without building an Arch (the sampler's fast path)."""
    u = 1 + space.depth_user
    return TowerCost(*cost_model.user_cost(genome[0], genome[1:u]), *cost_model.item_cost(genome[u:]))


def admitted_by(cost_model: CostModel, space: ArchSpace, budgets: Sequence[Budget]) -> Callable[[tuple], bool]:
    """``admits(genome)``: True when at least one of ``budgets`` admits the genome's exact cost."""
    def admits(genome) -> bool:
        cost = genome_cost(cost_model, space, genome)
        return any(b.admits(cost) for b in budgets)

    return admits


def supernet_objective(cfg: DictConfig, data, device):
    """The supernet's training objective from ``supernet.sampler / loss / addons``; None for the default
    in-batch softmax + logQ (then checkpoints are those of every earlier release)."""
    sn = cfg.supernet
    default_alpha = cfg.sampler.in_batch.alpha == InBatchOptions.alpha  # the trainer's own estimator's
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
    probes = [space.arch(g) for g in _random_feasible(space.slots(), admits, sn.monitor_archs, cfg.seed + 1)]

    def monitor(net, estimator) -> float:  # torchrun: the probes are split across ranks
        return sum(distributed.map_split(lambda a: score(net, a, estimator.log_q), probes)) / len(probes)

    log = (lambda r: tracker.log("supernet", r)) if tracker is not None else None
    trained = train_supernet(supernet, data, steps=sn.steps, batch_size=sn.batch_size, lr=sn.lr,
                             temperature=sn.temperature, seed=cfg.seed, device=device, checkpoint_dir=run_dir,
                             checkpoint_every=sn.checkpoint_every, progress=cfg.progress, log=log,
                             monitor=monitor if probes else None, monitor_every=sn.monitor_every,
                             patience=sn.patience, admits=admits if sn.feasible_sampling else None,
                             embedding_decay=sn.embedding_decay, objective=supernet_objective(cfg, data, device),
                             precision=cfg.precision)
    log_q = trained["estimator"].log_q
    if cfg.search.fitness == "recall":  # frozen weights from here on: item vectors are shared across paths
        return PreparedSupernet(supernet, batches, log_q, trained,
                                RecallFitness(supernet, data, queries, k=50, device=device))
    return PreparedSupernet(supernet, batches, log_q, trained, lambda arch: score(supernet, arch, log_q))


def mlp_seeds(space: ArchSpace, admits: Callable[[tuple], bool]) -> list[tuple[str, ...]]:
    """The space's in-budget MLP towers: ``MLP-w`` then skips on both sides, for every pooling, the widest
    (user, item) widths the budget admits (what an engineer would build by hand at this cost)."""
    if SKIP not in space.choices("user", 1):
        return []
    def width(block: str) -> int:
        return int(block.split("-")[1])

    def genome(pooling: str, user: str, item: str) -> tuple[str, ...]:
        return (pooling, user, *[SKIP] * (space.depth_user - 1), item, *[SKIP] * (space.depth_item - 1))

    mlps = sorted((b for b in space.blocks if b.startswith("MLP-")), key=width)
    seeds = []
    for pooling in space.poolings:
        fitting = [(u, i) for u in mlps for i in mlps if admits(genome(pooling, u, i))]
        if fitting:  # the widest narrower side, then the widest user side
            u, i = max(fitting, key=lambda ui: (min(width(ui[0]), width(ui[1])), width(ui[0])))
            seeds.append(genome(pooling, u, i))
    return seeds


def random_search(cfg: DictConfig, data, space: ArchSpace, in_budget, run_dir: Path, tracker: Tracker) -> list[dict]:
    """The control of AutoTower's Table 5: no supernet, no evolution; random feasible architectures go
    through the same final selection, short-retrained for ``search.random_seconds`` of compute in total
    (give it what the evolutionary search spent on its supernet, evolution and short retrains)."""
    s = cfg.search
    stream = _feasible_stream(space.slots(), in_budget, cfg.seed + 104729)
    first = [next(stream) for _ in range(s.final_candidates)]
    hand_built = mlp_seeds(space, in_budget) if s.seed_mlp else []  # the same hand-built finalist rule
    propose = RandomProposals(first, stream, s.random_seconds, hand_built)
    return final_selection(cfg, data, space, propose, SelectionCache(run_dir / "selection.json"), tracker)


def run_search(cfg: DictConfig, run_dir: Path) -> dict:
    """Search architectures for ``cfg.dataset`` under ``cfg.budget``; return the summary dict.

    Three stages: (1) the supernet's fitness (``search.fitness``) drives the evolution, which only
    orders candidates; (2) candidates proposed by ``search.propose`` are retrained from scratch for
    ``search.short_epochs`` epochs, one at a time; (3) the
    best few by that are retrained fully on ``search.final_seeds``; ``best.json`` is the validation winner.
    """
    check_training_values(cfg)
    check_objective(cfg, "supernet")
    check_objective(cfg, "retrain")  # the final selection's short retrains train as `make retrain` will
    if cfg.search.strategy not in STRATEGIES:
        raise UserError(f"search.strategy={cfg.search.strategy!r}: expected one of {list(STRATEGIES)}")
    if cfg.search.propose not in PROPOSERS:
        raise UserError(f"search.propose={cfg.search.propose!r}: expected one of {list(PROPOSERS)}")
    check_hparams(list(cfg.search.hparams))
    if JobsSettings.from_config(cfg.jobs).engine != "local" and distributed.launched_size() > 1:
        raise UserError(f"jobs.engine={cfg.jobs.engine} under torchrun: use one of the two (torchrun parallelises "
                        "each training, jobs.engine runs the full retrains side by side)")
    if cfg.search.fitness not in FITNESSES:
        raise UserError(f"search.fitness={cfg.search.fitness!r}: expected one of {list(FITNESSES)}")
    if cfg.search.strategy == "random" and cfg.search.mode == "pareto":
        raise UserError("search.strategy=random runs under one budget; use search=evolution")
    config = OmegaConf.to_container(cfg, resolve=True)
    budget = Budget.from_config(cfg.budget)
    pareto = cfg.search.mode == "pareto"
    report_budgets = {name: Budget.from_config(b) for name, b in cfg.search.budgets.items()} if pareto else {}
    admitting = [budget, *report_budgets.values()]
    resolve_precision(cfg.precision, resolve_device(cfg.device))  # a bad device or precision: here, before any work
    torch.manual_seed(cfg.seed)

    data = load_dataset(cfg.dataset, progress=cfg.progress)
    spec = DatasetSpec.from_data(data)
    space = ArchSpace.from_config(cfg.space)
    cost_model = CostModel.from_space(spec, space)
    check_feasible(cost_model, budget, skip=space.allow_skip)  # before any training
    resumed = claim(run_dir, config, ignore=NOT_READ)
    tracker = Tracker(run_dir, use_wandb=cfg.tracking.wandb, project=cfg.tracking.project, config=config,
                      name=f"{cfg.dataset.name}-{budget.name}-{cfg.search.mode}-s{cfg.seed}")
    phases: dict[str, float] = {}
    s = cfg.search
    in_budget = admitted_by(cost_model, space, [budget])
    try:
        if s.strategy == "random":
            clock = time.perf_counter()
            selection = random_search(cfg, data, space, in_budget, run_dir, tracker)
            phases["selection"] = time.perf_counter() - clock
            trained, result, seeds, random_losses = None, None, [], []
        else:
            selection, trained, result, seeds, random_losses = _evolutionary(
                cfg, data, run_dir, space, cost_model, admitting, in_budget, tracker, phases)
    finally:
        tracker.close()

    provenance = {"dataset": cfg.dataset.name, "budget": budget.name, "mode": s.mode, "strategy": s.strategy,
                  "seed": cfg.seed, "config_hash": config_hash(config), "towernas": __version__}
    if result is not None:
        provenance.update({"supernet_steps": trained["best_step"] or trained["step"],
                           "generations": len(result.history) - 1,
                           "unique_evaluations": result.unique_evaluations})
    ranked = [annotate(space.arch(row["genome"]), cost_model, row["fitness"],
                       {**provenance, **{k: row[k] for k in ("fitness_rank", "short", "short_rank", "retrained",
                                                             "retrained_std", "training") if k in row}})
              for row in selection]
    named = {"best": ranked[0]}
    for name, b in report_budgets.items():
        found = best_under(result, admitted_by(cost_model, space, [b])) if result is not None else None
        if found is not None:
            named[f"best_{name}"] = annotate(space.arch(found[0]), cost_model, found[1], {**provenance, "budget": name})
    save_archs(run_dir, ranked, named)
    if pareto and result is not None:
        write_json_atomic(run_dir / "pareto_front.json",
                          [annotate(space.arch(g), cost_model, f, provenance).to_dict()
                           for g, f, _ in result.pareto_front])
    summary = {
        "run_dir": str(run_dir), "resumed": resumed, **distributed.world().describe(),
        "dataset": data.summary(), "budget": str(budget),
        "space": space.name, "strategy": s.strategy, "fitness": s.fitness,
        "supernet": None if trained is None else {
            "steps": trained["step"], "final_train_loss": trained["loss"], "best_step": trained["best_step"],
            "best_val_loss": trained["best_val_loss"], "stopped_early": trained["stopped_early"],
            "seconds": round(trained["elapsed"], 1)},
        "search": None if result is None else {
            "mode": s.mode, "unique_evaluations": result.unique_evaluations, "mlp_seeds": len(seeds),
            "generations_run": len(result.history) - 1,
            "seconds_this_call": round(phases["evolution"], 1)},
        "selection": selection,
        "phases_seconds_this_call": {k: round(v, 1) for k, v in phases.items()},
        "peak_rss_mib": peak_rss_mib(),
        "best": named["best"].to_dict(),
        "best_per_budget": {k: v.to_dict() for k, v in named.items() if k != "best"},
        "vs_random_feasible": random_comparison(selection[0]["fitness"], random_losses) if result else None,
        # joint search: the training hyperparameters the winner was fully retrained with (search.hparams)
        "training": selection[0].get("training"),
        # the winner's validation score as the selection saw it (mean of its full retrains, else its short one)
        "validation": validation_entry(cfg.retrain.select, selection[0].get("retrained", selection[0]["short"]),
                                       "best"),
    }
    table = summary_table([(f"top{i}", a) for i, a in enumerate(ranked, 1)]
                          + [(k, v) for k, v in named.items() if k != "best"])
    if summary["training"]:  # joint search: retrain the winner with these to reproduce its selection
        table += "\n\nbest retrained with: " + " ".join(f"{TRAINING_HPARAMS[k].key}={v}"
                                                      for k, v in summary["training"].items())
    write_json_atomic(run_dir / "summary.json", summary)
    write_text_atomic(run_dir / "summary.md", table + "\n")
    print(f"\n{table}\n\nvs random feasible architectures (fitness {cfg.search.fitness}): "
          f"{summary['vs_random_feasible']}\n"
          f"best architecture: {run_dir / 'best.json'}")
    return summary


def _evolutionary(cfg, data, run_dir, space, cost_model, admitting, in_budget, tracker, phases):
    """Stages 1–3 of the evolutionary search: supernet, evolution (orders candidates), final selection."""
    s = cfg.search
    clock = time.perf_counter()
    prepared = prepare_supernet(cfg, data, run_dir, admitting, tracker)
    phases["supernet"] = time.perf_counter() - clock
    trained = prepared.trained

    def fitness(genome) -> float:
        return prepared.fitness(space.arch(genome))

    seeds = mlp_seeds(space, in_budget) if s.seed_mlp else []
    clock = time.perf_counter()
    result = evolve(
        SearchSpace(list(space.slots())), fitness, lambda g: float(genome_cost(cost_model, space, g).flops),
        admitted_by(cost_model, space, admitting),
        evolution_config(s, cfg.seed), on_generation=lambda r: tracker.log("search", r),
        state_path=run_dir / "evolution_state.json", write_text=write_text_atomic, progress=cfg.progress,
        seeds=seeds, map_fitness=distributed.map_split,  # torchrun: a generation's new genomes split across ranks
    )
    phases["evolution"] = time.perf_counter() - clock
    known = dict(result.evaluated)
    randoms = _random_feasible(space.slots(), in_budget, s.random_baseline, cfg.seed)
    unscored = [g for g in randoms if g not in known]
    known.update(zip(unscored, distributed.map_split(fitness, unscored)))
    random_losses = [known[g] for g in randoms]
    clock = time.perf_counter()
    if not any(in_budget(g) for g in known):
        raise ArchError(f"no evaluated architecture fits {Budget.from_config(cfg.budget)}; raise "
                        "search.generations or the budget")
    propose = PROPOSERS[s.propose](result.evaluated, s.final_candidates, s.min_distance, in_budget, hand_built=seeds)
    selection = final_selection(cfg, data, space, propose, SelectionCache(run_dir / "selection.json"), tracker)
    phases["selection"] = time.perf_counter() - clock
    return selection, trained, result, seeds, random_losses


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports KiB, macOS bytes)."""
    import resource
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (2**20 if sys.platform == "darwin" else 2**10), 1)


def evolution_config(search_cfg, seed: int) -> EvolutionConfig:
    """The evolution settings of ``cfg.search``: every key the two schemas share, by name."""
    shared = [f.name for f in dataclasses.fields(EvolutionConfig) if f.name in search_cfg]
    return EvolutionConfig(**{name: search_cfg[name] for name in shared}, seed=seed)


def _feasible_stream(slots, admits, seed: int, max_tries: int = 10_000_000):
    """Distinct uniformly drawn genomes the budget admits, one at a time (seeded)."""
    rng = random.Random(seed + 7919)
    seen: set[tuple[str, ...]] = set()
    for _ in range(max_tries):
        genome = tuple(rng.choice(s) for s in slots)
        if genome not in seen and admits(genome):
            seen.add(genome)
            yield genome


def _random_feasible(slots, admits, n: int, seed: int, max_tries: int = 20000) -> list[tuple[str, ...]]:
    """Up to ``n`` distinct uniformly drawn genomes the budget admits (seeded), within ``max_tries`` draws."""
    return list(itertools.islice(_feasible_stream(slots, admits, seed, max_tries), n))


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> float:
    return run_entry("towernas.search", run_search, cfg)


if __name__ == "__main__":
    main()
