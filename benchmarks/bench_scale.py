"""Benchmark: the whole pipeline on an Amazon-Books-sized dataset on this machine (``make bench-scale``).

``dataset=synthetic-amazon`` (165,036 users × 159,551 items × 5,073,469 interactions, written in the real
Amazon CSV + metadata formats and read by the real reader) goes through, each phase a child process whose
wall time and peak resident memory are recorded:

1. ``load``: generate the files (once; not counted), then read + 20-core filter + split them without the
   processed cache (the cold path), then the cached load. Targets: ≤ 60 s, ≤ 4 GiB.
2. ``search``: ``profile=paper`` (AutoTower's space, SPOS up to 50k steps, a 50 × 50 evolution, the top 3 by
   supernet fitness short-retrained) with the early-stopped equivalents (``SCALE_SEARCH``): the supernet stops
   once its monitor stalls, the evolution once its best stalls, one finalist is fully retrained. Targets:
   ≤ 60 min, peak ≤ 8 GiB.
3. ``retrain``: the winner retrained from scratch (``towernas.retrain``, a fresh seed), test read once.
4. ``eval``: full-ranking test evaluation of every test user over the whole catalogue with the winner's
   exported vectors, against raw faiss (``IndexFlatIP.search`` of top-(50 + most excluded) on the same
   vectors, no masking or metrics). Target: ≤ 1.2×.
5. ``agreement``: the search's fitness samples ``search.fitness_users`` validation users; here architectures
   the evolution scored (spread over its fitness range) are scored again through the trained supernet on
   every validation user, and the two rankings are compared (Kendall tau, with a bootstrap interval).

Run: ``python -m benchmarks.bench_scale [--phases load,search,...] [--archs 16]``. Finished phases are kept in
``outputs/bench-scale/phases/`` and the search resumes itself, so a rerun continues where it stopped; writes
``bench_results/scale.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import runpy
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.common import compose, markdown_table, register, write_report
from towernas.runs.files import write_json_atomic

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench_results"
WORK = ROOT / "outputs" / "bench-scale"
PHASES = ("load", "search", "retrain", "eval", "agreement")
DATASET = ["dataset=synthetic-amazon", "budget=L", "progress=false", "tracking.wandb=false"]
# the early-stopped equivalents of profile=paper's 50k steps / 50 generations / 3 full retrains × 2 seeds; the
# supernet is capped at 10k steps (~2 epochs of the 2.66M training rows at batch 512): at the ~7 steps/s of 2 CPU
# cores, 50k steps alone would take ~2 h (see bench_results/scale.md)
SCALE_SEARCH = ["profile=paper", "supernet.steps=10000", "supernet.patience=3", "supernet.monitor_every=2000", "supernet.checkpoint_every=1000",
                "search.stall_generations=3", "search.min_improvement=0.005", "search.final_top=1",
                "search.final_seeds=[0]"]
SCALE_RETRAIN = ["retrain.max_epochs=4", "retrain.patience=1", "retrain.batch_size=2048"]
TARGETS = {"load_seconds": 60, "load_peak_gib": 4, "search_minutes": 60, "search_peak_gib": 8, "peak_gib_any_phase": 8,
           "eval_vs_faiss": 1.2}


def search_dir() -> Path:
    return WORK / "search"


def child(phase: str, argv: list[str]) -> dict:
    """Run ``argv`` (``-m module args`` or this file's ``--in-child phase``) in a child; wall time + peak RSS."""
    record = WORK / "phases" / f"{phase}.child.json"
    record.unlink(missing_ok=True)
    start = time.perf_counter()
    env = {**os.environ, "TOWERNAS_DATA": str(WORK / "data"), "BENCH_SCALE_RECORD": str(record)}
    subprocess.run([sys.executable, "-m", "benchmarks.bench_scale", "--wrap", *argv], cwd=ROOT, env=env, check=True)
    out = json.loads(record.read_text())
    return {**out, "wall_seconds": round(time.perf_counter() - start, 1)}


def wrapped(argv: list[str]) -> None:
    """The child: run a module (``-m name args``) or a phase of this file, then record its peak memory."""
    start = time.perf_counter()
    result = None
    if argv[0] == "-m":
        sys.argv = [argv[1], *argv[2:]]
        try:
            runpy.run_module(argv[1], run_name="__main__")
        except SystemExit as stop:
            if stop.code not in (None, 0):
                raise
    else:
        result = IN_CHILD[argv[0]](*argv[1:])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB → GiB
    write_json_atomic(Path(os.environ["BENCH_SCALE_RECORD"]),
                      {"seconds": round(time.perf_counter() - start, 1), "peak_gib": round(peak, 2),
                       "result": result})


# ------------------------------------------------------------------------------------- child phases
def load_phase() -> dict:
    from towernas.data import load_dataset
    from towernas.data.amazon_like import AmazonLikeOptions, ensure_generated
    from towernas.data.download import data_root

    cfg = compose(*DATASET).dataset
    clock = time.perf_counter()
    ensure_generated(data_root() / "raw" / cfg.name, AmazonLikeOptions(**cfg.generate), progress=False)
    generated = time.perf_counter() - clock
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    cold = cfg.copy()
    cold.cache = False
    clock = time.perf_counter()
    data = load_dataset(cold, progress=False)
    cold_seconds = time.perf_counter() - clock
    load_dataset(cfg, progress=False)  # writes the cache the later phases read
    clock = time.perf_counter()
    load_dataset(cfg, progress=False)
    return {"generate_seconds": round(generated, 1), "cold_seconds": round(cold_seconds, 1),
            "cached_seconds": round(time.perf_counter() - clock, 2), "peak_gib_before_load": round(rss_before, 2),
            "dataset": data.summary(),
            "files_mb": {p.name: round(p.stat().st_size / 1e6, 1) for p in (data_root() / "raw" / cfg.name).iterdir()}}


def eval_phase() -> dict:
    import faiss

    from towernas.data import load_dataset
    from towernas.eval import evaluate
    from towernas.serving import ServingRetriever

    data = load_dataset(compose(*DATASET).dataset, progress=False)
    retriever = ServingRetriever.load(WORK / "retrain" / "retriever")
    queries = data.queries("test")
    users = encode_with(retriever, data, queries)
    items = np.ascontiguousarray(retriever.items, dtype=np.float32)
    most_excluded = int(np.diff(queries.exclude.indptr).max())
    clock = time.perf_counter()
    metrics = evaluate(users, items, queries.targets, queries.exclude, ks=(10, 20, 50))
    ours = time.perf_counter() - clock
    index = faiss.IndexFlatIP(items.shape[1])
    index.add(items)
    clock = time.perf_counter()
    index.search(users, 50 + most_excluded)
    raw = time.perf_counter() - clock
    return {"users": len(users), "items": len(items), "dim": int(items.shape[1]), "most_excluded": most_excluded,
            "ours_seconds": round(ours, 2), "raw_faiss_seconds": round(raw, 2), "ratio": round(ours / raw, 3),
            "test": {k: round(float(v), 5) for k, v in metrics.items() if "@" in k}}


def encode_with(retriever, data, queries) -> np.ndarray:
    """Test query vectors from the exported user tower (the serving path), in batches."""
    import torch

    from towernas.data.batches import user_inputs

    out = []
    with torch.no_grad():
        for start in range(0, len(queries.users), 8192):
            sl = slice(start, start + 8192)
            batch = user_inputs(data, queries.users[sl], queries.positions[sl])
            fields = {k.split(":", 1)[1]: v for k, v in batch.items() if k.startswith("user:")}
            out.append(retriever.program(batch["history"], fields).float().numpy())
    return np.ascontiguousarray(np.concatenate(out))


def agreement_phase(n_archs: str = "16") -> dict:
    """Sampled (the search's) vs full-validation fitness of architectures the evolution scored."""
    import torch

    from supernet import RecallFitness, Supernet
    from supernet.checkpoint import load_checkpoint
    from towernas.data import load_dataset
    from towernas.data.spec import DatasetSpec
    from towernas.eval.agreement import bootstrap_tau, kendall_tau
    from towernas.eval.encode import sample_queries
    from towernas.space.arch_space import ArchSpace

    cfg = compose(*DATASET, *SCALE_SEARCH)
    data = load_dataset(cfg.dataset, progress=False)
    space = ArchSpace.from_config(cfg.space)
    net = Supernet.from_space(DatasetSpec.from_data(data), space)
    net.load_state_dict(load_checkpoint(search_dir() / "supernet_best.pt", map_location="cpu")["model"])
    state = json.loads((search_dir() / "evolution_state.json").read_text())
    picks, top = agreement_picks(state["memo"], int(n_archs))
    valid = data.queries("valid")
    sampled = RecallFitness(net, data, sample_queries(valid, cfg.search.fitness_users, seed=cfg.seed))
    full = RecallFitness(net, data, valid)
    rows = []
    for genome, stored in picks:
        arch = space.arch(tuple(genome))
        clock = time.perf_counter()
        value = full(arch)
        rows.append({"genome": genome, "search_fitness": stored, "sampled": sampled(arch), "full": value,
                     "full_seconds": round(time.perf_counter() - clock, 1)})
        print(rows[-1], flush=True)
    s, f = [r["sampled"] for r in rows], [r["full"] for r in rows]
    low, high = bootstrap_tau(s, f)
    top_low, top_high = bootstrap_tau(s[:top], f[:top])
    return {"archs": len(rows), "top_archs": top, "sampled_users": len(sampled.queries.users),
            "full_users": len(valid.users),
            "kendall_tau": round(kendall_tau(s, f), 3), "tau_interval_90": [round(low, 3), round(high, 3)],
            "kendall_tau_top": round(kendall_tau(s[:top], f[:top]), 3),
            "tau_top_interval_90": [round(top_low, 3), round(top_high, 3)],
            "best_of_top_sampled_rank_full": int(np.argsort(np.argsort(f[:top]))[int(np.argmin(s[:top]))]) + 1,
            "same_best": int(np.argmin(s)) == int(np.argmin(f)),
            "max_abs_gap": round(float(np.max(np.abs(np.subtract(s, f)))), 4), "rows": rows}


def agreement_picks(memo: list, n: int) -> tuple[list, int]:
    """``n`` of the evolution's scored ``[genome, fitness]`` rows, best first: its ``n // 2`` best (where the
    search makes its choice) and the rest spread evenly over the remaining fitness range. Returns (rows, n // 2)."""
    scored = sorted(memo, key=lambda row: row[1])  # fitness = -R@50: best first
    top = min(n // 2, len(scored))
    spread = {int(i) for i in np.linspace(top, len(scored) - 1, max(n - top, 0)).round()} if len(scored) > top else set()
    return [scored[i] for i in sorted(set(range(top)) | spread)], top


IN_CHILD = {"load": load_phase, "eval": eval_phase, "agreement": agreement_phase}


# ------------------------------------------------------------------------------------------ driver
def run_phase(phase: str, args) -> dict:
    if phase == "search":
        out = child(phase, ["-m", "towernas.search", *DATASET, *SCALE_SEARCH, *SCALE_RETRAIN,
                            f"hydra.run.dir={search_dir()}"])
        summary = json.loads((search_dir() / "summary.json").read_text())
        out["result"] = {k: summary[k] for k in ("supernet", "search", "phases_seconds_this_call", "best",
                                                 "validation", "peak_rss_mib")}
        out["result"]["selection"] = [{k: r.get(k) for k in ("genome", "fitness", "short", "retrained")}
                                      for r in summary["selection"]]
        out["search_seconds_all_calls"] = search_seconds()
        return out
    if phase == "retrain":
        out = child(phase, ["-m", "towernas.retrain", *DATASET, *SCALE_RETRAIN, f"retrain.search_dir={search_dir()}",
                            "retrain.top_k=1", "retrain.seeds=[1]", f"hydra.run.dir={WORK / 'retrain'}"])
        results = json.loads((WORK / "retrain" / "results.json").read_text())
        out["result"] = {"table": results["table"], "validation": results["validation"]}
        return out
    extra = [str(args.archs)] if phase == "agreement" else []
    return child(phase, [phase, *extra])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phases", default=",".join(PHASES))
    parser.add_argument("--archs", type=int, default=16, help="architectures of the agreement phase")
    parser.add_argument("--redo", action="store_true", help="rerun the listed phases even if recorded")
    parser.add_argument("--wrap", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.wrap:
        return wrapped(args.wrap)
    done_dir = WORK / "phases"
    done_dir.mkdir(parents=True, exist_ok=True)
    for phase in args.phases.split(","):
        if phase not in PHASES:
            parser.error(f"--phases: unknown phase {phase!r}; expected some of {list(PHASES)}")
        path = done_dir / f"{phase}.json"
        if path.exists() and not args.redo:
            continue
        print(f"== {phase}", flush=True)
        write_json_atomic(path, run_phase(phase, args))
    write_results()


def write_results() -> None:
    done_dir = WORK / "phases"
    phases = {p: json.loads((done_dir / f"{p}.json").read_text()) for p in PHASES if (done_dir / f"{p}.json").exists()}
    result = {"machine": machine(), "settings": {"search": SCALE_SEARCH, "retrain": SCALE_RETRAIN},
              "targets": TARGETS, "phases": phases, "checks": checks(phases),
              "search_so_far": None if "search" in phases else search_so_far()}
    write_report(OUT, "scale", result, markdown(result), echo=True)


def search_seconds() -> float:
    """The search's compute over every call that built its run directory (a resumed search's last call is only
    part of it): supernet steps + evolution (both summed over resumes in their logs) + every selection retrain."""
    from towernas.runs.records import read_lines

    supernet = [r for r in read_lines(search_dir() / "supernet.jsonl") if "elapsed" in r]
    generations = read_lines(search_dir() / "search.jsonl")
    selection = json.loads((search_dir() / "selection.json").read_text())
    return round((supernet[-1]["elapsed"] if supernet else 0) + (generations[-1]["elapsed"] if generations else 0)
                 + sum(v["seconds"] for v in selection.values()), 1)


def search_so_far() -> dict | None:
    """What an unfinished search has done, from its run files (the supernet and evolution logs)."""
    from towernas.runs.records import read_lines

    if not (search_dir() / "supernet.jsonl").exists():
        return None
    supernet = read_lines(search_dir() / "supernet.jsonl")
    steps = [r for r in supernet if "loss" in r]
    monitor = [{"step": r["step"], "recall@50": round(-r["val_loss"], 4)} for r in supernet if "val_loss" in r]
    generations = read_lines(search_dir() / "search.jsonl") if (search_dir() / "search.jsonl").exists() else []
    selection = read_lines(search_dir() / "selection.jsonl") if (search_dir() / "selection.jsonl").exists() else []
    return {"supernet_steps": steps[-1]["step"] if steps else 0,
            "supernet_seconds": round(steps[-1]["elapsed"], 1) if steps else 0,
            "steps_per_s": round(steps[-1]["step"] / steps[-1]["elapsed"], 2) if steps else None,
            "monitor": monitor,
            "generations": len(generations) - 1 if generations else None,
            "unique_evaluations": generations[-1]["unique_evaluations"] if generations else None,
            "evolution_seconds": round(generations[-1]["elapsed"], 1) if generations else None,
            "best_fitness": generations[-1]["best_fitness"] if generations else None,
            "selection_rows": len(selection)}


def machine() -> dict:
    import torch

    return {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(), "torch": torch.__version__}


def checks(phases: dict) -> dict:
    out = {}
    if "load" in phases:
        out["load_seconds"] = phases["load"]["result"]["cold_seconds"]
        out["load_peak_gib"] = phases["load"]["peak_gib"]
    if "search" in phases:
        out["search_minutes"] = round(phases["search"].get("search_seconds_all_calls",
                                                           phases["search"]["wall_seconds"]) / 60, 1)
        out["search_peak_gib"] = phases["search"]["peak_gib"]
    if "eval" in phases:
        out["eval_vs_faiss"] = phases["eval"]["result"]["ratio"]
    if phases:
        out["peak_gib_any_phase"] = max(phase["peak_gib"] for phase in phases.values())
    return {k: {"value": v, "target": TARGETS[k], "met": v <= TARGETS[k]} for k, v in out.items()}


def markdown(result: dict) -> str:
    p = result["phases"]
    lines = ["# Amazon-Books-sized run on one machine", "",
             f"`python -m benchmarks.bench_scale` (`make bench-scale`) on {result['machine']['cpus']} CPU cores, "
             f"torch {result['machine']['torch']}. Dataset `synthetic-amazon`: the real Amazon CSV + metadata "
             "formats through the real reader.", "",
             markdown_table(["target", "measured", "limit", "met"],
                            [[name, c["value"], c["target"], "yes" if c["met"] else "**no**"]
                             for name, c in result["checks"].items()])]
    if "load" in p:
        r = p["load"]["result"]
        lines += ["", f"**Load**: {r['dataset']['users']:,} users × {r['dataset']['items']:,} items × "
                  f"{r['dataset']['interactions']:,} interactions after 20-core; read + filter + split "
                  f"{r['cold_seconds']} s cold, {r['cached_seconds']} s from the processed cache; "
                  + (f"generating the files took {r['generate_seconds']} s (not counted)" if r["generate_seconds"] >= 1
                     else "the files were generated by an earlier run")
                  + f"; files {r['files_mb']} MB."]
    if "search" in p:
        r = p["search"]["result"]
        sn, ev = r["supernet"], r["search"]
        lines += ["", f"**Search** (`{' '.join(result['settings']['search'])}`, retrains "
                  f"`{' '.join(result['settings']['retrain'])}`): {p['search']['wall_seconds'] / 60:.1f} min, peak "
                  f"{p['search']['peak_gib']} GiB. Phases (s): {r['phases_seconds_this_call']}. Supernet: "
                  f"{sn['steps']} steps, best at {sn['best_step']}, stopped early: {sn['stopped_early']}. Evolution: "
                  f"{ev['generations_run']} generations, {ev['unique_evaluations']} distinct architectures scored. "
                  f"Winner: validation {r['validation']['metric']} {r['validation']['mean']:.4f}."]
    if result.get("search_so_far"):
        r = result["search_so_far"]
        curve = ", ".join(f"{m['recall@50']} at {m['step']}" for m in r["monitor"])
        lines += ["", f"**Search, unfinished when this file was written** (`{' '.join(result['settings']['search'])}`): "
                  f"the supernet ran {r['supernet_steps']} steps in {r['supernet_seconds'] / 60:.1f} min "
                  f"({r['steps_per_s']} steps/s, next to other jobs); its monitor (mean validation R@50 of the probe "
                  f"architectures) was {curve}. "
                  f"Evolution: {r['generations']} generations after the first, {r['unique_evaluations']} distinct "
                  f"architectures in {(r['evolution_seconds'] or 0) / 60:.1f} min (stalled: best R@50 "
                  f"{-(r['best_fitness'] or 0):.4f}); {r['selection_rows']} final-selection retrains logged."]
    if "retrain" in p:
        lines += ["", f"**Retrain** of the winner on seed 1: {p['retrain']['wall_seconds'] / 60:.1f} min, peak "
                  f"{p['retrain']['peak_gib']} GiB."]
        for row in p["retrain"]["result"]["table"]:
            lines.append("- " + ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
                                          for k, v in row.items() if not isinstance(v, (dict, list))))
    if "eval" in p:
        r = p["eval"]["result"]
        lines += ["", f"**Full-ranking evaluation** of {r['users']:,} test users over {r['items']:,} items (d = "
                  f"{r['dim']}): {r['ours_seconds']} s (exact top-k with every user's train+valid items masked, "
                  f"and the metrics) vs {r['raw_faiss_seconds']} s for raw faiss top-{50 + r['most_excluded']} on "
                  f"the same vectors: {r['ratio']}×. Test: {r['test']}."]
    if "agreement" in p:
        r = p["agreement"]["result"]
        if "kendall_tau_top" in r:
            lines += ["", f"**Sampled vs full fitness**: {r['archs']} architectures the evolution scored (its "
                      f"{r['top_archs']} best, the rest spread over its fitness range), each scored through the trained "
                      f"supernet on the {r['sampled_users']:,} sampled validation users the search uses and on all "
                      f"{r['full_users']:,}. Kendall tau over all {r['archs']}: {r['kendall_tau']} (90% bootstrap "
                      f"{r['tau_interval_90']}); among the {r['top_archs']} best, where the choice is made: "
                      f"{r['kendall_tau_top']} ({r['tau_top_interval_90']}); the sampled fitness's best of those is "
                      f"number {r['best_of_top_sampled_rank_full']} by the full one; same overall best: "
                      f"{r['same_best']}; largest gap {r['max_abs_gap']} R@50."]
        else:
            lines += ["", f"**Sampled vs full fitness**: {r['archs']} architectures the evolution scored, spread "
                      f"over its fitness range, scored on the {r['sampled_users']:,} sampled validation users the "
                      f"search uses and on all {r['full_users']:,}: Kendall tau {r['kendall_tau']} (90% bootstrap "
                      f"{r['tau_interval_90']}), same best: {r['same_best']}, largest gap {r['max_abs_gap']} R@50."]
    return "\n".join(lines) + "\n"


register("scale", "the whole pipeline at Amazon Books size: load, search, retrain, full-ranking eval, agreement")

if __name__ == "__main__":
    main()
