"""``make bench-fidelity``: does the search's ranking of architectures mean anything? The gate of every search change.

    python -m benchmarks.bench_fidelity [--dataset synthetic] [--space towernas] [--budget L] [--n-archs 24] [--seeds 0,1]
                                        [--workers 2] [--out bench_results] [--quick] [--no-search]

1. **Architectures**: ``n_archs`` budget-feasible architectures of the space, stratified over poolings x
   three cost tertiles (FLOPs of a large feasible random pool), plus the search's own top-k
   (``python -m towernas.search`` with the same space and budget, run first into ``<out>/fidelity-runs/``)
   and the in-budget baselines (every GoogleDNN grid member the budget admits, ``towernas.retrievers.sizing``).
2. **Truth**: each one retrained from scratch by the retrain trainer (``towernas.train.loop.fit``, the
   ``conf/retrain/default.yaml`` schedule) for every seed of ``--seeds``; the truth is the mean validation
   Recall@50 over seeds. ``noise_ceiling_tau`` is Kendall's τ between two seeds' validation R@50: no
   signal can be expected to rank better than retraining agrees with itself.
3. **Signals** (higher = better), each with its cost in seconds:
   ``supernet_loss`` (minus the validation in-batch loss through the supernet: ``search.fitness=loss``),
   ``supernet_recall`` (full-ranking validation Recall@50 of the exported child, supernet weights: the
   evolution's default fitness), ``short_retrain`` (validation R@50 after ``search.short_epochs`` epochs from
   scratch: the final selection's signal). ``supernet_tau`` is the better of the two supernet signals (both
   reported), with its 90% bootstrap interval; ``final_tau`` is the short-retrain signal's τ.
   ``--supernet-seeds 0,1,2`` also trains the supernet with each of those seeds (the rest unchanged) and
   reports both supernet τ per seed and their mean ± std: the part of a supernet τ that is its one training.
4. Written atomically to ``<out>/fidelity.json`` and ``<out>/fidelity.md`` (``fidelity-<dataset>`` for a
   dataset other than the embedded one, ``-<space>-<budget>`` appended for a non-default space or budget). Test
   is never read.

Every retrain is cached in ``<out>/fidelity-runs/cache.jsonl`` (one line per finished job, keyed by
model, seed and schedule), so an interrupted benchmark (kill -9 included) resumes where it stopped and a
change to the supernet re-measures only the signals. Jobs run in ``--workers`` processes of one thread each
(``towernas.runs.jobs``, ``engine="processes"``).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import statistics
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from benchmarks.common import JsonlCache, benchmark_parser, compose, int_list, markdown_table, register, write_report
from towernas.runs.jobs import JobsSettings
from towernas.runs.jobs import run_jobs as run_engine

TARGETS = {"supernet_tau": 0.3, "final_tau_vs_noise": 0.8}
STRATA = 3  # cost tertiles


# -- configuration ------------------------------------------------------------------------------------------
def overrides_for(args) -> list[str]:
    out = [f"space={args.space}", f"budget={args.budget}", "progress=false", "device=cpu", f"seed={args.data_seed}"]
    if not args.quick:
        out.insert(0, f"dataset={args.dataset}")
    else:
        out += ["dataset=synthetic-tiny", "supernet=tiny", "search.population=8", "search.generations=2",
                "search.val_batch_size=128", "search.random_baseline=2", "retrain.max_epochs=3",
                "retrain.patience=1", "retrain.batch_size=128"]
    return out + list(args.override)


# -- architectures ------------------------------------------------------------------------------------------
def stratified_archs(space, cost_model, budget, n: int, seed: int, pool: int = 4000) -> list:
    """``n`` distinct feasible architectures, as evenly as possible over poolings x cost tertiles."""
    rng = random.Random(seed)
    slots = space.slots()
    found: dict[tuple, int] = {}
    for _ in range(pool * 400):
        if len(found) >= pool:
            break
        genome = tuple(rng.choice(s) for s in slots)
        if genome in found:
            continue
        cost = cost_model.cost(space.arch(genome))
        if budget.admits(cost):
            found[genome] = cost.flops
    if not found:
        raise ValueError(f"no architecture of the space fits {budget}")
    edges = np.quantile(list(found.values()), [1 / 3, 2 / 3])
    cells: dict[tuple[str, int], list[tuple]] = {}
    for genome, flops in found.items():
        cells.setdefault((genome[0], int(np.searchsorted(edges, flops))), []).append(genome)
    order = sorted(cells)
    chosen: list[tuple] = []
    while len(chosen) < min(n, len(found)):
        for cell in order:
            if cells[cell] and len(chosen) < n:
                chosen.append(cells[cell].pop(rng.randrange(len(cells[cell]))))
    return [space.arch(g) for g in chosen]


# -- retraining jobs (run in worker processes) ---------------------------------------------------------------
_WORKER: dict[tuple[str, ...], tuple] = {}  # a worker's config and dataset, by overrides (loaded once per process)


def _data(overrides: Sequence[str]):
    key = tuple(overrides)
    if key not in _WORKER:
        from towernas.data import load_dataset

        cfg = compose(*key)
        _WORKER[key] = cfg, load_dataset(cfg.dataset, progress=False)
    return _WORKER[key]


def retrain_job(job: dict, overrides: Sequence[str] = ()) -> dict:
    """Train one model from scratch for one seed; return its validation metrics (never test)."""
    import torch

    from towernas.data.spec import DatasetSpec
    from towernas.retrievers.sizing import build_size
    from towernas.retrievers.two_tower import build
    from towernas.space import Arch
    from towernas.train.loop import fit
    from towernas.train.settings import FitSettings

    cfg, data = _data(overrides)
    spec = DatasetSpec.from_data(data)
    torch.manual_seed(job["seed"])
    if job["kind"] == "arch":
        model = build(Arch.from_dict(job["arch"]), spec)
    else:
        model = build_size(job["baseline"], job["size"], spec)
    started = time.perf_counter()
    settings = FitSettings(max_epochs=job["epochs"], patience=job["patience"], batch_size=job["batch_size"],
                           lr=job["lr"], temperature=job["temperature"], seed=job["seed"], select=job["select"],
                           ks=tuple(cfg.eval.ks), history_dropout=job.get("history_dropout", 0.0))
    fitted = fit(model, data, settings, device="cpu", progress=False)
    return {**job, "valid": fitted.best_valid, "best_epoch": fitted.best_epoch,
            "seconds": time.perf_counter() - started}


def job_key(job: dict) -> str:
    ident = {k: job[k] for k in sorted(job) if k not in ("name",)}
    return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:20]


def job_cache(path: Path) -> JsonlCache:
    """Finished jobs, one JSON line each keyed by its ``key`` field (``benchmarks.common.JsonlCache``: a line cut
    by a kill skipped): a killed run loses at most the running jobs."""
    return JsonlCache(path, "key")


def run_jobs(jobs: list[dict], cache: JsonlCache, overrides: list[str], workers: int,
             desc: str) -> dict[str, dict]:
    """Every job's record (from the cache, or computed in ``workers`` processes of one thread), by key."""
    from tqdm.auto import tqdm

    todo = {}
    for job in jobs:
        job["key"] = job_key(job)
        if job["key"] not in cache.done:
            todo[job["key"]] = job
    bar = tqdm(total=len(jobs), initial=len(jobs) - len(todo), desc=desc, unit="model")

    def finished(_: int, record: dict) -> None:
        cache.add(record)
        bar.update(1)

    run_engine(retrain_job, [(job,) for job in todo.values()], JobsSettings(engine="processes", workers=workers),
               shared={"overrides": list(overrides)}, on_result=finished)
    bar.close()
    return {job["key"]: cache.done[job["key"]] for job in jobs}


# -- signals through the supernet --------------------------------------------------------------------------------
def signal_scores(cfg, data, net, archs: list, batches, log_q) -> tuple[dict[str, list[float]], dict[str, float]]:
    """Both supernet signals of every arch (higher = better) and their seconds per arch: minus the in-batch
    validation loss, and the full-ranking validation Recall@50 (``supernet.validation_recall``)."""
    from supernet import validation_loss, validation_recall

    queries = data.queries("valid")
    t0 = time.perf_counter()
    loss = [-validation_loss(net, a, batches, cfg.supernet.temperature, log_q) for a in archs]
    t1 = time.perf_counter()
    recall = [validation_recall(net, a, data, queries) for a in archs]
    t2 = time.perf_counter()
    seconds = {"supernet_loss_per_arch": round((t1 - t0) / len(archs), 3),
               "supernet_recall_per_arch": round((t2 - t1) / len(archs), 3)}
    return {"supernet_loss": loss, "supernet_recall": recall}, seconds


def supernet_signals(cfg, data, archs: list, run_dir: Path) -> tuple[dict[str, list[float]], dict[str, float]]:
    """Supernet loss and recall of every arch, from the search run's supernet (retrained only if missing)."""
    from towernas.search.supernet_stage import prepare_supernet

    started = time.perf_counter()
    prepared = prepare_supernet(cfg, data, run_dir)
    train_seconds = time.perf_counter() - started
    signals, seconds = signal_scores(cfg, data, prepared.supernet, archs, prepared.batches, prepared.log_q)
    return signals, {"supernet_train": round(train_seconds, 1), **seconds}


def tau_curve(cfg, data, archs: list, truth: list[float], steps: list[int], run_dir: Path) -> list[dict]:
    """τ of both supernet signals against the truth after each number of supernet ``steps`` (no early stopping):
    when does the supernet stop being informative? One supernet, trained on in increments (resumes)."""
    import torch

    from supernet import Supernet, fixed_batches, train_supernet
    from towernas.complexity import CostModel
    from towernas.complexity.budgets import Budget
    from towernas.data.spec import DatasetSpec
    from towernas.eval.agreement import kendall_tau
    from towernas.search.genomes import admitted_by
    from towernas.space.arch_space import ArchSpace
    from towernas.train.settings import SupernetSettings

    spec, space, sn = DatasetSpec.from_data(data), ArchSpace.from_config(cfg.space), cfg.supernet
    admits = admitted_by(CostModel.from_space(spec, space), space, [Budget.from_config(cfg.budget)])
    torch.manual_seed(cfg.seed)
    net = Supernet.from_space(spec, space)
    batches = fixed_batches(data, "valid", n_batches=cfg.search.val_batches, batch_size=cfg.search.val_batch_size,
                            seed=cfg.seed)
    rows = []
    for n in steps:
        settings = SupernetSettings(steps=n, batch_size=sn.batch_size, lr=sn.lr, temperature=sn.temperature,
                                    seed=cfg.seed, embedding_decay=sn.embedding_decay)
        trained = train_supernet(net, data, settings, device="cpu", checkpoint_dir=run_dir, progress=False,
                                 admits=admits if sn.feasible_sampling else None)
        signals, _ = signal_scores(cfg, data, net, archs, batches, trained["estimator"].log_q)
        rows.append({"steps": n, **{name: round(kendall_tau(values, truth), 4) for name, values in signals.items()}})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def supernet_seed_taus(cfg, data, archs: list, truth: list[float], n_stratified: int, seeds: list[int],
                       run_dir, known: dict[int, dict[str, list[float]]] | None = None) -> dict[str, Any]:
    """Supernet τ against the same truth for several supernet trainings (seeds): how much of a τ is the one
    supernet it was read from. ``run_dir(seed)`` is where that seed's supernet trains (resumed if there);
    ``known[seed]`` gives signals already measured (the search's own supernet). Only the supernet's seed changes:
    data, architectures and truth are shared."""
    from omegaconf import OmegaConf

    from towernas.eval.agreement import kendall_tau
    from towernas.runs.seeds import mean_std

    rows = []
    for seed in seeds:
        if known and seed in known:
            signals = known[seed]
        else:
            seeded = OmegaConf.merge(cfg, {"seed": seed})
            signals, _ = supernet_signals(seeded, data, archs, run_dir(seed))
        rows.append({"seed": seed, **{name: round(kendall_tau(values, truth), 4) for name, values in signals.items()},
                     **{f"{name}_stratified": round(kendall_tau(values[:n_stratified], truth[:n_stratified]), 4)
                        for name, values in signals.items()}})
    summary = {}
    for name in rows[0]:
        if name != "seed":
            mean, std = mean_std([row[name] for row in rows])
            summary[name] = {"mean": round(mean, 4), "std": round(std, 4)}
    return {"per_seed": rows, "mean_std": summary}


# -- report ------------------------------------------------------------------------------------------------------
def agreement(signal: list[float], truth: list[float]) -> dict[str, Any]:
    from towernas.eval.agreement import bootstrap_tau, kendall_tau, precision_at_k

    lo, hi = bootstrap_tau(signal, truth)
    return {"tau": round(kendall_tau(signal, truth), 4), "ci90": [round(lo, 4), round(hi, 4)],
            "precision_at_5": precision_at_k(signal, truth, 5)}


def to_markdown(res: dict) -> str:
    lines = [f"# Fidelity benchmark: space `{res['space']}`, budget {res['budget']}", "",
             f"{res['n_archs']} architectures ({res['n_stratified']} stratified + {res['n_searched']} searched "
             f"top-k), retrained with seeds {res['seeds']}; truth = mean validation R@50. "
             f"Retrained R@50 spread: {res['spread']['min']:.4f} – {res['spread']['max']:.4f} "
             f"(std {res['spread']['std']:.4f}).", ""]
    signals = [[name, f"{sig['tau']:+.3f}", f"[{sig['ci90'][0]:+.3f}, {sig['ci90'][1]:+.3f}]",
                f"{sig['precision_at_5']:.2f}", sig["seconds_per_arch"]] for name, sig in res["signals"].items()]
    signals.append(["retrain seed vs seed (noise ceiling)", f"{res['noise_ceiling_tau']:+.3f}",
                    f"[{res['noise_ceiling_ci90'][0]:+.3f}, {res['noise_ceiling_ci90'][1]:+.3f}]", "–",
                    res["seconds"]["full_retrain_per_arch"]])
    lines.append(markdown_table(["signal", "Kendall τ", "90% CI", "precision@5", "seconds per arch"], signals))
    t = res["targets"]
    lines += ["", f"supernet_tau = {res['supernet_tau']:+.3f} ({res['supernet_signal']}), CI90 "
              f"[{res['supernet_tau_ci90'][0]:+.3f}, {res['supernet_tau_ci90'][1]:+.3f}]: target ≥ 0.3 with lower "
              f"bound > 0 → **{'met' if t['supernet_tau'] else 'not met'}**.",
              f"final_tau = {res['final_tau']:+.3f} vs 0.8 × noise ceiling = {0.8 * res['noise_ceiling_tau']:.3f} → "
              f"**{'met' if t['final_tau'] else 'not met'}**.", "",
              "## Best architectures vs the in-budget baselines (validation R@50, mean over seeds)", ""]
    shown = res["models"][:10] + [m for m in res["models"][10:] if m["kind"] == "baseline"]
    lines.append(markdown_table(["model", "kind", "val R@50", "± std", "FLOPs", "params"],
                                [[row["name"], row["kind"], f"{row['truth']:.4f}", f"{row['std']:.4f}", row["flops"],
                                  row["params"]] for row in shown]))
    if res.get("tau_vs_supernet_steps"):
        lines += ["", "## τ against supernet steps (stratified architectures, no early stopping)", ""]
        lines.append(markdown_table(["steps", "supernet_loss τ", "supernet_recall τ"],
                                    [[r["steps"], f"{r['supernet_loss']:+.3f}", f"{r['supernet_recall']:+.3f}"]
                                     for r in res["tau_vs_supernet_steps"]]))
    if res.get("supernet_seeds"):
        seeded = res["supernet_seeds"]
        names = [k for k in seeded["per_seed"][0] if k != "seed"]
        lines += ["", "## Supernet τ over supernet trainings (same architectures and truth, only the supernet's "
                  "seed changes)", ""]
        rows = [[row["seed"], *(f"{row[n]:+.3f}" for n in names)] for row in seeded["per_seed"]]
        rows.append(["mean ± std", *(f"{seeded['mean_std'][n]['mean']:+.3f} ± {seeded['mean_std'][n]['std']:.3f}"
                                     for n in names)])
        lines.append(markdown_table(["supernet seed", *(f"{n} τ" for n in names)], rows))
    lines += ["", f"Machine: {res['machine']}. Total wall time {res['seconds']['total']:.0f} s. Command: "
              f"`{res['command']}`."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    parser = benchmark_parser(__doc__, dataset="synthetic", override=True)
    parser.add_argument("--space", default="towernas")
    parser.add_argument("--budget", default="L")
    parser.add_argument("--n-archs", type=int, default=24)
    parser.add_argument("--seeds", default="0,1", type=int_list)
    parser.add_argument("--data-seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-search", action="store_true", help="skip the search's top-k (stratified only)")
    parser.add_argument("--curve", default=[], type=int_list, help="also measure τ after these supernet step "
                        "counts, e.g. 100,200,400,700,1000,1500 (stratified archs; one more supernet, no early "
                        "stopping)")
    parser.add_argument("--supernet-seeds", default=[], type=int_list, help="also measure supernet τ after training "
                        "the supernet with each of these seeds, e.g. 0,1,2 (same architectures and truth; the spread "
                        "of τ between trainings)")
    parser.add_argument("--variant", default="", help="name of a supernet variant (its own search run directory; "
                        "the retrained truth is shared), e.g. --variant decay --override supernet.embedding_decay=1e-4")
    args = parser.parse_args(argv)
    started = time.perf_counter()

    from towernas.complexity import CostModel
    from towernas.complexity.budgets import Budget
    from towernas.data import load_dataset
    from towernas.data.spec import DatasetSpec
    from towernas.eval.agreement import bootstrap_tau, kendall_tau
    from towernas.retrievers.hand_built import load_tower
    from towernas.retrievers.sizing import fitting_sizes
    from towernas.runs.seeds import mean_std
    from towernas.search.run import peak_rss_mib
    from towernas.space import Arch
    from towernas.space.arch_space import ArchSpace

    overrides = overrides_for(args)
    cfg = compose(*overrides)
    out = Path(args.out)
    on = "" if args.dataset == "synthetic" else f"{args.dataset}-"  # the embedded set keeps its historic names
    runs = out / "fidelity-runs" / f"{on}{args.space}-{args.budget}{'-quick' if args.quick else ''}"
    cache = job_cache(runs / "cache.jsonl")
    data = load_dataset(cfg.dataset, progress=False)
    spec = DatasetSpec.from_data(data)
    space = ArchSpace.from_config(cfg.space)
    cost_model = CostModel.from_space(spec, space)
    budget = Budget.from_config(cfg.budget)
    seeds = args.seeds
    search_dir = runs / (f"search-{args.variant}" if args.variant else "search")

    archs = stratified_archs(space, cost_model, budget, args.n_archs, seed=1234)
    n_stratified = len(archs)
    search_seconds = None
    if not args.no_search:
        from towernas.search import run_search

        t0 = time.perf_counter()
        summary = run_search(cfg, search_dir)
        search_seconds = time.perf_counter() - t0
        for path in sorted((search_dir / "archs").glob("top*.json")):
            arch = load_tower(path)
            if not isinstance(arch, Arch):
                continue  # a hand-built finalist: measured as a baseline below
            arch = Arch(arch.pooling, arch.user, arch.item, arch.dims, space=arch.space)  # drop provenance
            if arch not in archs:
                archs.append(arch)
        del summary
    arch_dicts = [Arch(a.pooling, a.user, a.item, a.dims, space=a.space).to_dict() for a in archs]

    trainer = {k: cfg.retrain[k] for k in ("batch_size", "lr", "temperature", "select")}  # part of the cache key
    if cfg.retrain.history_dropout:  # only then, so the jobs cached before it existed keep their keys
        trainer["history_dropout"] = float(cfg.retrain.history_dropout)
    schedule = {"epochs": int(cfg.retrain.max_epochs), "patience": int(cfg.retrain.patience), **trainer}
    short = {"epochs": int(cfg.search.short_epochs), "patience": 0, **trainer}
    full_jobs = [{"kind": "arch", "arch": d, "seed": s, **schedule} for d in arch_dicts for s in seeds]
    sizes = [label for label, _ in fitting_sizes("google_dnn", budget, spec)]
    base_jobs = [{"kind": "baseline", "baseline": "google_dnn", "size": label, "seed": s, **schedule}
                 for label in sizes for s in seeds]
    short_jobs = [{"kind": "arch", "arch": d, "seed": seeds[0], **short} for d in arch_dicts]
    t0 = time.perf_counter()
    full = run_jobs(full_jobs + base_jobs, cache, overrides, args.workers, "full retrains")
    t_full = time.perf_counter() - t0
    shorts = run_jobs(short_jobs, cache, overrides, args.workers, "short retrains")

    def val(record: dict) -> float:
        return record["valid"]["recall@50"]

    per_seed = np.array([[val(full[job_key({"kind": "arch", "arch": d, "seed": s, **schedule})]) for s in seeds]
                         for d in arch_dicts])
    truth = per_seed.mean(1).tolist()
    full_secs = statistics.fmean(r["seconds"] for r in full.values())
    signals, seconds = supernet_signals(cfg, data, archs, search_dir)
    signals["short_retrain"] = [val(shorts[job_key({"kind": "arch", "arch": d, "seed": seeds[0], **short})])
                                for d in arch_dicts]
    per_arch_secs = {"supernet_loss": seconds["supernet_loss_per_arch"],
                     "supernet_recall": seconds["supernet_recall_per_arch"],
                     "short_retrain": round(statistics.fmean(r["seconds"] for r in shorts.values()), 2)}
    results = {name: {**agreement(sig, truth), "seconds_per_arch": per_arch_secs[name]}
               for name, sig in signals.items()}
    supernet_signal = max(("supernet_loss", "supernet_recall"), key=lambda k: results[k]["tau"])
    noise = kendall_tau(per_seed[:, 0], per_seed[:, 1]) if len(seeds) > 1 else math.nan
    noise_ci = bootstrap_tau(per_seed[:, 0], per_seed[:, 1]) if len(seeds) > 1 else (math.nan, math.nan)
    models = []
    for i, (a, d, t, row) in enumerate(zip(archs, arch_dicts, truth, per_seed)):
        c = cost_model.cost(a)
        kind = "stratified" if len(models) < n_stratified else "searched"
        name = f"{a.pooling} | {','.join(a.user)} | {','.join(a.item)}"
        models.append({"name": name, "kind": kind, "truth": t, "std": float(np.std(row, ddof=1)) if len(row) > 1
                       else 0.0, "per_seed": row.tolist(), "signals": {k: v[i] for k, v in signals.items()},
                       "flops": c.flops, "params": c.params, "arch": d})
    strat = slice(0, n_stratified)  # the same statistics over the stratified sample alone (no searched family)
    stratified_only = {name: agreement(sig[strat], truth[strat])["tau"] for name, sig in signals.items()}
    seed_taus = None
    if args.supernet_seeds:
        seed_taus = supernet_seed_taus(
            cfg, data, archs, truth, n_stratified, args.supernet_seeds,
            lambda seed: runs / f"supernet{'-' + args.variant if args.variant else ''}-seed{seed}",
            known={int(cfg.seed): {k: v for k, v in signals.items() if k != "short_retrain"}})
    curve = tau_curve(cfg, data, archs[strat], truth[strat], args.curve, runs / "curve") if args.curve else None
    from towernas.complexity.towers import tower_cost
    from towernas.retrievers.sizing import build_size

    for label in sizes:
        values = [val(full[job_key({"kind": "baseline", "baseline": "google_dnn", "size": label, "seed": s,
                                     **schedule})]) for s in seeds]
        c = tower_cost(build_size("google_dnn", label, spec), spec)
        baseline_truth, std = mean_std(values)  # not `truth`: that list is the architectures' (spread below)
        models.append({"name": f"google_dnn {label}", "kind": "baseline", "truth": baseline_truth, "std": std,
                       "flops": c.flops, "params": c.params})
    models.sort(key=lambda m: -m["truth"])
    spread = {"min": float(min(truth)), "max": float(max(truth)), "std": float(np.std(truth))}
    final_tau = results["short_retrain"]["tau"]
    res = {
        "variant": args.variant or None, "overrides": list(args.override), "space": args.space,
        "budget": args.budget, "seeds": seeds, "n_archs": len(archs),
        "n_stratified": n_stratified, "n_searched": len(archs) - n_stratified,
        "noise_ceiling_tau": round(noise, 4), "noise_ceiling_ci90": [round(noise_ci[0], 4), round(noise_ci[1], 4)],
        "supernet_signal": supernet_signal, "supernet_tau": results[supernet_signal]["tau"],
        "supernet_tau_ci90": results[supernet_signal]["ci90"], "final_tau": final_tau,
        "precision_at_5": results["short_retrain"]["precision_at_5"], "signals": results, "spread": spread,
        "tau_stratified_only": stratified_only, "tau_vs_supernet_steps": curve, "supernet_seeds": seed_taus,
        "targets": {"supernet_tau": results[supernet_signal]["tau"] >= TARGETS["supernet_tau"]
                    and results[supernet_signal]["ci90"][0] > 0,
                    "final_tau": final_tau >= TARGETS["final_tau_vs_noise"] * noise},
        "seconds": {**seconds, "full_retrain_per_arch": round(full_secs, 1), "full_retrains_wall": round(t_full, 1),
                    "search": round(search_seconds, 1) if search_seconds else None,
                    "total": round(time.perf_counter() - started, 1)},
        "models": models, "machine": f"{os.cpu_count()} CPUs, {args.workers} workers",
        "peak_rss_mib_main_process": peak_rss_mib(),
        "command": "python -m benchmarks.bench_fidelity " + " ".join(argv if argv is not None else os.sys.argv[1:]),
    }
    stem = f"fidelity-{on}".rstrip("-")
    stem += "" if (args.space, args.budget) == ("towernas", "L") else f"-{args.space}-{args.budget}"
    stem += (f"-{args.variant}" if args.variant else "") + ("-quick" if args.quick else "")
    write_report(out, stem, res, to_markdown(res), echo=True)
    return res


def run(quick: bool = False) -> dict:
    """Entry of ``benchmarks.run`` (``make bench --only fidelity``)."""
    return main(["--quick"] if quick else [])


register("fidelity", "does the search's ranking of architectures agree with retraining? (the search's gate)", run=run)

if __name__ == "__main__":
    main()
