"""``make bench-ctr`` / ``make bench-rating``: which rankers and ranker inputs do best on the CTR task or the rating
task (``--task rating``) of a dataset, measured against seed noise.

    python -m benchmarks.bench_ctr [--task ctr|rating] [--dataset ml-100k] [--seeds 0,1,2]
                                   [--rankers fm,din,deepfm]
                                   [--setups default,neighbour_rating,rated | --setup NAME=KEY=VALUE[;...] ...]
                                   [--out bench_results] [--quick]

Every (setup, ranker) is a ``towernas.rank`` run over ``--seeds``; a setup is a set of overrides (a key without a
dot is ``rank.<key>``). The default setups:

- ``default``: the defaults (the user's mean rating, the five default pair features);
- ``neighbour_rating``: the same plus the ``neighbour_rating`` pair feature (how the user rated the candidate's
  co-occurring items);
- ``rated``: ``rank.ratings=rated`` (DIN also attends over the user's latest rated train items; the other rankers
  read what ``mean`` gives them, so their rows equal ``default``'s).

The first setup is the reference: every other row reports its paired change (same ranker, same seed) in
validation and test AUC (rating: RMSE, lower is better), mean ± std over seeds, beside the reference's own seed
std (the noise level). Test is reported, never selected on: a setup is better only if validation says so on
every dataset. The rating task's table starts with the train mean's own RMSE (no model). Runs are kept in
``<out>/<task>-runs/<dataset>/<setup>-<ranker>/`` and resume per seed. Writes ``<out>/<task>-<dataset>.{json,md}``.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from benchmarks.common import benchmark_parser, chosen_setups, compose, register, setup_options, write_report
from towernas.runs.seeds import mean_std
from towernas.runs.tables import markdown, mean_std_text

SETUPS = {
    "default": [],
    "neighbour_rating": ["rank.pair_features=[popularity,cooccurrence,category,item_rating,trend,neighbour_rating]"],
    "rated": ["rank.ratings=rated"],
}
QUICK = ["rank.max_epochs=2", "rank.patience=1", "rank.batch_size=256"]  # --quick: seconds on the tiny dataset
METRICS = {"ctr": ("auc", "gauc"), "rating": ("rmse", "mae")}  # per task: the selected metric, and a second one


def summarise(results: dict, task: str) -> dict:
    """One (setup, ranker) run: per seed, the validation and test values of the task's metric, the second
    metric on test and the best epoch."""
    first, second = METRICS[task]
    records = sorted(results["records"], key=lambda r: r["seed"])
    return {"seeds": [r["seed"] for r in records], "best_epochs": [r["best_epoch"] for r in records],
            "valid": [r["valid"][first] for r in records], "test": [r["test"][first] for r in records],
            "test_second": [r["test"][second] for r in records],
            "flops_per_pair": records[0]["cost"]["flops_per_pair"],
            **({"train_mean": results["train_mean"]} if "train_mean" in results else {})}


def run(args) -> dict:
    from towernas.rank import run_rank

    root = Path(args.out) / f"{args.task}-runs" / args.dataset
    rows = []
    for name, overrides in args.chosen.items():
        for ranker in args.rankers:
            started = time.perf_counter()
            seeds = ",".join(map(str, args.seeds))
            cfg = compose(f"dataset={args.dataset}", f"ranker={ranker}", f"rank.seeds=[{seeds}]", "progress=false",
                          "device=cpu", f"rank.task={args.task}", *(QUICK if args.quick else []), *overrides,
                          config="rank")
            rows.append({"setup": name, "ranker": ranker, "overrides": overrides,
                         **summarise(run_rank(cfg, root / f"{name}-{ranker}"), args.task),
                         "seconds": time.perf_counter() - started})
            print(f"{name} {ranker}: valid {np.mean(rows[-1]['valid']):.4f} test {np.mean(rows[-1]['test']):.4f}",
                  flush=True)
    return {"task": args.task, "dataset": args.dataset, "seeds": args.seeds, "rows": rows}


def _mean_std(values) -> str:
    return mean_std_text(*mean_std(values))


def _change(values, reference) -> str:
    mean, std = mean_std(list(np.asarray(values) - np.asarray(reference)))
    return f"{mean:+.4f} ± {std:.4f}"


def report(out: dict) -> str:
    task = out.get("task", "ctr")
    first, second = (m.upper() if m != "gauc" else "GAUC" for m in METRICS[task])
    reference_setup = out["rows"][0]["setup"]
    reference = {r["ranker"]: r for r in out["rows"] if r["setup"] == reference_setup}
    header = ["setup", "ranker", f"valid {first}", f"test {first}", "Δ valid (paired)", "Δ test (paired)",
              f"test {second}", "best epochs", "FLOPs/pair"]
    mean = out["rows"][0].get("train_mean")
    lines = [["–", "(train mean, no model)", f"{mean['valid']['rmse']:.4f}", f"{mean['test']['rmse']:.4f}", "–",
              "–", f"{mean['test']['mae']:.4f}", "–", "0"]] if mean else []
    for r in out["rows"]:
        ref = reference[r["ranker"]]
        paired = r["setup"] != reference_setup and ref["seeds"] == r["seeds"]
        lines.append([r["setup"], r["ranker"], _mean_std(r["valid"]), _mean_std(r["test"]),
                      _change(r["valid"], ref["valid"]) if paired else "–",
                      _change(r["test"], ref["test"]) if paired else "–", _mean_std(r["test_second"]),
                      ",".join(map(str, r["best_epochs"])), f"{r['flops_per_pair']:,}"])
    title = "CTR inputs" if task == "ctr" else "Rating prediction (RMSE/MAE: lower is better)"
    return (f"# {title} on {out['dataset']} (seeds {out['seeds']}; {first} mean ± sample std over seeds; Δ: the "
            f"paired change against `{reference_setup}`, same ranker and seed)\n\n" + markdown(header, lines)
            + "\n\nSetups: "
            + "; ".join(f"`{name}`: {' '.join(r['overrides']) or 'the defaults'}"
                        for name, r in {r["setup"]: r for r in out["rows"]}.items()) + "\n")


def main(argv=None) -> None:
    parser = benchmark_parser(__doc__, dataset="ml-100k", quick="tiny schedules (for tests)")
    parser.add_argument("--task", choices=sorted(METRICS), default="ctr", help="rank.task of every run")
    setup_options(parser, SETUPS, rankers="fm,din,deepfm")
    args = parser.parse_args(argv)
    args.chosen = chosen_setups(parser, args, SETUPS, "rank")
    out = run(args)
    write_report(args.out, f"{args.task}-{args.dataset}", out, report(out), echo=True)


register("ctr", "which rankers and ranker inputs do best on the CTR task or (--task rating) on explicit ratings, "
              "against seed noise?")

if __name__ == "__main__":
    main()
