"""``make bench-cascade-front``: the hand-built cascades' quality against what a request costs.

    python -m benchmarks.bench_cascade_front [--dataset ml-100k] [--seeds 0,1,2] [--rankers lr,fm,deepfm,din]
                                             [--k0 20,50,100,200] [--out bench_results] [--quick]
                                             [--override KEY=VALUE ...]

Stage 1 is ``make bench-cascade``'s (the in-budget BST trained by ``towernas.retrain``, seed 0, exported once per
dataset and shared with it). One ``towernas.cascade`` run trains every ranker of ``--rankers`` on the retriever's
lists (the cascade's defaults, negatives ``top_random``, every seed of ``--seeds``, trained at the largest K0) and
serves each at every K0 of ``--k0`` (``cascade.k0_sweep``, ``towernas.cascade.sweep``): the retriever's top-K0
reranked, with the request's FLOPs counted (user tower + exact search + the ranker on K0 candidates) and its
milliseconds measured. The front is chosen on validation (no point has a higher validation N@10 at no more
FLOPs); test is reported beside it. The run directory ``<out>/cascade-front-runs/<dataset>/`` resumes per ranker
and seed, and ``python -m towernas.report --html <dir> <run dir>`` draws its figure in the leaderboard. Writes
``<out>/cascade-front-<dataset>.{json,md}``.
"""

from __future__ import annotations

import time
from pathlib import Path

from benchmarks.bench_cascade import QUICK, retriever
from benchmarks.common import benchmark_parser, compose, int_list, register, write_report


def run(args) -> dict:
    from towernas.cascade.run import run_cascade

    artifact = retriever(args.dataset, Path(args.out) / "cascade-runs" / args.dataset, args.quick)
    started = time.perf_counter()
    cfg = compose(f"dataset={args.dataset}", f"cascade.rankers=[{','.join(args.rankers)}]",
                  f"cascade.retriever={artifact}", "cascade.negatives=[top_random]", f"cascade.k0={max(args.k0)}",
                  f"cascade.k0_sweep=[{','.join(map(str, args.k0))}]",
                  f"cascade.seeds=[{','.join(map(str, args.seeds))}]", "cascade.export=false", "progress=false",
                  "device=cpu", *(QUICK["cascade"] if args.quick else []), *args.override, config="cascade")
    run_dir = Path(args.out) / "cascade-front-runs" / args.dataset
    results = run_cascade(cfg, run_dir)
    return {"dataset": args.dataset, "seeds": args.seeds, "rankers": args.rankers, "k0": args.k0,
            "retriever_dir": str(artifact), "run_dir": str(run_dir), "points": results["sweep"],
            "seconds": round(time.perf_counter() - started, 1)}


def report(out: dict) -> str:
    from towernas.cascade.sweep import sweep_table

    best = max(out["points"], key=lambda p: p["valid"]["ndcg@10"])
    return (f"# Cascade quality vs FLOPs per request on {out['dataset']} (seeds {out['seeds']}; stage 1: in-budget "
            f"BST; rankers trained on its top-{max(out['k0'])})\n\n" + sweep_table(out["points"])
            + f"\n\nBest on validation: {best['name']} at K0={best['k0']} ({best['cost']['flops']:,} FLOPs per "
            f"request). The figure: `python -m towernas.report --html site {out['run_dir']}`.\n")


def main(argv=None) -> dict:
    parser = benchmark_parser(__doc__, dataset="ml-100k", override=True, quick="tiny schedules (for tests)")
    parser.add_argument("--seeds", type=int_list, default=[0, 1, 2])
    parser.add_argument("--rankers", type=lambda text: text.split(","), default=["lr", "fm", "deepfm", "din"])
    parser.add_argument("--k0", type=int_list, default=[20, 50, 100, 200],
                        help="the list lengths to serve every ranker at (the rankers train on the largest)")
    args = parser.parse_args(argv)
    if args.quick:
        args.dataset = "synthetic-tiny"
    out = run(args)
    write_report(args.out, f"cascade-front-{args.dataset}", out, report(out), echo=True)
    return out


register("cascade_front", "how much does each hand-built cascade gain per FLOP of a request, at which K0?")

if __name__ == "__main__":
    main()
