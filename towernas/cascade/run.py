"""What ``python -m towernas.cascade`` (``make cascade``) runs: retrieve -> rank, with rankers trained on the retriever's
own candidates, every stage evaluated.

1. Stage 1 is a retriever artifact (``cascade.retriever=<dir>``, default: the latest ``make retrain`` export
   for this dataset and budget): exact top-``k0`` with the protocol's masking, for training queries (train
   interactions: "what came next", ``cascade.train_queries`` of them), validation and test.
2. For every ranker of ``cascade.rankers`` (``ranker=<name>`` configures that one; others use their
   constructor's defaults) and every mode of ``cascade.negatives`` (``towernas.cascade.negatives``), for
   every seed: the ranker trains on its training queries' positives and negatives (listwise softmax by
   default), early-stopped on the validation NDCG@10 of its reranked list, keeps its top ``k1``
   (an optional ``cascade.second_ranker``, trained the same way, keeps its top ``k2`` of that).
3. Test is read once per trained pipeline. ``results.json``: ``retriever`` (stage 1 alone), ``pipelines``
   (per ranker and mode: ``stages`` in pipeline order, each ``{"name", "k", "valid", "test"}`` with
   Recall/NDCG/HitRate@{10,20,50} of that stage's list, its Recall@K (the next stage's ceiling) and seconds
   per 1,000 users; mean and std over seeds), and ``stages``: those of the pipeline best on validation.
   ``results.md``: retriever alone vs every cascade.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from towernas.addons import RankerWithAddOns
from towernas.cascade.candidates import Candidates
from towernas.cascade.distill import distill
from towernas.cascade.evaluate import evaluate_stages
from towernas.cascade.fusion import RetrieverScoreFusion
from towernas.cascade.negatives import MODES
from towernas.cascade.report import aggregate, limits_table, results_table
from towernas.cascade.retriever_stage import RetrieverStage
from towernas.cascade.stages import Cascade, RankerStage
from towernas.cascade.sweep import aggregate_sweep, request_cost, retriever_point, sweep_k0, sweep_table
from towernas.cascade.train import candidate_batches, rerank_metrics
from towernas.cascade.train_lists import ANCHORS, TRAIN_LISTS
from towernas.config import register_configs
from towernas.config.ranker import hyperparameters, ranker_schema
from towernas.config.resume import RESUME
from towernas.config.validate import CASCADE_VALUES, check_values
from towernas.data import InteractionData, load_dataset
from towernas.rankers import RANKERS, Catalog, build_ranker
from towernas.rankers.inputs import RATING_INPUTS
from towernas.rankers.pair_features import PAIR_FEATURES, use_statistics
from towernas.runs.cli import validation_entry
from towernas.runs.device import resolve_device
from towernas.runs.files import write_results, writes_files
from towernas.runs.records import RecordLog
from towernas.runs.registry import Registry
from towernas.runs.run_dir import claim, newest_run
from towernas.runs.tracking import Tracker
from towernas.train import distributed
from towernas.train.configured import ranker_addons
from towernas.train.precision import resolve_precision
from towernas.train.ranker_loop import LOSSES, fit_ranker
from towernas.train.settings import RankerFitSettings

log = logging.getLogger(__name__)
register_configs()
KS = (10, 20, 50)
JOINT: Registry[str] = Registry("joint mode", key="cascade.joint")  # each entry: its meaning in one line
JOINT.register("none", "the retriever as exported")
JOINT.register("distill", "the retriever fine-tuned on the ranker's scores (towernas.cascade.distill)")


def latest_retriever(root: Path, dataset: str, budget: str) -> Path:
    """The newest retriever artifact exported by ``make retrain`` for ``dataset`` and ``budget``."""
    return newest_run(root, f"{dataset}/{budget}/*/retriever/meta.json",
                      f"no retriever artifact under {root / dataset / budget}/*/retriever; run "
                      "`make retrain` first or pass cascade.retriever=<artifact directory>")


def check_cascade_values(cfg: DictConfig) -> None:
    """One line naming the key for a value no cascade could use (before any data is loaded)."""
    c = cfg.cascade
    for name in [*c.rankers, *([c.second_ranker] if c.second_ranker else [])]:
        RANKERS.get(name)
    for mode in c.negatives:
        MODES.get(mode)
    TRAIN_LISTS.get(c.train_lists)
    if c.window_anchor not in ANCHORS:
        raise ValueError(f"cascade.window_anchor={c.window_anchor!r}: expected one of {list(ANCHORS)}")
    if c.ratings not in RATING_INPUTS:
        raise ValueError(f"cascade.ratings={c.ratings!r}: expected one of {list(RATING_INPUTS)}")
    for feature in c.pair_features:
        PAIR_FEATURES.get(feature)
    if "retriever" in c.pair_features and not c.fuse_retriever:
        raise ValueError("cascade.pair_features=[retriever, …] reads the retriever's score, which only a fused ranker "
                         "has: set cascade.fuse_retriever=true")
    for joint in c.joint:
        JOINT.get(joint)
    if not c.joint:
        raise ValueError(f"cascade.joint=[]: expected a non-empty list of {list(JOINT)}")
    if not c.rankers or not c.negatives or not c.seeds:
        raise ValueError("cascade.rankers, cascade.negatives and cascade.seeds need at least one entry each")
    if c.k1 >= c.k0 or (c.second_ranker and c.k2 >= c.k1) or min(c.k0, c.k1, c.k2) < 1:
        raise ValueError(f"cascade: k0={c.k0}, k1={c.k1}, k2={c.k2}: expected 1 <= k2 < k1 < k0 (each stage keeps "
                         "fewer items than it receives)")
    bad = [k for k in c.k0_sweep if isinstance(k, bool) or not isinstance(k, int) or k < 1]
    if bad:
        raise ValueError(f"cascade.k0_sweep={list(c.k0_sweep)}: {bad[0]!r} is not a list length; expected positive "
                         "integers (the retriever's K0 values to serve each pipeline at)")
    check_values(cfg, CASCADE_VALUES)
    LOSSES.get(c.loss)
    allowed = {f"{m}@{k}" for m in ("recall", "ndcg", "hitrate", "mrr", "precision") for k in KS if k <= c.k1}
    if c.select not in allowed:
        raise ValueError(f"cascade.select={c.select!r}: expected one of {sorted(allowed)}")
    changing = [a.name for a in ranker_addons(cfg, "cascade", c.loss) if a.changes_inference]
    if changing and c.export:
        raise ValueError(f"cascade.addons={list(c.addons)}: {changing[0]} changes the inference scores, which the "
                         "served cascade does not apply yet; set cascade.export=false")


def ranker_hyperparameters(cfg: DictConfig, name: str) -> dict:
    """``ranker=`` configures the ranker of its name; any other ranker gets its schema defaults."""
    if cfg.ranker.name == name:
        return hyperparameters(cfg.ranker)
    return hyperparameters(OmegaConf.structured(ranker_schema(name)))


def train_stage_ranker(name: str, mode: str, seed: int, k: int, data: InteractionData, cands: Candidates,
                       retriever: RetrieverStage, cfg: DictConfig, device, tracker) -> tuple[torch.nn.Module, dict]:
    """One ranker trained on the training lists (``cands``) with negatives of ``mode``, fused with the score of
    the retriever that made each list when ``cascade.fuse_retriever`` (its training lists' retriever in training,
    the served one in validation)."""
    c = cfg.cascade
    torch.manual_seed(seed)
    catalog = Catalog.from_data(data, c.pair_features, cands.served_statistics, ratings=c.ratings)
    ranker = build_ranker(name, catalog, **ranker_hyperparameters(cfg, name))
    if c.fuse_retriever:
        ranker = fused(ranker, cands, retriever, cfg)
    addons = ranker_addons(cfg, "cascade", c.loss, data, ranker)
    if addons:  # outermost: the add-ons see (and at inference adjust) the fused logits
        ranker = RankerWithAddOns(ranker, addons)
    ranker = ranker.to(device)
    return ranker, fit_on_lists(ranker, name, mode, seed, k, data, cands, retriever, cfg, device, tracker)


def fused(ranker: torch.nn.Module, cands: Candidates, retriever: RetrieverStage, cfg: DictConfig) -> torch.nn.Module:
    """``ranker`` plus the score of the retriever of its training lists (``towernas.cascade.fusion``)."""
    return RetrieverScoreFusion(ranker, cands.train_retriever.items,
                                temperature=retriever.temperature(cfg.cascade.retriever_temperature))


def list_batches(ranker: torch.nn.Module, mode: str, data: InteractionData, cands: Candidates, cfg: DictConfig,
                 device):
    """``candidate_batches`` of the training lists for ``ranker`` (the cascade's batch size and negatives)."""
    c = cfg.cascade
    return candidate_batches(ranker, data, cands.queries["train"], cands.negative_pool, mode=mode,
                             n_negatives=c.n_negatives, pool=c.dns_pool, batch_size=c.batch_size, device=device,
                             vectors=cands.vectors["train"] if c.fuse_retriever else None)


def early_stop_metrics(ranker: torch.nn.Module, k: int, data: InteractionData, cands: Candidates, cfg: DictConfig,
                       device, k0: int | None = None) -> dict:
    """``ranker``'s metrics on the early-stopping queries: it reranks the served retriever's top ``k0`` (all of
    the run's K0 when None) and keeps ``k``."""
    ids = cands.early_stop_ids if k0 is None else cands.early_stop_ids[:, :k0]
    return rerank_metrics(ranker, data, cands.early_stop, ids, min(k, ids.shape[1]), device=device,
                          vectors=cands.early_stop_vectors if cfg.cascade.fuse_retriever else None)


def fit_on_lists(ranker: torch.nn.Module, name: str, mode: str, seed: int, k: int, data: InteractionData,
                 cands: Candidates, retriever: RetrieverStage, cfg: DictConfig, device, tracker,
                 validate: Callable[[], dict] | None = None, max_epochs: int | None = None) -> dict:
    """Train ``ranker`` (fused or not, on ``device``) on the training lists with negatives of ``mode``, early-stopped
    on ``validate()`` (default: its reranked top ``k`` of the served lists, ``early_stop_metrics``)."""
    c = cfg.cascade
    batches, n_batches = list_batches(ranker, mode, data, cands, cfg, device)
    stage = [RankerStage(name, ranker, k)]
    use_lists_of(stage, cands.train_retriever, cands.train_statistics)
    measure = validate or (lambda: early_stop_metrics(ranker, k, data, cands, cfg, device))

    def served() -> dict:
        use_lists_of(stage, retriever, cands.served_statistics)
        try:
            return measure()
        finally:
            use_lists_of(stage, cands.train_retriever, cands.train_statistics)

    settings = RankerFitSettings.from_config(c, seed=seed, precision=cfg.precision, validate_initial=c.fuse_retriever,
                                             max_epochs=c.max_epochs if max_epochs is None else max_epochs)
    fitted = fit_ranker(ranker, batches, served, settings, device=device, n_batches=n_batches, progress=cfg.progress,
                        log=lambda rec: tracker.log("cascade", {"ranker": name, "negatives": mode, "seed": seed, **rec}))
    return {"best_epoch": fitted.best_epoch, "stopped_early": fitted.stopped_early,
            "early_stop_valid": fitted.best_valid}


def run_pipeline(name: str, mode: str, seed: int, retriever: RetrieverStage, data: InteractionData,
                 cands: Candidates, cfg: DictConfig, device, tracker) -> list[tuple[dict, list]]:
    """Train the ranker stage(s) of one (ranker, negatives, seed) and evaluate every stage on validation, then
    test once, for each ``cascade.joint`` variant (``none``: the retriever as exported; ``distill``: the
    retriever fine-tuned on the ranker's scores, ``towernas.cascade.distill``). Returns (record, stages)."""
    c = cfg.cascade
    ranker, fit_info = train_stage_ranker(name, mode, seed, c.k1, data, cands, retriever, cfg, device, tracker)
    stages = [RankerStage(name, ranker, c.k1)]
    if c.second_ranker:
        second, _ = train_stage_ranker(c.second_ranker, mode, seed, c.k2, data, cands, retriever, cfg, device,
                                       tracker)
        stages.append(RankerStage(c.second_ranker, second, c.k2))
    use_lists_of(stages, retriever, cands.served_statistics)  # trained on the training lists'; now the served
    trained = [(s.name, ranker_hyperparameters(cfg, s.name), unwrapped(s.ranker), s.k) for s in stages]  # to serve
    out = []
    for joint in c.joint:
        first, info = retriever, {}
        if joint == "distill":
            first, info = distill_retriever(retriever, stages, data, cands, cfg, seed)
        use_items(stages, first)
        cascade = Cascade(first, c.k0, stages, device=device)
        counts = data.item_popularity("train")
        evaluated = {split: evaluate_stages(cascade.topk(data, cands.queries[split]), cands.queries[split], KS,
                                            item_counts=counts if split == "test" else None)
                     for split in ("valid", "test")}  # test: the one read of this pipeline
        stages_out = [{"name": v["name"], "k": v["k"], "valid": _metrics(v), "test": _metrics(t)}
                      for v, t in zip(evaluated["valid"], evaluated["test"])]
        record = {"ranker": name, "negatives": mode, "joint": joint, "seed": seed, **fit_info, **info,
                  "request_cost": request_cost(cascade, data, cands.queries["valid"], device).to_dict(),
                  "stages": stages_out}
        if joint == "none" and c.k0_sweep:  # the served retriever at every K0 of the sweep, with the request's cost
            record["sweep"] = sweep_k0(first, stages, sorted(set(c.k0_sweep)), data, cands.queries, device)
        out.append((record, trained if joint == "none" else None))
    use_items(stages, retriever)
    return out


def use_items(stages: list[RankerStage], retriever: RetrieverStage) -> None:
    """Fused rankers score with ``retriever``'s item vectors (the exported or the distilled ones)."""
    for stage in stages:
        ranker = unwrapped(stage.ranker)
        if isinstance(ranker, RetrieverScoreFusion):
            ranker.set_items(retriever.items)


def use_lists_of(stages: list[RankerStage], retriever: RetrieverStage, statistics) -> None:
    """Rankers see lists of ``retriever``: fused ones score with its item vectors, pair features count
    ``statistics`` (the data it was fitted on)."""
    use_items(stages, retriever)
    if statistics is not None:
        for stage in stages:
            use_statistics(stage.ranker, statistics)


def unwrapped(ranker: torch.nn.Module) -> torch.nn.Module:
    """The ranker without its add-ons (what the served cascade holds: add-ons that only change training)."""
    return ranker.ranker if isinstance(ranker, RankerWithAddOns) else ranker


def distill_retriever(retriever: RetrieverStage, stages: list[RankerStage], data: InteractionData,
                      cands: Candidates, cfg: DictConfig, seed: int) -> tuple[RetrieverStage, dict]:
    """Stage 1 fine-tuned on the first ranker's list-wise scores, its epochs chosen on validation."""
    c = cfg.cascade

    def validate(stage: RetrieverStage) -> float:
        use_items(stages, stage)
        outputs = Cascade(stage, c.k0, stages).topk(data, cands.early_stop)
        return evaluate_stages(outputs, cands.early_stop, KS)[-1][c.select]

    lists, vectors = cands.served_train
    distilled, info = distill(retriever, stages[0].ranker, data, cands.queries["train"], lists,
                              validate, epochs=c.distill_epochs, lr=c.distill_lr,
                              temperature=retriever.temperature(c.distill_temperature),
                              batch_size=c.batch_size, seed=seed,
                              vectors=vectors if c.fuse_retriever else None)
    return distilled, info


def _metrics(stage: dict) -> dict:
    return {k: v for k, v in stage.items() if k not in ("name", "k")}


def run_cascade(cfg: DictConfig, run_dir: Path) -> dict:
    """Build, train and evaluate every pipeline; write and return the results."""
    check_cascade_values(cfg)
    device = resolve_device(cfg.device)
    resolve_precision(cfg.precision, device)  # a bad precision: one line, before any work
    directory = Path(cfg.cascade.retriever) if cfg.cascade.retriever else latest_retriever(
        Path("outputs/retrain"), cfg.dataset.name, cfg.budget.name)
    data = load_dataset(cfg.dataset, progress=cfg.progress)
    retriever = RetrieverStage.load(directory, data)
    # the lists of rankers, modes and seeds are units of their own: extending them resumes the run
    config = OmegaConf.to_container(cfg, resolve=True)
    claim(run_dir, config, RESUME.ignoring("cascade.rankers", "cascade.negatives", "cascade.seeds"))
    cands = Candidates(retriever, data, cfg, run_dir, device)
    alone = [{"name": "retriever", "k": cfg.cascade.k0,
              "request_cost": request_cost(Cascade(retriever, cfg.cascade.k0, []), data, cands.queries["valid"],
                                           device).to_dict(), **{
        split: _metrics(evaluate_stages([cands.outputs[split]], cands.queries[split], KS,
                                        item_counts=data.item_popularity("train") if split == "test" else None)[0])
        for split in ("valid", "test")}}]
    tracker = Tracker(run_dir, use_wandb=cfg.tracking.wandb, project=cfg.tracking.project, config=config,
                      name=f"cascade-{cfg.dataset.name}")
    done, records, select = RecordLog(run_dir), [], cfg.cascade.select
    exported = [u["exported"] for u in done.done.values() if u["exported"] is not None]  # a resumed run's best
    served = max(exported) if exported else None
    try:
        for name in cfg.cascade.rankers:
            for mode in cfg.cascade.negatives:
                for seed in cfg.cascade.seeds:
                    key = f"{name}/{mode}/seed{seed}"
                    if done.get(key) is None:
                        unit: dict = {"records": [], "exported": None}
                        for record, trained in run_pipeline(name, mode, seed, retriever, data, cands, cfg, device,
                                                            tracker):
                            score = record["stages"][-1]["valid"][select]
                            # the served pipeline: best on validation among those whose retriever is the artifact
                            if trained is not None and (served is None or score > served):
                                if cfg.cascade.export:
                                    export_best(run_dir, directory, cfg, record, trained)
                                served = unit["exported"] = score
                            log.info("%s (%s, %s) seed %d: %s", name, mode, record["joint"], seed,
                                     record["stages"][-1]["valid"])
                            unit["records"].append(record)
                        done.add(key, unit)  # after the export: a unit on record has its export written
                    records += done.get(key)["records"]
    finally:
        tracker.close()
    pipelines = aggregate(records)
    best = max(pipelines, key=lambda p: p["stages"][-1]["valid"][select])  # chosen on validation
    results = {"dataset": cfg.dataset.name, "budget": cfg.budget.name, "retriever_dir": str(directory),
               **distributed.world().describe(), "k0": cfg.cascade.k0, "retriever": alone, "pipelines": pipelines, "records": records,
               "best": best["name"], "stages": best["stages"],
               "validation": validation_entry(select, best["stages"][-1]["valid"][select], best["name"])}
    if cfg.cascade.export:
        results["cascade_dir"] = str(run_dir / "cascade")
    swept = ""
    if cfg.cascade.k0_sweep:
        results["sweep"] = aggregate_sweep(records, retriever_point(retriever, data, cands.queries, device))
        swept = ("\n\nQuality vs FLOPs per request at each K0 (`cascade.k0_sweep`; the front is chosen on "
                 "validation):\n\n" + sweep_table(results["sweep"]))
    write_results(run_dir, results, results_table(alone, pipelines) + "\n\nWhat limits it (test):\n\n"
                  + limits_table(alone, pipelines) + swept)
    return results


def export_best(run_dir: Path, retriever_dir: Path, cfg: DictConfig, record: dict, trained: list) -> None:
    """Write the pipeline best on validation so far as ``<run dir>/cascade`` (replacing the previous best)."""
    from towernas.cascade.export import export_cascade

    if not writes_files():  # torchrun: rank 0 exports
        return
    export_cascade(run_dir / "cascade", retriever_dir, cfg.cascade.k0, trained,
                   metadata={"ranker": record["ranker"], "negatives": record["negatives"], "seed": record["seed"],
                             "valid": record["stages"][-1]["valid"], "request_cost": record["request_cost"]})
