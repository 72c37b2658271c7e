"""``python -m towernas.search dataset=<name> budget=<L|M|H>``: the architecture search.

Trains the weight-sharing supernet (SPOS, in-batch softmax + streaming logQ), then runs the
complexity-aware evolution with fitness = validation loss of each child through the supernet
weights on fixed validation batches and cost = exact per-tower params/FLOPs. Writes into the run
directory: ``run_config.json``, ``supernet.pt``, ``supernet.jsonl``, ``search.jsonl``,
``evolution_state.json``, ``archs/top<i>.json``, ``best.json`` (and ``best_<budget>.json`` +
``pareto_front.json`` in pareto mode), ``summary.{json,md}``. Rerunning the same command resumes.
Validation only: the test split is never read here.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import time
from pathlib import Path

import hydra
import torch
from omegaconf import DictConfig, OmegaConf

from evolution import EvolutionConfig, SearchSpace, best_under, evolve
from supernet import (
    Supernet,
    fixed_batches,
    train_supernet,
    validation_loss,
)
from towernas import __version__
from towernas.complexity import CostModel, TowerCost
from towernas.complexity.budgets import Budget, check_feasible
from towernas.config import register_configs
from towernas.data import load_dataset
from towernas.data.spec import DatasetSpec
from towernas.runs.cli import run_entry
from towernas.runs.device import resolve_device
from towernas.runs.files import write_json_atomic, write_text_atomic
from towernas.runs.run_dir import claim, config_hash
from towernas.runs.search_outputs import (
    annotate,
    random_comparison,
    save_archs,
    summary_table,
)
from towernas.runs.tracking import Tracker
from towernas.space import ArchError, Dims

log = logging.getLogger(__name__)
register_configs()


def run_search(cfg: DictConfig, run_dir: Path) -> dict:
    """Search architectures for ``cfg.dataset`` under ``cfg.budget``; return the summary dict."""
    config = OmegaConf.to_container(cfg, resolve=True)
    budget = Budget.from_config(cfg.budget)
    pareto = cfg.search.mode == "pareto"
    report_budgets = {name: Budget.from_config(b) for name, b in cfg.search.budgets.items()} if pareto else {}
    admitting = [budget, *report_budgets.values()]
    device = resolve_device(cfg.device)
    torch.manual_seed(cfg.seed)

    data = load_dataset(cfg.dataset, progress=cfg.progress)
    spec = DatasetSpec.from_data(data)
    sn = cfg.supernet
    dims = Dims(**sn.dims)
    cost_model = CostModel(spec, dims, sn.depth_user, sn.depth_item)
    check_feasible(cost_model, budget, skip=sn.searchable_depth)  # before any training
    resumed = claim(run_dir, config)
    tracker = Tracker(run_dir, use_wandb=cfg.tracking.wandb, project=cfg.tracking.project, config=config,
                      name=f"{cfg.dataset.name}-{budget.name}-{cfg.search.mode}-s{cfg.seed}")
    try:
        supernet = Supernet(spec, dims, sn.depth_user, sn.depth_item, allow_skip=sn.searchable_depth)
        space = supernet.space
        batches = fixed_batches(data, "valid", n_batches=cfg.search.val_batches,
                                batch_size=cfg.search.val_batch_size, seed=cfg.seed, device=device)
        # early stopping of the supernet: mean validation loss of a few fixed feasible architectures
        probes = [space.arch(g) for g in _random_feasible(space.slots(), lambda g: budget.admits(
            cost_model.cost(space.arch(g))), sn.monitor_archs, cfg.seed + 1)]

        def monitor(net, estimator) -> float:
            return sum(validation_loss(net, a, batches, sn.temperature, estimator.log_q) for a in probes) / len(probes)

        trained = train_supernet(supernet, data, steps=sn.steps, batch_size=sn.batch_size, lr=sn.lr,
                                 temperature=sn.temperature, seed=cfg.seed, device=device, checkpoint_dir=run_dir,
                                 checkpoint_every=sn.checkpoint_every, progress=cfg.progress,
                                 log=lambda r: tracker.log("supernet", r), monitor=monitor if probes else None,
                                 monitor_every=sn.monitor_every, patience=sn.patience)
        log_q = trained["estimator"].log_q

        def fitness(genome) -> float:
            return validation_loss(supernet, space.arch(genome), batches, sn.temperature, log_q)

        def cost(genome) -> TowerCost:
            return cost_model.cost(space.arch(genome))

        def feasible(genome) -> bool:
            c = cost(genome)
            return any(b.admits(c) for b in admitting)

        s = cfg.search
        started = time.perf_counter()
        result = evolve(
            SearchSpace(list(space.slots())), fitness, lambda g: float(cost(g).flops), feasible,
            evolution_config(s, cfg.seed), on_generation=lambda r: tracker.log("search", r),
            state_path=run_dir / "evolution_state.json", write_text=write_text_atomic, progress=cfg.progress,
        )
        search_seconds = time.perf_counter() - started
        known = dict(result.evaluated)
        randoms = _random_feasible(space.slots(), lambda g: budget.admits(cost(g)), s.random_baseline, cfg.seed)
        random_losses = [known[g] if g in known else fitness(g) for g in randoms]
    finally:
        tracker.close()

    provenance = {"dataset": cfg.dataset.name, "budget": budget.name, "mode": s.mode, "seed": cfg.seed,
                  "config_hash": config_hash(config), "supernet_steps": trained["best_step"] or trained["step"],
                  "generations": s.generations,
                  "unique_evaluations": result.unique_evaluations, "towernas": __version__}
    within = [(g, f) for g, f in result.top_k if budget.admits(cost(g))] if pareto else list(result.top_k)
    if not within:  # pareto mode with a run budget tighter than the union: take the best evaluated under it
        found = best_under(result, lambda g: budget.admits(cost(g)))
        within = [found[:2]] if found else []
    if not within:
        raise ArchError(f"no evaluated architecture fits {budget}; raise search.generations or the budget")
    # equal losses (to 1e-5) are ranked by total FLOPs: of two equally good towers, the cheaper one first
    within.sort(key=lambda gf: (round(gf[1], 5), cost(gf[0]).flops))
    ranked = [annotate(space.arch(g), cost_model, f, provenance) for g, f in within]
    named = {"best": ranked[0]}
    for name, b in report_budgets.items():
        found = best_under(result, lambda g, b=b: b.admits(cost(g)))
        if found is not None:
            named[f"best_{name}"] = annotate(space.arch(found[0]), cost_model, found[1], {**provenance, "budget": name})
    save_archs(run_dir, ranked, named)
    if pareto:
        write_json_atomic(run_dir / "pareto_front.json",
                          [annotate(space.arch(g), cost_model, f, provenance).to_dict()
                           for g, f, _ in result.pareto_front])
    summary = {
        "run_dir": str(run_dir), "resumed": resumed, "dataset": data.summary(), "budget": str(budget),
        "supernet": {"steps": trained["step"], "final_train_loss": trained["loss"], "best_step": trained["best_step"],
                     "best_val_loss": trained["best_val_loss"], "stopped_early": trained["stopped_early"],
                     "seconds": round(trained["elapsed"], 1)},
        "search": {"mode": s.mode, "unique_evaluations": result.unique_evaluations,
                   "seconds_this_call": round(search_seconds, 1)},
        "best": named["best"].to_dict(),
        "best_per_budget": {k: v.to_dict() for k, v in named.items() if k != "best"},
        "vs_random_feasible": random_comparison(ranked[0].provenance["val_loss"], random_losses),
    }
    table = summary_table([(f"top{i}", a) for i, a in enumerate(ranked, 1)]
                          + [(k, v) for k, v in named.items() if k != "best"])
    write_json_atomic(run_dir / "summary.json", summary)
    write_text_atomic(run_dir / "summary.md", table + "\n")
    print(f"\n{table}\n\nvs random feasible architectures (val loss): {summary['vs_random_feasible']}\n"
          f"best architecture: {run_dir / 'best.json'}")
    return summary


def evolution_config(search_cfg, seed: int) -> EvolutionConfig:
    """The evolution settings of ``cfg.search``: every key the two schemas share, by name."""
    shared = [f.name for f in dataclasses.fields(EvolutionConfig) if f.name in search_cfg]
    return EvolutionConfig(**{name: search_cfg[name] for name in shared}, seed=seed)


def _random_feasible(slots, admits, n: int, seed: int, max_tries: int = 20000) -> list[tuple[str, ...]]:
    """Up to ``n`` distinct uniformly drawn genomes the budget admits (seeded)."""
    rng = random.Random(seed + 7919)
    found: list[tuple[str, ...]] = []
    for _ in range(max_tries):
        if len(found) >= n:
            break
        genome = tuple(rng.choice(s) for s in slots)
        if genome not in found and admits(genome):
            found.append(genome)
    return found


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> None:
    run_entry("towernas.search", run_search, cfg)


if __name__ == "__main__":
    main()
