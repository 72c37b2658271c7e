"""``run_ranker_search(cfg, run_dir)``: the body of ``python -m towernas.search task=ctr`` (or ``task=rating``).

Three stages, like the tower search, each resumable in ``run_dir``:

1. **Supernet** (``supernet.ranker.RankerSupernet``): trained on the task's train pairs with the ranker loop
   (``rank.*``: lr, batch size, inputs, loss) for ``ranker_search.supernet_epochs`` epochs, a fresh path drawn
   uniformly among the budget-feasible ones for every batch (SPOS); the epoch with the best mean validation
   metric of ``monitor_paths`` fixed feasible paths is kept. Saved as ``ranker_supernet.pt`` once trained.
2. **Evolution** (``evolution.evolve``, the ``search`` section's keys): a path's fitness is its validation AUC
   (``task=rating``: RMSE) on a fixed sample of ``fitness_pairs`` validation pairs, read after the path, exported
   with the supernet's weights, is fine-tuned alone for ``finetune_steps`` train batches (NASRec's repair of
   weight-sharing's ranking; the same batches for every path: ``PathScorer``), under ``ranker_search.budget``
   (FLOPs per candidate, exact: ``towernas.complexity.rankers``). Checkpointed per generation.
3. **Selection**: the ``final_candidates`` best distinct genomes (``min_distance`` slots apart), plus the in-space
   hand-built rankers (FM + the widest in-budget MLP, per history), each trained from scratch as
   ``python -m towernas.rank ranker=arch`` trains it (seed ``seed``); the best validation metric wins. Test is
   read by those trainings and reported, never selected on.

Writes ``best.json`` (a ``RankerArch``, ``"kind": "ranker"``, with its exact cost and provenance),
``summary.{json,md}``. Kill it and run the same command again: it resumes after the last finished step (an
interrupted supernet epoch schedule restarts).
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from evolution import SearchSpace, evolve
from supernet.ranker import RankerSupernet, export_ranker
from towernas import __version__
from towernas.complexity.rankers import RankerCostModel
from towernas.config.ranker_search import TASKS, RankerBudget
from towernas.config.resume import RESUME
from towernas.data import load_dataset
from towernas.data.ctr import CtrPairs
from towernas.rankers import Catalog
from towernas.rankers.cost import ranker_cost
from towernas.runs.cli import validation_entry
from towernas.runs.device import resolve_device
from towernas.runs.errors import UserError
from towernas.runs.files import atomic_open, write_json_atomic, write_text_atomic
from towernas.runs.records import RecordLog
from towernas.runs.run_dir import claim, config_hash
from towernas.runs.tables import markdown
from towernas.runs.tracking import Tracker
from towernas.search.proposals import distance
from towernas.space.ops import SKIP
from towernas.space.ranker_space import RankerSpace
from towernas.train.early_stopping import LOWER_IS_BETTER
from towernas.train.optim import adam
from towernas.train.precision import Precision
from towernas.train.ranker_loop import LOSSES, fit_ranker, train_epoch
from towernas.train.settings import RankerFitSettings

log = logging.getLogger(__name__)
SUPERNET_FILE = "ranker_supernet.pt"


def check_ranker_search(cfg: DictConfig) -> None:
    """One line naming the key for a setting no ranker search could use (before any data)."""
    from towernas.rank import check_rank_values

    if cfg.task not in TASKS:
        raise UserError(f"task={cfg.task!r}: the ranker search runs one of {list(TASKS)}; task=towers is the tower "
                        "search, task=cascade the joint cascade search")
    check_rank_values(cfg)
    rs = cfg.ranker_search
    check_schedule(rs)
    if rs.fitness_pairs is not None and rs.fitness_pairs < 1:
        raise UserError(f"ranker_search.fitness_pairs={rs.fitness_pairs}: expected a positive integer or null (all)")
    if cfg.rank.addons:
        raise UserError(f"rank.addons={list(cfg.rank.addons)}: the ranker search trains without add-ons")


def check_schedule(rs) -> None:
    """One line naming the ``ranker_search`` key of a schedule no search could run (supernet, fitness, finalists)."""
    for key in ("supernet_epochs", "monitor_paths", "final_candidates"):
        if isinstance(rs[key], bool) or not isinstance(rs[key], int) or rs[key] < 1:
            raise UserError(f"ranker_search.{key}={rs[key]!r}: expected a positive integer")
    if isinstance(rs.finetune_steps, bool) or not isinstance(rs.finetune_steps, int) or rs.finetune_steps < 0:
        raise UserError(f"ranker_search.finetune_steps={rs.finetune_steps!r}: expected an integer >= 0 (0: score the "
                        "supernet's weights as they are)")


def uniform_feasible(slots, admits, rng: random.Random, max_tries: int = 100_000):
    """``draw()``: a genome drawn uniformly among those ``admits`` accepts (rejection sampling)."""
    def draw() -> tuple[str, ...]:
        for _ in range(max_tries):
            genome = tuple(rng.choice(s) for s in slots)
            if admits(genome):
                return genome
        raise UserError("no budget-feasible ranker found in 100000 draws; raise ranker_search.budget.flops")

    return draw


def hand_built(space: RankerSpace, admits) -> list[tuple[str, ...]]:
    """The in-space hand-built rankers, one per history: FM then the widest in-budget ``MLP-w`` (a DeepFM made of
    blocks), else the widest MLP alone, else FM alone; skips after."""
    mlps = sorted((b for b in space.blocks if b.startswith("MLP-")), key=lambda b: int(b.split("-")[1]),
                  reverse=True)
    fm = ["FM"] if "FM" in space.blocks else []
    seeds = []
    for history in space.histories:
        options = [(*fm, m) for m in mlps] if fm else []
        options += [(m,) for m in mlps] + ([tuple(fm)] if fm else [])
        for blocks in options:
            genome = (history, *blocks, *[SKIP] * (space.depth - len(blocks)))
            if len(blocks) <= space.depth and admits(genome):
                seeds.append(genome)
                break
    return seeds


def fitness_sample(pairs: CtrPairs, n: int | None, seed: int) -> CtrPairs:
    """A fixed sample of ``n`` validation pairs (all when None or more than there are), in row order."""
    if n is None or n >= len(pairs):
        return pairs
    keep = np.sort(np.random.default_rng(seed + 4099).choice(len(pairs), n, replace=False))
    return CtrPairs(pairs.rows[keep], pairs.users[keep], pairs.items[keep], pairs.labels[keep])


def path_metric(net: RankerSupernet, genome, evaluate, pairs: CtrPairs, metric: str) -> float:
    """The validation ``metric`` of ``genome`` through the supernet."""
    was, draw = net.training, net.draw
    net.use(genome)
    try:
        return float(evaluate(pairs)[metric])
    finally:
        net.draw = draw
        net.train(was)


FINETUNE_STREAM = 7919  # the fine-tuning batches' stream is seeded ``seed + FINETUNE_STREAM``


def first_batches(stream, rng: np.random.Generator, n: int) -> list:
    """The first ``n`` batches of ``stream(rng)``'s epochs, one epoch after another."""
    out: list = []
    while len(out) < n:
        before = len(out)
        out += itertools.islice(stream(rng), n - len(out))
        if len(out) == before:
            raise UserError("the training data holds no batch to fine-tune a path on")
    return out


def fine_tune(child: torch.nn.Module, batches: list, settings: RankerFitSettings, device) -> torch.nn.Module:
    """``child`` trained, every parameter, on ``batches`` (one pass, the ranker loop's optimizer and ``settings``'
    loss and precision, seeded by ``settings.seed``); returned in evaluation mode."""
    if batches:
        torch.manual_seed(settings.seed)
        optimizer = adam(child.parameters(), settings.lr, weight_decay=settings.weight_decay)
        train_epoch(child, batches, optimizer, loss_fn=LOSSES[settings.loss], progress=False,
                    loss_name=settings.loss, precision=Precision(settings.precision, device))
    return child.eval()


class PathScorer:
    """``scorer(genome)``: the path's validation ``metric`` on ``pairs`` after fine-tuning it alone (NASRec).

    The path is exported with the supernet's weights (``export_ranker``) and trained, every parameter of it, on
    ``steps`` train batches with the ranker loop's optimizer (``rank.lr``, ``rank.weight_decay``, the task's loss);
    the batches are drawn once from a stream seeded by ``seed`` and are the same for every path, so two paths'
    scores differ by their architecture alone. ``steps=0`` scores the supernet's weights as they are.

    Why: a path trained a few batches alone ranks as its trained-from-scratch self does far better than its shared
    weights do (``make bench-ranker-fidelity`` reports τ at each ``--finetune-steps``).
    """

    def __init__(self, s: Setup, net: RankerSupernet, pairs: CtrPairs, steps: int) -> None:
        from towernas.rank import task_of, train_batches

        self.s, self.net, self.pairs = s, net, pairs
        self.settings = RankerFitSettings.from_config(s.cfg.rank, seed=s.cfg.seed, precision=s.cfg.precision,
                                                      loss=task_of(s.cfg).loss)
        self.batches: list = []
        if steps:
            stream, _ = train_batches(s.data, s.pairs["train"], s.cfg, s.device)
            self.batches = first_batches(stream, np.random.default_rng(s.cfg.seed + FINETUNE_STREAM), steps)

    def child(self, genome):
        """``genome``'s path as an ``ArchRanker``, fine-tuned (evaluation mode)."""
        return fine_tune(export_ranker(self.net, tuple(genome)), self.batches, self.settings, self.s.device)

    def __call__(self, genome) -> float:
        from towernas.rank import split_evaluator

        evaluate = split_evaluator(self.child(genome), self.s.data, self.s.cfg, self.s.device)
        return float(evaluate(self.pairs)[self.s.metric])


def train_ranker_supernet(s: Setup, net: RankerSupernet, evaluate, run_dir: Path,
                          tracker: Tracker | None = None) -> dict:
    """Stage 1 (or its saved result): ``net`` trained on ``s``'s train pairs, ``evaluate`` its task's metrics
    (``Setup.supernet``); every epoch's loss and monitor value go to ``tracker`` (``supernet``)."""
    from towernas.rank import task_of, train_batches

    cfg, metric, admits = s.cfg, s.metric, s.admits
    path = run_dir / SUPERNET_FILE
    if path.exists():
        saved = torch.load(path, map_location=s.device, weights_only=True)
        net.load_state_dict(saved["state"])
        return saved["trained"]
    rs, slots = cfg.ranker_search, net.space.slots()
    monitors = [uniform_feasible(slots, admits, random.Random(cfg.seed + 31 * i))() for i in range(rs.monitor_paths)]
    net.sample_with(uniform_feasible(slots, admits, random.Random(cfg.seed)))
    monitor_pairs = fitness_sample(s.pairs["valid"], rs.fitness_pairs, cfg.seed)

    def validate() -> dict:
        return {metric: float(np.mean([path_metric(net, g, evaluate, monitor_pairs, metric) for g in monitors]))}

    batches, n_batches = train_batches(s.data, s.pairs["train"], cfg, s.device)
    settings = RankerFitSettings.from_config(cfg.rank, seed=cfg.seed, precision=cfg.precision, select=metric,
                                             loss=task_of(cfg).loss, max_epochs=rs.supernet_epochs)
    fitted = fit_ranker(net, batches, validate, settings, device=s.device, n_batches=n_batches, progress=cfg.progress,
                        log=(lambda rec: tracker.log("supernet", rec)) if tracker is not None else None)
    trained = {"best_epoch": fitted.best_epoch, "monitor": fitted.best_valid,
               "monitor_paths": [list(g) for g in monitors]}
    with atomic_open(path, "wb") as fh:
        torch.save({"state": net.state_dict(), "trained": trained}, fh)
    return trained


def finalists(evaluated, n: int, min_distance: int, seeds) -> list[tuple[str, ...]]:
    """The ``n`` best evaluated genomes at least ``min_distance`` slots apart, then the hand-built ``seeds``."""
    chosen: list[tuple[str, ...]] = []
    for genome, _ in sorted(evaluated, key=lambda gf: gf[1]):
        if len(chosen) == n:
            break
        if all(distance(genome, c) >= min_distance for c in chosen):
            chosen.append(tuple(genome))
    return chosen + [s for s in seeds if s not in chosen]


def train_finalist(data, pairs, cfg, space: RankerSpace, genome, device, tracker) -> dict:
    """``genome`` trained from scratch as ``python -m towernas.rank ranker=arch`` trains it (seed ``seed``)."""
    from towernas.rank import rank_one

    run_cfg = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
    run_cfg.ranker = {"name": "arch", "arch": None, **space.arch(genome).hyperparameters()}
    _, record = rank_one(data, pairs, run_cfg, cfg.seed, device, tracker)
    return record


@dataclass
class Setup:
    """What every stage of a ranker search (and the fidelity benchmark) reads, built once by ``setup(cfg)``."""

    cfg: DictConfig
    data: object
    pairs: dict[str, CtrPairs]
    catalog: Catalog
    space: RankerSpace
    budget: RankerBudget
    costs: RankerCostModel
    metric: str  # the validation metric (rank.select; auc | rmse by default)
    device: torch.device

    @property
    def sign(self) -> float:
        """+1 when the metric is lower-is-better (RMSE), -1 otherwise: ``sign * metric`` is minimised."""
        return 1.0 if self.metric in LOWER_IS_BETTER else -1.0

    def admits(self, genome) -> bool:
        return self.budget.admits(self.costs.cost(genome))

    def supernet(self) -> tuple[RankerSupernet, Callable]:
        """A fresh supernet of the space and ``evaluate(pairs)``, the task's metrics of its current path."""
        from towernas.rank import split_evaluator

        net = RankerSupernet(self.catalog, self.space).to(self.device)
        return net, split_evaluator(net, self.data, self.cfg, self.device)


def setup(cfg: DictConfig) -> Setup:
    """Check the settings (one line, before any data), load the data and the task's pairs, and check that the
    budget admits some ranker of the space."""
    from towernas.rank import labelled_pairs

    check_ranker_search(cfg)
    rs = cfg.ranker_search
    budget, space = RankerBudget.from_config(rs.budget), RankerSpace.from_config(rs.space)
    device = resolve_device(cfg.device)
    data = load_dataset(cfg.dataset, progress=cfg.progress)
    pairs = labelled_pairs(data, cfg)
    catalog = Catalog.from_data(data, cfg.rank.pair_features, ratings=cfg.rank.ratings)
    costs = RankerCostModel(catalog, space)
    cheapest = min((costs.cost((h, b, *[SKIP] * (space.depth - 1))) for h in space.histories for b in space.blocks),
                   key=lambda c: c.flops)
    if not budget.admits(cheapest):
        raise UserError(f"{budget} admits no ranker of this space on {data.name}: the cheapest costs "
                        f"{cheapest.flops} FLOPs per candidate and {cheapest.params} params; raise "
                        "ranker_search.budget.flops")
    return Setup(cfg, data, pairs, catalog, space, budget, costs, cfg.rank.select, device)


def run_ranker_search(cfg: DictConfig, run_dir: Path) -> dict:
    """Search a ranker for ``cfg.dataset`` under ``cfg.ranker_search.budget``; write ``best.json``; return the
    summary."""
    s = setup(cfg)
    rs, space, metric, sign = cfg.ranker_search, s.space, s.metric, s.sign
    config = OmegaConf.to_container(cfg, resolve=True)
    claim(run_dir, config, RESUME)
    torch.manual_seed(cfg.seed)
    tracker = Tracker(run_dir, use_wandb=cfg.tracking.wandb, project=cfg.tracking.project, config=config,
                      name=f"search-ranker-{cfg.dataset.name}-{cfg.task}-{s.budget.name}-s{cfg.seed}")
    try:
        net, evaluate = s.supernet()
        trained = train_ranker_supernet(s, net, evaluate, run_dir, tracker)
        net.eval()
        score = PathScorer(s, net, fitness_sample(s.pairs["valid"], rs.fitness_pairs, cfg.seed), rs.finetune_steps)

        def fitness(genome) -> float:
            return sign * score(genome)

        from towernas.search.run import evolution_config

        seeds = hand_built(space, s.admits) if rs.seed_hand_built else []
        result = evolve(SearchSpace(list(space.slots())), fitness, lambda g: float(s.costs.cost(g).flops), s.admits,
                        evolution_config(cfg.search, cfg.seed), on_generation=lambda r: tracker.log("search", r),
                        state_path=run_dir / "evolution_state.json", write_text=write_text_atomic,
                        progress=cfg.progress, seeds=seeds)
        scored = dict(result.evaluated)
        done = RecordLog(run_dir)
        rows = []
        for genome in finalists(result.evaluated, rs.final_candidates, rs.min_distance, seeds):
            key = "final/" + "|".join(genome)
            if done.get(key) is None:
                done.add(key, train_finalist(s.data, s.pairs, cfg, space, genome, s.device, tracker))
            record = done.get(key)
            rows.append({"genome": list(genome), "hand_built": genome in seeds,
                         "supernet": sign * scored[genome] if genome in scored else None,
                         "cost": s.costs.cost(genome)._asdict(), "best_epoch": record["best_epoch"],
                         "valid": record["valid"], "test": record["test"]})
    finally:
        tracker.close()
    rows.sort(key=lambda r: sign * r["valid"][metric])
    best = rows[0]
    winner = space.arch(tuple(best["genome"]))
    from towernas.rankers.arch import ArchRanker

    counted = ranker_cost(ArchRanker(s.catalog, **winner.hyperparameters()))
    provenance = {"dataset": cfg.dataset.name, "task": cfg.task, "budget": s.budget.name, "seed": cfg.seed,
                  "metric": metric, "valid": best["valid"][metric], "hand_built": best["hand_built"],
                  "config_hash": config_hash(config, RESUME), "towernas": __version__}
    winner = dataclasses.replace(winner, provenance=provenance, complexity={
        "params": counted.params, "flops_per_candidate": counted.flops_per_candidate,
        "flops_per_pair": counted.flops_per_pair})
    winner.save(run_dir / "best.json")
    summary = {"run_dir": str(run_dir), "task": cfg.task, "dataset": s.data.summary(), "budget": str(s.budget),
               "space_size": space.size, "supernet": trained,
               "search": {"unique_evaluations": result.unique_evaluations, "generations_run": len(result.history) - 1,
                          "best_supernet": sign * result.best[1]},
               "finalists": rows, "best": winner.to_dict(),
               "validation": validation_entry(metric, best["valid"][metric], "best", lower_is_better=sign > 0)}
    write_json_atomic(run_dir / "summary.json", summary)
    table = markdown(["genome", "hand-built", f"fitness {metric}", f"valid {metric}", f"test {metric}",
                      "FLOPs/candidate", "params"],
                     [[" ".join(r["genome"]), "yes" if r["hand_built"] else "", _num(r["supernet"]),
                       _num(r["valid"][metric]), _num(r["test"][metric]), f"{r['cost']['flops']:,}",
                       f"{r['cost']['params']:,}"] for r in rows])
    write_text_atomic(run_dir / "summary.md", table + "\n")
    print(f"\n{table}\n\nbest ranker architecture: {run_dir / 'best.json'}")
    return summary


def _num(value) -> str:
    return "–" if value is None else f"{value:.4f}"
