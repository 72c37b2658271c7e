"""``python -m towernas.retrain`` (``make retrain``): retrain architectures from scratch and compare them.

Inputs: ``retrain.archs=[a.json, …]`` (e.g. a file of ``recipes/``), or by default the top
``retrain.top_k`` architectures of the latest search run for this dataset and budget; plus any human
baselines (``retrain.baselines=[google_dnn,senet,bst,mind]``: in budget; ``google_dnn_paper``, …: the
paper's layers, over the budget). An in-budget baseline first gets its size: every size of its grid that
fits the budget (``towernas.retrievers.sizing``) trains once on a short schedule (``retrain.sizing_epochs``,
``retrain.sizing_patience``, seed ``retrain.seeds[0]``) and the best on validation wins; ``results.json``
keeps every size's score under ``sizing``. Every model is then trained by the same trainer (in-batch
softmax + logQ by default; ``retrain.sampler`` / ``retrain.loss`` / ``retrain.addons`` change it, while the
sizing trials of in-budget baselines keep the default, so a baseline has one size across objectives), early-stopped
and selected on validation, and only then evaluated once on test (with the popularity-bias and intervened-test
metrics, ``towernas.eval.bias``), for every seed of ``retrain.seeds``. Writes ``results.{json,md,csv}`` into
the run directory and prints the table (mean ± std over seeds, Δ R@50 vs the in-budget GoogleDNN).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import hydra
import torch
from omegaconf import DictConfig, OmegaConf

from towernas.addons import AddOnError, WithAddOns
from towernas.complexity.budgets import Budget
from towernas.config import register_configs
from towernas.config.validate import check_training_values
from towernas.data import InteractionData, load_dataset
from towernas.data.spec import DatasetSpec
from towernas.eval.encode import evaluate_test
from towernas.retrievers.candidate import Candidate
from towernas.retrievers.hand_built import HandBuilt, load_tower
from towernas.retrievers.sizing import require_fit, select_size
from towernas.runs import model_names, seeds, tables
from towernas.runs.cli import run_entry, validation_entry
from towernas.runs.device import resolve_device
from towernas.runs.errors import UserError
from towernas.runs.files import write_results, writes_files
from towernas.runs.jobs import JobsSettings, run_jobs
from towernas.runs.run_dir import newest_run
from towernas.runs.tracking import Tracker
from towernas.samplers import SamplerError
from towernas.train import distributed
from towernas.train.configured import build_objective, check_objective, fit_configured, retrain_settings
from towernas.train.loop import fit
from towernas.train.objective import check_model
from towernas.train.precision import resolve_precision

log = logging.getLogger(__name__)
register_configs()
DELTA = "delta_recall@50_vs_google_dnn_pct"  # vs tables.REFERENCE_MODEL, the in-budget google_dnn
REPORTED = ("recall@10", "recall@20", "recall@50", "ndcg@10", "ndcg@20", "ndcg@50")
HEADLINE = ("recall@20", "ndcg@20")  # the BARS protocol's metrics: results.md's first table, test next to validation
BIAS = ("arp@50", "coverage@50", "tail_share@50", "unbiased/recall@50", "unbiased/ndcg@50")  # towernas.eval.bias


def latest_search_run(root: Path, dataset: str, budget: str) -> Path:
    """The most recent finished search run (has ``summary.json``) for ``dataset`` and ``budget``."""
    return newest_run(root, f"{dataset}/{budget}-*/seed*/summary.json",
                      f"no finished search run under {root / dataset}/{budget}-*/; run `make search` "
                      "first or pass retrain.archs=[path/to/arch.json]")


def candidates(cfg: DictConfig) -> list[Candidate]:
    """The architectures (by file) and baselines (by name) this run retrains."""
    r = cfg.retrain
    paths = [Path(p) for p in r.archs]
    if not paths and not r.baselines or not paths and r.search_dir is not None:
        run = Path(r.search_dir) if r.search_dir else latest_search_run(Path("outputs/search"), cfg.dataset.name,
                                                                         cfg.budget.name)
        paths = sorted(run.glob("archs/top*.json"), key=lambda p: int(p.stem[3:]))[: r.top_k]
        if not paths:
            raise FileNotFoundError(f"{run}: no archs/top*.json; is it a finished search run?")
    out = [_from_file(p) for p in paths]
    names = model_names.unique([c.name for c in out], paths)  # the same rank of two search runs
    out = [replace(c, name=name) for c, name in zip(out, names)]
    from towernas.retrievers import MODELS

    for name in r.baselines:
        MODELS.get(name)  # an unknown name: one line listing the known ones, before any data is loaded
    return out + [Candidate(name=b, baseline=b) for b in r.baselines]


def _from_file(path: Path) -> Candidate:
    """A result file as a candidate: a searched architecture, or the hand-built baseline a search chose; named
    ``searched <budget> #<rank>`` if it is a search's ``archs/top<rank>.json`` (``runs.model_names``)."""
    tower = load_tower(path)
    if isinstance(tower, HandBuilt):
        return Candidate(name=model_names.file_name(path, tower.provenance, baseline=tower.baseline),
                         baseline=tower.baseline, size=tower.size)
    return Candidate(name=model_names.file_name(path, tower.provenance), arch=tower)


def choose_sizes(todo: list[Candidate], data: InteractionData, cfg: DictConfig, device,
                 tracker) -> tuple[list[Candidate], dict[str, dict]]:
    """Give every in-budget baseline of ``todo`` its size, chosen on validation (``sizing.select_size``).

    Fails at once, in one line, if some baseline has no grid size within the budget. Returns the
    candidates with their sizes and the ``sizing`` entry of ``results.json`` per baseline.
    """
    r, budget, spec = cfg.retrain, Budget.from_config(cfg.budget), DatasetSpec.from_data(data)
    for candidate in todo:
        if candidate.needs_size:
            require_fit(candidate.baseline, budget, spec)  # before any training
    sized, sizing = [], {}
    # the short schedule of every size's trial, seed retrain.seeds[0]; in fp32 whatever cfg.precision (as always)
    sizing_settings = retrain_settings(cfg, r.seeds[0], max_epochs=r.sizing_epochs, patience=r.sizing_patience,
                                       precision="fp32")
    for candidate in todo:
        if candidate.needs_size:
            choice = select_size(candidate.baseline, budget, spec, data, fit, sizing_settings,
                                 log=lambda rec: tracker.log("sizing", rec), device=device, progress=cfg.progress)
            log.info("%s: size %s (validation %s %s)", candidate.name, choice.size.label, r.select, choice.scores)
            sizing[candidate.name] = choice.to_dict()
            candidate = replace(candidate, size=choice.size)
        sized.append(candidate)
    return sized, sizing


def retrain_one(candidate: Candidate, data: InteractionData, cfg: DictConfig, seed: int, device, tracker) -> dict:
    """Train one model for one seed; select on validation; read test once. Returns (model, record)."""
    spec = DatasetSpec.from_data(data)
    torch.manual_seed(seed)
    backbone = candidate.build(spec, Budget.from_config(cfg.budget))
    cost = candidate.cost(backbone, spec)
    model, fitted = fit_configured(backbone, data, cfg, seed=seed, device=device,
                                   log=lambda rec: tracker.log("retrain", {"model": candidate.name, "seed": seed, **rec}))
    ks = tuple(cfg.eval.ks)
    test = evaluate_test(model, data, ks, device=device)  # the one and only read of test
    return model, {"model": candidate.name, "size": candidate.size.label if candidate.size else None, "seed": seed,
                   "best_epoch": fitted.best_epoch, "stopped_early": fitted.stopped_early, "valid": fitted.best_valid,
                   "test": test, "complexity": cost.to_dict(),
                   "arch": candidate.arch.to_dict() if candidate.arch else None}


class _Lines:
    """A tracker that keeps a job's log lines to hand back (a Ray task may not see the run directory)."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, dict]] = []

    def log(self, stream: str, record: dict) -> None:
        self.lines.append((stream, record))


def retrain_job(candidate: Candidate, seed: int, *, data: InteractionData, cfg: DictConfig) -> tuple:
    """``retrain_one`` as an independent job (``towernas.runs.jobs``): (CPU weights, record, log lines)."""
    lines = _Lines()
    model, record = retrain_one(candidate, data, cfg, seed, resolve_device(cfg.device), lines)
    return {k: v.detach().cpu() for k, v in model.state_dict().items()}, record, lines.lines


def _rebuilt(candidate: Candidate, data: InteractionData, cfg: DictConfig, device, weights: dict, record: dict,
             lines: list, tracker) -> tuple:
    """A job's model rebuilt here from its weights (for the export), after logging its lines."""
    for stream, line in lines:
        tracker.log(stream, line)
    spec = DatasetSpec.from_data(data)
    backbone = candidate.build(spec, Budget.from_config(cfg.budget))
    addons, _ = build_objective(cfg, "retrain", data, seed=record["seed"], device=device)
    model = WithAddOns(backbone, addons) if addons else backbone
    model.load_state_dict(weights)
    return model.to(device), record


def aggregate(records: list[dict]) -> list[dict]:
    """Mean ± std over seeds of each model's test metrics (models in input order)."""
    rows = [{"model": name, "size": mine[0]["size"], "seeds": len(mine), "complexity": mine[0]["complexity"],
             **seeds.over_seeds([r["test"] for r in mine], (*REPORTED, *BIAS)),
             **seeds.over_seeds([r["valid"] for r in mine], HEADLINE, prefix="valid/")}
            for name, mine in seeds.group(records, lambda r: r["model"]).items()]
    tables.add_deltas(rows, "recall@50", tables.REFERENCE_MODEL, DELTA)
    return rows


def headline_table(rows: list[dict]) -> str:
    """Markdown: model → test and validation Recall@20 / NDCG@20 (mean ± std): full ranking with the seen items
    masked, the numbers a BARS table reports (test masks every item of train and validation)."""
    metrics = [m for m in HEADLINE if all(m in r and f"valid/{m}" in r for r in rows)]
    names = {"recall@20": "R@20", "ndcg@20": "N@20"}
    return tables.markdown(["model", *(f"test {names[m]}" for m in metrics), *(f"valid {names[m]}" for m in metrics)],
                           [[tables.model_cell(r), *(tables.mean_std_cell(r, m) for m in metrics),
                             *(tables.mean_std_cell(r, f"valid/{m}") for m in metrics)] for r in rows])


def results_table(rows: list[dict]) -> str:
    """Markdown: model (with its size if in budget) → test Recall/NDCG (mean ± std), the popularity bias of its
    top-50 (ARP, tail share) and its unbiased R@50, params/FLOPs per tower, Δ R@50 vs the in-budget GoogleDNN."""
    metrics = ("recall@20", "recall@50", "ndcg@50")
    return tables.markdown(["model", "R@20", "R@50", "N@50", "ARP@50", "tail@50", "unbiased R@50",
                            *tables.COST_HEADER, tables.DELTA_HEADER],
                           [[tables.model_cell(r), *(tables.mean_std_cell(r, m) for m in metrics),
                             *(f"{r[m]:.{d}f}" if m in r else tables.MISSING
                               for m, d in (("arp@50", 1), ("tail_share@50", 3))),
                             tables.mean_std_cell(r, "unbiased/recall@50") if "unbiased/recall@50" in r
                             else tables.MISSING,
                             *tables.cost_cells(tables.flat_cost(r["complexity"])), tables.delta_cell(r[DELTA])]
                            for r in rows])


def results_csv(rows: list[dict]) -> str:
    fields = ["model", "size", "seeds", *tables.with_std((*REPORTED, *BIAS)), *tables.COST_COLUMNS, DELTA]
    return tables.csv_text(fields, ({**r, **tables.flat_cost(r["complexity"])} for r in rows))


def selected_on(records: list[dict], select: str) -> dict:
    """The validation entry of the run: the model with the best mean over seeds of validation ``select``."""
    scores: dict[str, list[float]] = {}
    for r in records:
        scores.setdefault(r["model"], []).append(r["valid"][select])
    means = {name: sum(values) / len(values) for name, values in scores.items()}
    best = max(means, key=means.get)
    return validation_entry(select, means[best], best)


def check_baselines_take_objective(todo: list[Candidate], cfg: DictConfig, addons) -> None:
    """Refuse (one line, before any data or sizing) a baseline the configured sampler or ``addons`` cannot
    train, e.g. MIND, whose query depends on the candidate, with a non-in-batch sampler."""
    from towernas.retrievers import MODELS

    r = cfg.retrain
    for candidate in todo:
        if candidate.baseline is not None:
            try:
                check_model(MODELS.get(candidate.baseline), sampler=r.sampler, in_batch=r.sampler == "in_batch",
                            loss=r.loss, addons=addons, key="retrain.sampler")
            except SamplerError as err:
                raise SamplerError(f"{err} (baseline {candidate.baseline})") from None
            except AddOnError as err:
                raise AddOnError(f"retrain.addons: {err} (baseline {candidate.baseline})") from None


def run_retrain(cfg: DictConfig, run_dir: Path) -> dict:
    """Retrain every candidate for every seed; write and return the results."""
    check_training_values(cfg)
    addons = check_objective(cfg, "retrain")
    device = resolve_device(cfg.device)
    resolve_precision(cfg.precision, device)  # a bad precision: one line, before any work
    todo = candidates(cfg)
    jobs = JobsSettings.from_config(cfg.jobs)  # a bad engine or a missing Ray: one line, before any work
    if not todo:
        raise ValueError("nothing to retrain: give retrain.archs=[…] or retrain.baselines=[…]")
    check_baselines_take_objective(todo, cfg, addons)
    data = load_dataset(cfg.dataset, progress=cfg.progress)
    tracker = Tracker(run_dir, use_wandb=cfg.tracking.wandb, project=cfg.tracking.project,
                      config=OmegaConf.to_container(cfg, resolve=True), name=f"retrain-{cfg.dataset.name}")
    records, best = [], None
    if jobs.engine != "local" and distributed.world().active:
        raise UserError(f"jobs.engine={jobs.engine} under torchrun: use one of the two (torchrun parallelises each "
                        "job's training, jobs.engine runs jobs side by side)")
    try:
        todo, sizing = choose_sizes(todo, data, cfg, device, tracker)
        units = [(candidate, seed) for candidate in todo for seed in cfg.retrain.seeds]
        if jobs.engine == "local":
            done = (retrain_one(candidate, data, cfg, seed, device, tracker) for candidate, seed in units)
        else:  # side by side on the engine; every job's log lines are logged here, in job order
            done = (_rebuilt(units[i][0], data, cfg, device, *out, tracker)
                    for i, out in enumerate(run_jobs(retrain_job, units, jobs, shared={"data": data, "cfg": cfg})))
        for model, record in done:
            records.append(record)
            if best is None or record["valid"][cfg.retrain.select] > best[1]["valid"][cfg.retrain.select]:
                best = (model, record)
    finally:
        tracker.close()
    rows = aggregate(records)
    results = {"dataset": cfg.dataset.name, "budget": cfg.budget.name, **distributed.world().describe(),
               "records": records, "table": rows,
               "sizing": sizing, "validation": selected_on(records, cfg.retrain.select)}
    if cfg.retrain.export and writes_files():  # the model best on validation (never chosen on test); rank 0
        from towernas.serving import export_retriever

        meta = export_retriever(best[0], data, run_dir / "retriever", index=cfg.retrain.index,
                                metadata={"model": best[1]["model"], "seed": best[1]["seed"],
                                          "valid": best[1]["valid"], "temperature": cfg.retrain.temperature,
                                          "history_dropout": cfg.retrain.history_dropout,
                                          "candidate": {c.name: c for c in todo}[best[1]["model"]].to_dict(),
                                          "recipe": OmegaConf.to_container(cfg.retrain, resolve=True)})
        results["retriever"] = {"directory": str(run_dir / "retriever"), "model": best[1]["model"],
                                "index": meta["index"]}
    write_results(run_dir, results, headline_table(rows) + "\n\n" + results_table(rows), results_csv(rows))
    return results


@hydra.main(version_base="1.3", config_path="conf", config_name="retrain")
def main(cfg: DictConfig) -> float:
    return run_entry("towernas.retrain", run_retrain, cfg, distributed)


if __name__ == "__main__":
    main()
