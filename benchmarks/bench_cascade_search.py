"""``make bench-cascade-search``: the joint search of K0 and the ranker against the best hand-built cascade, at that
cascade's FLOPs per request.

    python -m benchmarks.bench_cascade_search [--dataset ml-100k] [--seeds 0,1,2] [--flops N]
                                              [--k0 10,20,50,100,200] [--out bench_results] [--quick]
                                              [--override KEY=VALUE ...]

The hand-built side is ``make bench-cascade-front``'s ``<out>/cascade-front-<dataset>.json`` (run it first): its
point best on validation is the best hand-built cascade, and its FLOPs per request are the budget (``--flops``
sets another; the hand-built point compared is then the best on validation within it). Stage 1 is the same
retriever artifact (``bench_cascade.retriever``). One ``python -m towernas.search task=cascade`` per seed of
``--seeds`` (``<out>/cascade-search-runs/<dataset>/seed<s>``, each resumable) chooses its cascade on validation;
the report sets its test N@10 (mean ± std over the searches) beside the hand-built one's (over its seeds), with the
difference and both stds (the noise level). An embedded set is generated from the config's seed: every search reads
the data of seed 0, the retriever's, and its own seed varies the supernet, the evolution and the trainings. Writes
``<out>/cascade-search-<dataset>.{json,md}``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from benchmarks.bench_cascade import retriever
from benchmarks.common import benchmark_parser, compose, int_list, register, write_report

QUICK_SEARCH = ["cascade.train_queries=600", "cascade.max_epochs=2", "cascade.patience=1", "cascade.k1=20",
                "ranker_search.supernet_epochs=2", "ranker_search.monitor_paths=2", "ranker_search.finetune_steps=3",
                "ranker_search.final_candidates=2", "ranker_search.space.depth=2", "ranker_search.space.embed=4",
                "ranker_search.space.block=4", "search.population=6", "search.generations=2"]


def hand_built(front: dict, flops: int | None) -> dict:
    """The front's point best on validation within ``flops`` (all points when None), the retriever alone aside."""
    points = [p for p in front["points"] if p["name"] != "retriever alone"
              and (flops is None or p["cost"]["flops"] <= flops)]
    if not points:
        raise SystemExit(f"no hand-built cascade of the front costs <= {flops} FLOPs per request")
    return max(points, key=lambda p: p["valid"]["ndcg@10"])


def run(args) -> dict:
    from towernas.search.cascade import run_cascade_search

    path = Path(args.out) / f"cascade-front-{args.dataset}.json"
    if not path.exists():
        raise SystemExit(f"{path}: missing; run `make bench-cascade-front ARGS=\"--dataset {args.dataset}\"` first "
                         "(the hand-built cascades this benchmark compares with)")
    front = json.loads(path.read_text())
    reference = hand_built(front, args.flops)
    flops = args.flops or reference["cost"]["flops"]
    artifact = retriever(args.dataset, Path(args.out) / "cascade-runs" / args.dataset, args.quick)
    started, searches = time.perf_counter(), []
    for seed in args.seeds:
        cfg = compose(f"dataset={args.dataset}", f"cascade.retriever={artifact}", f"cascade_search.flops={flops}",
                      f"cascade_search.k0s=[{','.join(map(str, args.k0))}]", f"seed={seed}", "progress=false",
                      "device=cpu", *(QUICK_SEARCH if args.quick else []), *args.override, config="search_cascade")
        if "seed" in (cfg.dataset.options or {}):  # an embedded set is generated from the seed: keep the retriever's
            cfg.dataset.options.seed = 0  # data (bench_cascade.retriever's, seed 0); the search's seed varies the rest
        summary = run_cascade_search(cfg, Path(args.out) / "cascade-search-runs" / args.dataset / f"seed{seed}")
        best = summary["best"]
        searches.append({"seed": seed, "k0": best["k0"], "path": best["path"], "hand_built": best["hand_built"],
                         "cost": best["cost"], "valid": best["valid"]["ndcg@10"], "test": best["test"]["ndcg@10"],
                         "finalists": len({tuple(p["path"]) for p in summary["points"]}),
                         "unique_evaluations": summary["search"]["unique_evaluations"]})
        print(f"seed {seed}: K0={best['k0']} {' '.join(best['path'])}: valid {searches[-1]['valid']:.4f} "
              f"test {searches[-1]['test']:.4f}", flush=True)
    tests = [s["test"] for s in searches]
    return {"dataset": args.dataset, "seeds": args.seeds, "k0": args.k0, "flops_per_request": flops,
            "retriever_dir": str(artifact), "overrides": args.override, "searches": searches,
            "searched": {"test": float(np.mean(tests)), "test_std": float(np.std(tests)),
                         "valid": float(np.mean([s["valid"] for s in searches]))},
            "hand_built": {"name": reference["name"], "k0": reference["k0"], "cost": reference["cost"],
                           "test": reference["test"]["ndcg@10"], "test_std": reference["test"].get("ndcg@10_std", 0.0),
                           "valid": reference["valid"]["ndcg@10"]},
            "seconds": round(time.perf_counter() - started, 1)}


def report(out: dict) -> str:
    from towernas.runs.tables import markdown

    s, h = out["searched"], out["hand_built"]
    rows = [[f"seed {r['seed']}", str(r["k0"]), " ".join(r["path"]) + (" (hand-built)" if r["hand_built"] else ""),
             f"{r['cost']['flops']:,}", f"{r['valid']:.4f}", f"{r['test']:.4f}"] for r in out["searches"]]
    rows.append([f"best hand-built: {h['name']}", str(h["k0"]), "–", f"{h['cost']['flops']:,}", f"{h['valid']:.4f}",
                 f"{h['test']:.4f} ± {h['test_std']:.4f}"])
    table = markdown(["cascade", "K0", "ranker path", "FLOPs / request", "valid N@10", "test N@10"], rows)
    return (f"# Joint search of K0 and the ranker on {out['dataset']} at {out['flops_per_request']:,} FLOPs per "
            f"request\n\n{table}\n\nSearched (chosen on validation, {len(out['searches'])} searches): test N@10 "
            f"{s['test']:.4f} ± {s['test_std']:.4f}; best hand-built {h['test']:.4f} ± {h['test_std']:.4f}; "
            f"difference {s['test'] - h['test']:+.4f} (the stds are the noise level).\n")


def main(argv=None) -> dict:
    parser = benchmark_parser(__doc__, dataset="ml-100k", override=True, quick="tiny schedules (for tests)")
    parser.add_argument("--seeds", type=int_list, default=[0, 1, 2])
    parser.add_argument("--flops", type=int, default=None,
                        help="FLOPs per request (default: the best hand-built cascade's)")
    parser.add_argument("--k0", type=int_list, default=[10, 20, 50, 100, 200], help="the list lengths to choose from")
    args = parser.parse_args(argv)
    if args.quick:
        args.dataset = "synthetic-tiny"
    out = run(args)
    write_report(args.out, f"cascade-search-{args.dataset}", out, report(out), echo=True)
    return out


register("cascade_search", "does the joint search of K0 and the ranker beat the best hand-built cascade at its cost?")

if __name__ == "__main__":
    main()
