"""``run_search(cfg, run_dir)``: the body of ``python -m towernas.search`` (stages 1–3, then the run's outputs)."""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from evolution import EvolutionConfig, SearchSpace, best_under, evolve
from towernas import __version__
from towernas.complexity import CostModel
from towernas.complexity.budgets import Budget, check_feasible
from towernas.config import register_configs
from towernas.config.resume import RESUME
from towernas.config.validate import check_training_values
from towernas.data import load_dataset
from towernas.data.spec import DatasetSpec
from towernas.runs import fitness_view
from towernas.runs.cli import validation_entry
from towernas.runs.device import resolve_device
from towernas.runs.errors import UserError
from towernas.runs.files import write_json_atomic, write_text_atomic
from towernas.runs.jobs import JobsSettings
from towernas.runs.registry import Registry
from towernas.runs.run_dir import claim, config_hash
from towernas.runs.tracking import Tracker
from towernas.search.genomes import admitted_by, feasible_stream, genome_cost, mlp_seeds, random_feasible
from towernas.search.hparams import TRAINING_HPARAMS, check_hparams
from towernas.search.outputs import (
    annotate,
    annotate_row,
    random_comparison,
    random_line,
    row_origin,
    save_archs,
    summary_table,
    winner,
    winner_line,
)
from towernas.search.proposals import PROPOSERS, RandomProposals
from towernas.search.selection import SelectionCache, final_selection
from towernas.search.supernet_stage import prepare_supernet
from towernas.space import ArchError
from towernas.space.arch_space import ArchSpace
from towernas.train import distributed
from towernas.train.configured import check_objective
from towernas.train.precision import resolve_precision

log = logging.getLogger(__name__)
# what ``search.strategy`` names, each entry its meaning in one line (``search.fitness``: ``fitness_view.FITNESSES``)
STRATEGIES: Registry[str] = Registry("search strategy", key="search.strategy")
STRATEGIES.register("evolution", "supernet, evolution, then the final selection of its proposals")
STRATEGIES.register("random", "random feasible architectures through the same final selection (the control)")
NOT_READ = ("dataset.ctr",)  # config keys a search never reads: a run resumes across changes to them
register_configs()


def random_search(cfg: DictConfig, data, space: ArchSpace, in_budget, seeds, run_dir: Path,
                  tracker: Tracker) -> list[dict]:
    """The control of AutoTower's Table 5: no supernet, no evolution; random feasible architectures go
    through the same final selection, short-retrained for ``search.random_seconds`` of compute in total
    (give it what the evolutionary search spent on its supernet, evolution and short retrains)."""
    s = cfg.search
    stream = feasible_stream(space.slots(), in_budget, cfg.seed + 104729)
    first = [next(stream) for _ in range(s.final_candidates)]
    propose = RandomProposals(first, stream, s.random_seconds, seeds)  # the same in-space MLP finalist rule
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
    STRATEGIES.get(cfg.search.strategy)
    PROPOSERS.get(cfg.search.propose)
    fitness_view.FITNESSES.get(cfg.search.fitness)
    check_hparams(list(cfg.search.hparams))
    if JobsSettings.from_config(cfg.jobs).engine != "local" and distributed.launched_size() > 1:
        raise UserError(f"jobs.engine={cfg.jobs.engine} under torchrun: use one of the two (torchrun parallelises "
                        "each training, jobs.engine runs the full retrains side by side)")
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
    resumed = claim(run_dir, config, RESUME.ignoring(*NOT_READ))
    tracker = Tracker(run_dir, use_wandb=cfg.tracking.wandb, project=cfg.tracking.project, config=config,
                      name=f"{cfg.dataset.name}-{budget.name}-{cfg.search.mode}-s{cfg.seed}")
    phases: dict[str, float] = {}
    s = cfg.search
    in_budget = admitted_by(cost_model, space, [budget])
    seeds = mlp_seeds(space, in_budget) if s.seed_mlp else []  # the in-space MLP towers every search carries
    try:
        if s.strategy == "random":
            clock = time.perf_counter()
            selection = random_search(cfg, data, space, in_budget, seeds, run_dir, tracker)
            phases["selection"] = time.perf_counter() - clock
            trained, result, random_losses = None, None, []
        else:
            selection, trained, result, random_losses = _evolutionary(
                cfg, data, run_dir, space, cost_model, admitting, in_budget, seeds, tracker, phases)
    finally:
        tracker.close()

    provenance = {"dataset": cfg.dataset.name, "budget": budget.name, "mode": s.mode, "strategy": s.strategy,
                  "seed": cfg.seed, "config_hash": config_hash(config, RESUME), "towernas": __version__}
    if result is not None:
        provenance.update({"supernet_steps": trained["best_step"] or trained["step"],
                           "generations": len(result.history) - 1,
                           "unique_evaluations": result.unique_evaluations})
    mlps = set(seeds)
    for row in selection:
        row["origin"] = row_origin(row, mlps)
    ranked = [annotate_row(row, space, cost_model, provenance) for row in selection]
    won = winner(selection)  # which origin won stage 3 and by how much: recorded in best.json and the summary
    named = {"best": ranked[0].with_info(provenance={**ranked[0].provenance, "winner": won})}
    for name, b in report_budgets.items():
        found = best_under(result, admitted_by(cost_model, space, [b])) if result is not None else None
        if found is not None:
            named[f"best_{name}"] = annotate(space.arch(found[0]), cost_model, found[1], {**provenance, "budget": name})
    save_archs(run_dir, ranked, named)
    if pareto and result is not None:
        write_json_atomic(run_dir / "pareto_front.json",
                          [annotate(space.arch(g), cost_model, f, provenance).to_dict()
                           for g, f, _ in result.pareto_front])
    searched = [row for row in selection if row.get("baseline") is None]  # scored by the supernet
    summary = {
        "run_dir": str(run_dir), "resumed": resumed, **distributed.world().describe(),
        "dataset": data.summary(), "budget": str(budget),
        "space": space.name, "strategy": s.strategy, "fitness": s.fitness,
        # every stored fitness (selection, vs_random_feasible, the supernet's monitor) is minimised; this is the
        # score summary.md, the progress bar and the leaderboard show for it
        "fitness_shown": fitness_view.view(s.fitness).describe(),
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
        # which origin won stage 3 (searched, in-space MLP or hand-built) and by how much, on validation
        "winner": won,
        "vs_random_feasible": random_comparison(searched[0]["fitness"], random_losses) if result and searched else None,
        # joint search: the training hyperparameters the winner was fully retrained with (search.hparams)
        "training": selection[0].get("training"),
        # the winner's validation score as the selection saw it (mean of its full retrains, else its short one)
        "validation": validation_entry(cfg.retrain.select, selection[0].get("retrained", selection[0]["short"]),
                                       "best"),
    }
    shown = fitness_view.view(s.fitness)
    table = summary_table([(f"top{i}", a) for i, a in enumerate(ranked, 1)]
                          + [(k, v) for k, v in named.items() if k != "best"], shown)
    if summary["training"]:  # joint search: retrain the winner with these to reproduce its selection
        table += "\n\nbest retrained with: " + " ".join(f"{TRAINING_HPARAMS[k].key}={v}"
                                                      for k, v in summary["training"].items())
    table += "\n\n" + winner_line(summary["winner"])
    write_json_atomic(run_dir / "summary.json", summary)
    write_text_atomic(run_dir / "summary.md", table + "\n")
    print(f"\n{table}\n\n{random_line(summary['vs_random_feasible'], shown)}\n"
          f"best architecture: {run_dir / 'best.json'}")
    return summary


def _evolutionary(cfg, data, run_dir, space, cost_model, admitting, in_budget, seeds, tracker, phases):
    """Stages 1–3 of the evolutionary search: supernet, evolution (orders candidates), final selection."""
    s = cfg.search
    clock = time.perf_counter()
    prepared = prepare_supernet(cfg, data, run_dir, admitting, tracker)
    phases["supernet"] = time.perf_counter() - clock
    trained = prepared.trained

    def fitness(genome) -> float:
        return prepared.fitness(space.arch(genome))

    clock = time.perf_counter()
    result = evolve(
        SearchSpace(list(space.slots())), fitness, lambda g: float(genome_cost(cost_model, space, g).flops),
        admitted_by(cost_model, space, admitting),
        evolution_config(s, cfg.seed), on_generation=lambda r: tracker.log("search", r),
        state_path=run_dir / "evolution_state.json", write_text=write_text_atomic, progress=cfg.progress,
        seeds=seeds, map_fitness=distributed.map_split,  # torchrun: a generation's new genomes split across ranks
        show_best=fitness_view.view(s.fitness).postfix,  # R@50 positive on the bar; the evolution minimises -R@50
    )
    phases["evolution"] = time.perf_counter() - clock
    known = dict(result.evaluated)
    randoms = random_feasible(space.slots(), in_budget, s.random_baseline, cfg.seed)
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
    return selection, trained, result, random_losses


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
