"""``run_cascade_search(cfg, run_dir)``: the body of ``python -m towernas.search task=cascade``, the joint search of a
cascade's list length K0 and its ranker under one budget of FLOPs per request.

Stage 1 is a retriever artifact (``cascade.retriever``, as ``python -m towernas.cascade`` takes it; its towers come
from the tower search and ``make retrain``). A genome is ``(K0, history, block_1, ..., block_depth)``: K0 from
``cascade_search.k0s``, then a path of the ranker space (``towernas.space.ranker_space``). Its cost is the request's
(``towernas.complexity.cascade.RequestCost``): the user tower, the exact search over the catalogue and the ranker on
K0 candidates (``RequestCostModel``: exact, checked against the counter). Three stages, each resumable in ``run_dir``:

1. **Supernet**: a ``RankerSupernet`` (fused with the retriever's score when ``cascade.fuse_retriever``) trained on
   the retriever's training lists as a cascade's ranker trains (``cascade.lr``, negatives ``cascade.negatives[0]``,
   listwise loss), a fresh budget-feasible path per batch (SPOS), for at most ``ranker_search.supernet_epochs``
   epochs; the epoch with the best mean validation NDCG@10 of ``ranker_search.monitor_paths`` fixed paths is kept.
2. **Evolution** (``evolution.evolve``, the ``search`` section's keys): a genome's fitness is the validation
   ``cascade.select`` of its cascade: the path, exported with the supernet's weights and fine-tuned alone on
   ``ranker_search.finetune_steps`` fixed training batches (NASRec's repair, as ``search.rankers.PathScorer``),
   reranks the retriever's validation top-K0. A path is fine-tuned once and read at every K0.
3. **Selection**: the ``ranker_search.final_candidates`` best distinct paths, plus the in-space hand-built ones
   (FM, FM + the widest MLP), each trained from scratch as ``python -m towernas.cascade ranker=arch`` trains it
   (at the largest K0, seed ``seed``) and served at every K0 of the list with its request's FLOPs counted; the
   point best on validation within the budget is the searched cascade, exported to ``<run dir>/cascade``. Test is
   read by those servings and reported, never selected on.

Writes ``summary.{json,md}`` (every finalist's points, the winner) and ``best.json`` (the winner's ranker
architecture, ``"kind": "ranker"``, with its K0 and request cost in its provenance).
"""

from __future__ import annotations

import dataclasses
import logging
import random
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from evolution import SearchSpace, evolve
from supernet.ranker import RankerSupernet, export_ranker
from towernas import __version__
from towernas.cascade.candidates import Candidates
from towernas.cascade.retriever_stage import RetrieverStage
from towernas.cascade.stages import RankerStage
from towernas.cascade.sweep import POINT_METRICS, cascade_at, request_cost, sweep_k0
from towernas.complexity.rankers import RankerCostModel
from towernas.config.cascade_search import check_cascade_search
from towernas.config.resume import RESUME
from towernas.data import load_dataset
from towernas.rankers import Catalog
from towernas.runs.cli import validation_entry
from towernas.runs.device import resolve_device
from towernas.runs.errors import UserError
from towernas.runs.files import atomic_open, write_json_atomic, write_text_atomic
from towernas.runs.records import RecordLog
from towernas.runs.run_dir import claim, config_hash
from towernas.runs.tables import markdown
from towernas.runs.tracking import Tracker
from towernas.search.rankers import (FINETUNE_STREAM, check_schedule, fine_tune, finalists, first_batches,
                                    hand_built, uniform_feasible)
from towernas.space.ops import SKIP
from towernas.space.ranker_space import RankerSpace
from towernas.train.settings import RankerFitSettings

log = logging.getLogger(__name__)
SUPERNET_FILE = "cascade_ranker_supernet.pt"
K0_PREFIX = "k0="  # a genome's first slot: "k0=50"


def k0_of(genome) -> int:
    return int(genome[0][len(K0_PREFIX):])


class RequestCostModel:
    """``flops(genome)``: what one request of the cascade ``genome`` costs, without building its ranker.

    A request costs ``fixed(history, K0) + K0 * per_candidate(path)``: ``per_candidate`` is the ranker cost model's
    (``towernas.complexity.rankers``); ``fixed`` (the user tower, the exact search, the fusion with the retriever's
    score and what the ranker computes once per query) is counted once per history and K0 on a one-block path with
    the mechanical counter (``towernas.cascade.sweep.request_cost``) minus that path's per-candidate part.
    ``tests/commands/test_search_cascade.py`` checks the sum against the counter on random genomes."""

    def __init__(self, costs: RankerCostModel, space: RankerSpace, k0s, build, retriever: RetrieverStage, data,
                 queries, device="cpu") -> None:
        self.costs, self.fixed = costs, {}
        for history in space.histories:
            probe = (history, space.blocks[0], *[SKIP] * (space.depth - 1))
            ranker = build(probe)
            for k0 in k0s:
                counted = request_cost(cascade_at(retriever, [RankerStage("probe", ranker, k0)], k0, device), data,
                                       queries, device).flops
                self.fixed[history, k0] = counted - k0 * costs.cost(probe).flops

    def flops(self, genome) -> int:
        k0 = k0_of(genome)
        return self.fixed[genome[1], k0] + k0 * self.costs.cost(genome[1:]).flops


def check_search(cfg: DictConfig) -> None:
    """One line naming the key of a setting no joint search could use (before any data)."""
    from towernas.cascade.run import check_cascade_values

    check_cascade_search(cfg.cascade_search)
    c = cfg.cascade
    if c.second_ranker:
        raise UserError(f"cascade.second_ranker={c.second_ranker!r}: the joint search chooses one ranker stage")
    if c.addons:
        raise UserError(f"cascade.addons={list(c.addons)}: the joint search trains its rankers without add-ons")
    if list(c.joint) != ["none"]:
        raise UserError(f"cascade.joint={list(c.joint)}: the joint search serves the retriever as exported ([none])")
    if len(c.negatives) != 1 or c.negatives[0] == "dns":
        raise UserError(f"cascade.negatives={list(c.negatives)}: the joint search trains with one negative mode, not "
                        "dns (its fine-tuning batches are drawn once, before any path scores them)")
    if c.select not in POINT_METRICS:
        raise UserError(f"cascade.select={c.select!r}: the joint search selects on one of {list(POINT_METRICS)} (what "
                        "every K0's point records)")
    check_schedule(cfg.ranker_search)
    check_cascade_values(search_config(cfg))


def search_config(cfg: DictConfig) -> DictConfig:
    """``cfg`` with the cascade's K0 the largest of ``cascade_search.k0s`` (the lists every ranker trains on) and
    ``k1`` at most K0 - 1."""
    out = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
    out.cascade.k0 = max(cfg.cascade_search.k0s)
    out.cascade.k1 = min(cfg.cascade.k1, out.cascade.k0 - 1)
    return out


def run_cascade_search(cfg: DictConfig, run_dir: Path) -> dict:
    """Search (K0, ranker) for the retriever ``cascade.retriever`` under ``cascade_search.flops`` per request;
    export the winner; return the summary."""
    from towernas.cascade.run import fused, latest_retriever, list_batches, use_lists_of
    from towernas.search.run import evolution_config

    check_search(cfg)
    cs, rs = cfg.cascade_search, cfg.ranker_search
    device = resolve_device(cfg.device)
    directory = Path(cfg.cascade.retriever) if cfg.cascade.retriever else latest_retriever(
        Path("outputs/retrain"), cfg.dataset.name, cfg.budget.name)
    config = OmegaConf.to_container(cfg, resolve=True)
    claim(run_dir, config, RESUME)
    data = load_dataset(cfg.dataset, progress=cfg.progress)
    retriever = RetrieverStage.load(directory, data)
    run_cfg = search_config(cfg)
    c, k0s, select = run_cfg.cascade, sorted(set(cs.k0s)), run_cfg.cascade.select
    mode = c.negatives[0]
    cands = Candidates(retriever, data, run_cfg, run_dir, device)
    catalog = Catalog.from_data(data, c.pair_features, cands.served_statistics, ratings=c.ratings)
    space = RankerSpace.from_config(rs.space)
    ranker_costs = RankerCostModel(catalog, space)

    def build(path) -> torch.nn.Module:
        from towernas.rankers.arch import ArchRanker

        ranker = ArchRanker(catalog, **space.arch(tuple(path)).hyperparameters())
        return (fused(ranker, cands, retriever, run_cfg) if c.fuse_retriever else ranker).to(device)

    costs = RequestCostModel(ranker_costs, space, k0s, build, retriever, data, cands.queries["valid"], device)
    slots = [[f"{K0_PREFIX}{k}" for k in k0s], *space.slots()]

    def admits(genome) -> bool:
        return costs.flops(genome) <= cs.flops

    def admits_path(path) -> bool:  # at the smallest K0
        return admits((slots[0][0], *path))

    cheapest = min(costs.flops((slots[0][0], h, b, *[SKIP] * (space.depth - 1)))
                   for h in space.histories for b in space.blocks)
    if cheapest > cs.flops:
        raise UserError(f"cascade_search.flops={cs.flops}: no cascade of this space fits; the cheapest (K0={k0s[0]}) "
                        f"costs {cheapest:,} FLOPs per request on {data.name}")
    torch.manual_seed(cfg.seed)
    tracker = Tracker(run_dir, use_wandb=cfg.tracking.wandb, project=cfg.tracking.project, config=config,
                      name=f"search-cascade-{cfg.dataset.name}-{cs.name}-s{cfg.seed}")
    try:
        # 1. the supernet on the retriever's lists
        net = RankerSupernet(catalog, space)
        model = (fused(net, cands, retriever, run_cfg) if c.fuse_retriever else net).to(device)
        trained = train_supernet(model, net, space, admits_path, run_cfg, cands, retriever, data, device, tracker,
                                 run_dir)
        # 2. evolution over (K0, path), each path fine-tuned once and read at every K0
        batches: list = []
        if rs.finetune_steps:
            stream, _ = list_batches(model, mode, data, cands, run_cfg, device)
            batches = first_batches(stream, np.random.default_rng(cfg.seed + FINETUNE_STREAM), rs.finetune_steps)
        settings = RankerFitSettings.from_config(c, seed=cfg.seed, precision=cfg.precision)
        by_path: dict[tuple, dict[int, float]] = {}

        def score_path(path) -> dict[int, float]:
            if path not in by_path:
                child = export_ranker(net, path)
                if c.fuse_retriever:
                    child = fused(child, cands, retriever, run_cfg)
                    child.log_scale.data.copy_(model.log_scale.data)
                stage = [RankerStage("path", child.to(device), c.k1)]
                use_lists_of(stage, cands.train_retriever, cands.train_statistics)
                fine_tune(child, batches, settings, device)
                use_lists_of(stage, retriever, cands.served_statistics)
                by_path[path] = at_every_k0(child, k0s, c.k1, select, data, cands, device, c.fuse_retriever)
            return by_path[path]

        def fitness(genome) -> float:
            return -score_path(tuple(genome[1:]))[k0_of(genome)]

        seeds = [(largest_k0(path, slots[0], admits), *path) for path in hand_built(space, admits_path)] \
            if rs.seed_hand_built else []
        result = evolve(SearchSpace(slots), fitness, lambda g: float(costs.flops(g)), admits,
                        evolution_config(cfg.search, cfg.seed), on_generation=lambda r: tracker.log("search", r),
                        state_path=run_dir / "evolution_state.json", write_text=write_text_atomic,
                        progress=cfg.progress, seeds=seeds)
        # 3. the best distinct paths (each at its best K0; and the hand-built ones), trained from scratch and served
        # at every K0
        scored = dict(result.evaluated)
        best_of_path: dict[tuple, float] = {}
        for genome, value in result.evaluated:
            path = tuple(genome[1:])
            best_of_path[path] = min(value, best_of_path.get(path, value))
        hand = [tuple(g[1:]) for g in seeds]
        paths = finalists(list(best_of_path.items()), rs.final_candidates, rs.min_distance, hand)
        done, rows = RecordLog(run_dir), []
        for path in paths:
            key = "final/" + "|".join(path)
            if done.get(key) is None:
                ranker, record = train_finalist(path, space, run_cfg, data, cands, retriever, device, tracker)
                record["points"] = sweep_k0(retriever, [RankerStage("arch", ranker, c.k1)], k0s, data,
                                            cands.queries, device)
                record["weights"] = f"finalist-{len(done.done)}.pt"
                with atomic_open(run_dir / record["weights"], "wb") as fh:
                    torch.save(ranker.state_dict(), fh)
                done.add(key, record)  # after its weights: a finalist on record has them written
            record = done.get(key)
            for p in record["points"]:
                genome = (f"{K0_PREFIX}{p['k0']}", *path)
                rows.append({"genome": list(genome), "k0": p["k0"], "path": list(path), "hand_built": path in hand,
                             "weights": record["weights"],
                             "fitness": -scored[genome] if genome in scored else None,
                             "cost": p["cost"], "within_budget": p["cost"]["flops"] <= cs.flops,
                             "best_epoch": record["best_epoch"], "valid": p["valid"], "test": p["test"]})
    finally:
        tracker.close()
    inside = [r for r in rows if r["within_budget"]]
    if not inside:
        raise UserError(f"cascade_search.flops={cs.flops}: no finalist fits once trained (counted costs "
                        f"{min(r['cost']['flops'] for r in rows):,} and up)")
    best = max(inside, key=lambda r: r["valid"][select])
    winner = space.arch(tuple(best["path"]))
    provenance = {"dataset": cfg.dataset.name, "task": "cascade", "budget": cs.name, "flops_per_request": cs.flops,
                  "k0": best["k0"], "request_cost": best["cost"], "seed": cfg.seed, "metric": select,
                  "valid": best["valid"][select], "hand_built": best["hand_built"], "retriever": str(directory),
                  "config_hash": config_hash(config, RESUME), "towernas": __version__}
    winner = dataclasses.replace(winner, provenance=provenance)
    winner.save(run_dir / "best.json")
    if c.export:
        export_winner(run_dir, directory, best, winner, build, run_cfg)
    summary = {"run_dir": str(run_dir), "task": "cascade", "dataset": cfg.dataset.name, "data": data.summary(),
               "seed": cfg.seed, "retriever_dir": str(directory),
               "budget": {"name": cs.name, "flops_per_request": cs.flops}, "k0s": k0s, "space_size": space.size,
               "supernet": trained, "search": {"unique_evaluations": result.unique_evaluations,
                                               "generations_run": len(result.history) - 1,
                                               "best_fitness": -result.best[1], "best_genome": list(result.best[0])},
               "points": sorted(rows, key=lambda r: r["cost"]["flops"]), "best": best,
               "validation": validation_entry(select, best["valid"][select], "best")}
    write_json_atomic(run_dir / "summary.json", summary)
    table = summary_table(summary["points"], best)
    write_text_atomic(run_dir / "summary.md", table + "\n")
    print(f"\n{table}\n\nsearched cascade: {run_dir / 'cascade'} (K0={best['k0']}, {best['cost']['flops']:,} FLOPs "
          "per request)")
    return summary


def train_supernet(model, net: RankerSupernet, space: RankerSpace, admits_path, cfg: DictConfig, cands, retriever,
                   data, device, tracker, run_dir: Path) -> dict:
    """Stage 1 (or its saved result): ``model`` (the supernet ``net``, fused or not) trained on the lists."""
    from towernas.cascade.run import early_stop_metrics, fit_on_lists

    path = run_dir / SUPERNET_FILE
    if path.exists():
        saved = torch.load(path, map_location=device, weights_only=True)
        model.load_state_dict(saved["state"])
        return saved["trained"]
    rs, c, slots = cfg.ranker_search, cfg.cascade, space.slots()
    monitors = [uniform_feasible(slots, admits_path, random.Random(cfg.seed + 31 * i))()
                for i in range(rs.monitor_paths)]
    net.sample_with(uniform_feasible(slots, admits_path, random.Random(cfg.seed)))

    def validate() -> dict:
        draw, values = net.draw, []
        try:
            for genome in monitors:
                net.use(genome)
                values.append(early_stop_metrics(model, c.k1, data, cands, cfg, device)[c.select])
        finally:
            net.draw = draw
        return {c.select: float(np.mean(values))}

    info = fit_on_lists(model, "supernet", c.negatives[0], cfg.seed, c.k1, data, cands, retriever, cfg, device,
                        tracker, validate=validate, max_epochs=rs.supernet_epochs)
    net.draw = None
    trained = {**info, "monitor_paths": [list(g) for g in monitors]}
    with atomic_open(path, "wb") as fh:
        torch.save({"state": model.state_dict(), "trained": trained}, fh)
    return trained


def arch_config(cfg: DictConfig, space: RankerSpace, path) -> DictConfig:
    """``cfg`` with ``ranker=arch`` set to ``path``'s architecture (how ``python -m towernas.cascade`` takes it)."""
    out = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
    out.ranker = {"name": "arch", "arch": None, **space.arch(tuple(path)).hyperparameters()}
    out.cascade.rankers = ["arch"]
    return out


def at_every_k0(ranker, k0s, k: int, metric: str, data, cands: Candidates, device, fused: bool) -> dict[int, float]:
    """``metric`` of ``ranker``'s top ``k`` of the served retriever's top K0, per K0 of ``k0s``, on the early-stopping
    queries: the longest lists are scored once (a candidate's score does not depend on the list it is in)."""
    from towernas.cascade.stages import score_lists, top_of
    from towernas.eval.metrics import mean_metrics

    ids = cands.early_stop_ids[:, :max(k0s)]
    scores = score_lists(ranker, data, cands.early_stop, ids, device=device,
                         vectors=cands.early_stop_vectors if fused else None)
    at = int(metric.split("@")[1])
    return {k0: float(mean_metrics(top_of(ids[:, :k0], scores[:, :k0], min(k, k0))[0], cands.early_stop.targets,
                                   [at])[metric]) for k0 in k0s}


def largest_k0(path, k0_slot: list[str], admits) -> str:
    """The largest K0 of ``k0_slot`` at which ``path`` fits the budget (the smallest when none does)."""
    fitting = [k for k in k0_slot if admits((k, *path))]
    return max(fitting, key=lambda k: k0_of((k,))) if fitting else k0_slot[0]


def train_finalist(path, space, cfg, data, cands, retriever, device, tracker):
    """``path`` trained from scratch as a cascade's ``ranker=arch`` (seed ``seed``), set to the served lists."""
    from towernas.cascade.run import train_stage_ranker, unwrapped, use_lists_of

    ranker, info = train_stage_ranker("arch", cfg.cascade.negatives[0], cfg.seed, cfg.cascade.k1, data, cands,
                                      retriever, arch_config(cfg, space, path), device, tracker)
    stage = [RankerStage("arch", ranker, cfg.cascade.k1)]
    use_lists_of(stage, retriever, cands.served_statistics)
    return unwrapped(ranker), info


def export_winner(run_dir: Path, retriever_dir: Path, best: dict, winner, build, cfg: DictConfig) -> None:
    """The winner (its finalist's saved weights) served as ``<run dir>/cascade``."""
    from towernas.cascade.export import export_cascade

    ranker = build(best["path"])
    ranker.load_state_dict(torch.load(run_dir / best["weights"], map_location="cpu", weights_only=True))
    export_cascade(run_dir / "cascade", retriever_dir, best["k0"],
                   [("arch", winner.hyperparameters(), ranker, min(cfg.cascade.k1, best["k0"]))],
                   metadata={"ranker": "arch", "genome": best["genome"], "seed": cfg.seed, "valid": best["valid"],
                             "request_cost": best["cost"]})


def summary_table(points: list[dict], best: dict) -> str:
    """Markdown: every finalist point by FLOPs per request."""
    rows = [[f"{r['k0']}", " ".join(r["path"]), "yes" if r["hand_built"] else "",
             "–" if r["fitness"] is None else f"{r['fitness']:.4f}", f"{r['valid']['ndcg@10']:.4f}",
             f"{r['test']['ndcg@10']:.4f}", f"{r['cost']['flops']:,}", "yes" if r["within_budget"] else "",
             "**winner**" if r is best else ""] for r in points]
    return markdown(["K0", "ranker path", "hand-built", "fitness N@10", "valid N@10", "test N@10", "FLOPs / request",
                     "within budget", ""], rows)
