"""``make bench-cascade``: does the cascade's second stage help on a dataset, and which ranker training does?

    python -m benchmarks.bench_cascade [--dataset ml-100k] [--seeds 0,1,2] [--rankers lr,deepfm,din]
                                       [--setups previous,in_sample,time_split | --setup NAME=KEY=VALUE[;...] ...]
                                       [--out bench_results] [--quick]

Stage 1 is the in-budget BST sized and trained by ``towernas.retrain`` (seed 0; the retrieval issue's best on
validation), exported once per dataset. Every (setup, ranker) is a ``towernas.cascade`` run over ``--seeds``
(negatives ``top_random``); a setup is a set of ``cascade.*`` overrides. The default setups:

- ``previous``: the defaults before this benchmark (in-sample training lists, lr 1e-3, no rating inputs, no pair
  features);
- ``in_sample``: in-sample lists with the rankers' new inputs (the user's mean rating, every pair feature) at lr 1e-4;
- ``time_split``: out-of-sample lists (a retriever refitted on the earlier 80% of each user's train, one query
  before every held-out item) with the same inputs.

Runs are kept in ``<out>/cascade-runs/<dataset>/`` and resume (a cascade run resumes per ranker x seed). The
report gives, per setup and ranker, validation and test N@10 of the reranked list (mean ± std over seeds), the
test change against the retriever alone, the best epochs (0 = the retriever's order), what limits it (the
oracle N@10 of stage 1's list) and the milliseconds per 1,000 users of the ranker stage. A setup becomes the
default only if it is best on validation on both datasets; test is reported, never selected on. Writes
``<out>/cascade-<dataset>.{json,md}``.
"""

from __future__ import annotations

import time
from pathlib import Path

from benchmarks.common import benchmark_parser, chosen_setups, compose, register, setup_options, write_report
from towernas.runs.tables import delta_pct, markdown

FEATURES = "[retriever,popularity,cooccurrence,category,item_rating,trend]"
SETUPS = {
    "previous": ["cascade.train_lists=in_sample", "cascade.lr=0.001", "cascade.ratings=none",
                 "cascade.pair_features=[]"],
    "in_sample": ["cascade.train_lists=in_sample", "cascade.lr=0.0001", "cascade.ratings=mean",
                  f"cascade.pair_features={FEATURES}"],
    "time_split": ["cascade.train_lists=time_split", "cascade.window_anchor=each", "cascade.lr=0.0001",
                   "cascade.ratings=mean", f"cascade.pair_features={FEATURES}"],
}


QUICK = {"retrain": ["retrain.max_epochs=2", "retrain.sizing_epochs=1", "retrain.batch_size=128"],
         "cascade": ["cascade.max_epochs=2", "cascade.k0=40", "cascade.k1=20", "cascade.train_queries=600",
                     "cascade.patience=1"]}  # --quick: seconds on the tiny dataset (the tests)


def retriever(dataset: str, root: Path, quick: bool = False) -> Path:
    """The dataset's stage 1: ``retrain`` of the in-budget BST (seed 0), exported once and reused."""
    from towernas.retrain import run_retrain

    run = root / "retriever"
    if not (run / "retriever" / "meta.json").exists():
        run_retrain(compose(f"dataset={dataset}", "retrain.baselines=[bst]", "retrain.seeds=[0]", "progress=false",
                            "device=cpu", *(QUICK["retrain"] if quick else []), config="retrain"), run)
    return run / "retriever"


def summarise(results: dict) -> dict:
    """One (setup, ranker) run's numbers: the retriever alone and the pipeline, each split's N@10."""
    alone = results["retriever"][0]
    [pipeline] = [p for p in results["pipelines"] if p["joint"] == "none"]
    last = pipeline["stages"][-1]
    epochs = [r["best_epoch"] for r in results["records"] if r["joint"] == "none"]
    return {"retriever": {s: alone[s]["ndcg@10"] for s in ("valid", "test")},
            "oracle": alone["test"]["oracle_ndcg@10"], "reachable": alone["test"]["reachable_share"],
            "valid": last["valid"]["ndcg@10"], "valid_std": last["valid"]["ndcg@10_std"],
            "test": last["test"]["ndcg@10"], "test_std": last["test"]["ndcg@10_std"],
            "best_epochs": epochs, "seeds": pipeline["seeds"],
            "ms_per_1000_users": 1000 * last["test"]["seconds_per_1000_users"]}


def run(args) -> dict:
    from towernas.cascade.run import run_cascade

    root = Path(args.out) / "cascade-runs" / args.dataset
    artifact = retriever(args.dataset, root, args.quick)
    rows = []
    for name, overrides in args.chosen.items():
        for ranker in args.rankers:
            started = time.perf_counter()
            cfg = compose(f"dataset={args.dataset}", f"ranker={ranker}", f"cascade.rankers=[{ranker}]",
                          f"cascade.retriever={artifact}", "cascade.negatives=[top_random]",
                          f"cascade.seeds=[{','.join(map(str, args.seeds))}]", "cascade.export=false",
                          "progress=false", "device=cpu", *(QUICK["cascade"] if args.quick else []), *overrides,
                          config="cascade")
            results = run_cascade(cfg, root / f"{name}-{ranker}")
            rows.append({"setup": name, "ranker": ranker, "overrides": overrides, **summarise(results),
                         "seconds": time.perf_counter() - started})
            print(f"{name} {ranker}: valid {rows[-1]['valid']:.4f} test {rows[-1]['test']:.4f}", flush=True)
    return {"dataset": args.dataset, "seeds": args.seeds, "retriever_dir": str(artifact), "rows": rows}


def report(out: dict) -> str:
    base = out["rows"][0]["retriever"]
    header = ["setup", "ranker", "valid N@10", "test N@10", "Δ test vs retriever", "best epochs", "ms / 1k users"]
    lines = [["retriever alone", "–", f"{base['valid']:.4f}", f"{base['test']:.4f}", "–", "–", "–"]]
    for r in out["rows"]:
        delta = delta_pct(r["test"], r["retriever"]["test"])
        lines.append([r["setup"], r["ranker"], f"{r['valid']:.4f} ± {r['valid_std']:.4f}",
                      f"{r['test']:.4f} ± {r['test_std']:.4f}", f"{delta:+.1f}%", ",".join(map(str, r["best_epochs"])),
                      f"{r['ms_per_1000_users']:.0f}"])
    first = out["rows"][0]
    return (f"# Cascade on {out['dataset']} (seeds {out['seeds']}; stage 1: in-budget BST, "
            f"oracle N@10 of its top-200 {first['oracle']:.3f}, lists with a target {first['reachable']:.3f})\n\n"
            + markdown(header, lines) + "\n\nSetups: " + "; ".join(
                f"`{name}`: {' '.join(r['overrides'])}" for name, r in
                {r["setup"]: r for r in out["rows"]}.items()) + "\n")


def main(argv=None) -> None:
    parser = benchmark_parser(__doc__, dataset="ml-100k", quick="tiny schedules (for tests)")
    setup_options(parser, SETUPS, rankers="lr,deepfm,din")
    args = parser.parse_args(argv)
    args.chosen = chosen_setups(parser, args, SETUPS, "cascade")
    out = run(args)
    write_report(args.out, f"cascade-{args.dataset}", out, report(out), echo=True)


register("cascade", "does the cascade's ranker help, and which ranker training (lists, inputs) does?")

if __name__ == "__main__":
    main()
