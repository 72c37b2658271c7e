"""Benchmark: weight decay learned by hypergradient vs tuned by Optuna, on the same number of training runs.

The model is the in-budget GoogleDNN of budget L on the embedded dataset, at the size the default sizing picks
(chosen once on validation and cached), so weight decay is the only thing that changes. Each arm gets
``--runs`` full retrains (``retrain`` schedule, early stopping on validation) on the selection seed 0 and keeps
the one best on validation:

- ``optuna``: a seeded TPE study over ``retrain.weight_decay`` (log-uniform 1e-5 .. 0.3; AdamW's decoupled decay);
- ``hypergradient``: ``retrain.learn_weight_decay`` started from log-spaced values over the same range
  (``towernas.train.weight_decay``: a one-step hypergradient on validation every ``decay_every`` steps).

Then the winner of each arm and the defaults (no decay) are retrained on fresh seeds (``--confirm``, default
1,2,3): validation and test R@50, mean ± std, test read once per model and seed. Seconds are reported per arm,
since a hypergradient run costs more than a plain one.

Run: ``python -m benchmarks.bench_tuning [--runs 6] [--confirm 1,2,3]``; finished runs are kept in
``bench_results/tuning-runs/runs.jsonl`` (a rerun resumes); writes ``bench_results/tuning.{json,md}``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from benchmarks.common import JsonlCache, compose, int_list, markdown_table, register, write_report

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench_results"
RUNS = OUT / "tuning-runs" / "runs.jsonl"
LOW, HIGH = 1e-5, 0.3


def config(extra: tuple[str, ...] = ()):
    overrides = ["dataset=synthetic", "budget=L", "progress=false", "tracking.wandb=false", "retrain.export=false",
                 *extra]
    return compose(*overrides, config="retrain")


def overrides_of(arm: str, value: float | None) -> tuple[str, ...]:
    if arm == "defaults":
        return ()
    out = (f"retrain.weight_decay={value}",)
    return out + (("retrain.learn_weight_decay=true",) if arm == "hypergradient" else ())


class Runner:
    """Retrains GoogleDNN-L at one (arm, value, seed); every finished run is appended to ``RUNS``."""

    def __init__(self) -> None:
        from towernas.data import load_dataset
        from towernas.retrain import Candidate
        from towernas.runs.device import resolve_device

        from benchmarks.bench_addons import google_dnn_size

        self.device = resolve_device("auto")
        self.data = load_dataset(config().dataset, progress=False)
        self.candidate = Candidate("google_dnn", baseline="google_dnn", size=google_dnn_size(self.data, self.device))
        self.done = JsonlCache(RUNS, ("arm", "value", "seed"))

    def __call__(self, arm: str, value: float | None, seed: int) -> dict:
        key = (arm, value, seed)
        if key in self.done:
            return self.done.get(key)
        from towernas.retrain import retrain_one
        from towernas.runs.tracking import Tracker

        tracker = Tracker(OUT / "tuning-runs" / "logs" / f"{arm}-{value}-{seed}", use_wandb=False)
        start = time.perf_counter()
        try:
            _, record = retrain_one(self.candidate, self.data, config(overrides_of(arm, value)), seed, self.device,
                                    tracker)
        finally:
            tracker.close()
        out = {"arm": arm, "value": value, "seed": seed, "valid": record["valid"]["recall@50"],
               "test": record["test"]["recall@50"], "best_epoch": record["best_epoch"],
               "learned": record["valid"].get("weight_decay"), "seconds": time.perf_counter() - start}
        self.done.add(out)
        print(f"{arm} {value} seed {seed}: valid R@50 {out['valid']:.4f} ({out['seconds']:.0f}s)"
              + (f", learned decay {out['learned']:.2e}" if out["learned"] else ""), flush=True)
        return out


def optuna_values(run, n: int) -> list[dict]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=0, n_startup_trials=3))
    records = []
    for _ in range(n):
        trial = study.ask()
        record = run("optuna", trial.suggest_float("weight_decay", LOW, HIGH, log=True), 0)
        study.tell(trial, record["valid"])
        records.append(record)
    return records


def summarise(records: list[dict]) -> dict:
    valid, test = np.array([r["valid"] for r in records]), np.array([r["test"] for r in records])
    return {"n": len(records), "valid": float(valid.mean()), "valid_std": float(valid.std(ddof=1)) if len(valid) > 1 else 0.0,
            "test": float(test.mean()), "test_std": float(test.std(ddof=1)) if len(test) > 1 else 0.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=6, help="training runs per arm on the selection seed")
    parser.add_argument("--confirm", default="1,2,3", type=int_list, help="fresh seeds the winners are retrained on")
    args = parser.parse_args()
    confirm = args.confirm
    run = Runner()
    arms = {"defaults": [run("defaults", None, 0)], "optuna": optuna_values(run, args.runs),
            "hypergradient": [run("hypergradient", float(v), 0)
                              for v in np.geomspace(LOW, HIGH, args.runs).round(8)]}
    result = {"model": "google_dnn (in budget L, size " + run.candidate.size.label + ")", "runs_per_arm": args.runs,
              "confirm_seeds": confirm, "arms": {}}
    for arm, records in arms.items():
        best = max(records, key=lambda r: r["valid"])
        confirmed = [run(arm, best["value"], seed) for seed in confirm]
        result["arms"][arm] = {"selection_runs": records, "chosen": best["value"], "chosen_valid_seed0": best["valid"],
                               "seconds": sum(r["seconds"] for r in records), "confirm": summarise(confirmed),
                               "confirm_runs": confirmed,
                               "learned_at_best_epoch": [r["learned"] for r in confirmed] if arm == "hypergradient" else None}
    write_report(OUT, "tuning", result, markdown(result), echo=True)


def markdown(result: dict) -> str:
    lines = [f"# Weight decay: hypergradient vs Optuna, {result['model']}", "",
             f"{result['runs_per_arm']} training runs per arm on seed 0 (validation only), the best retrained on "
             f"seeds {result['confirm_seeds']}. `python -m benchmarks.bench_tuning`.", ""]
    rows = []
    for arm, a in result["arms"].items():
        c = a["confirm"]
        chosen = "0 (Adam)" if a["chosen"] is None else f"{a['chosen']:.2e}"
        if a["learned_at_best_epoch"]:
            chosen += " → learned " + ", ".join(f"{v:.1e}" for v in a["learned_at_best_epoch"])
        rows.append([arm, chosen, f"{a['chosen_valid_seed0']:.4f}", f"{a['seconds']:.0f}",
                     f"{c['valid']:.4f} ± {c['valid_std']:.4f}", f"{c['test']:.4f} ± {c['test_std']:.4f}"])
    lines.append(markdown_table(["arm", "chosen weight decay (start, for hypergradient)", "seed-0 valid R@50",
                                 "seconds (selection)", "valid R@50, fresh seeds", "test R@50, fresh seeds"], rows))
    return "\n".join(lines) + "\n"


register("tuning", "weight decay learned by hypergradient vs tuned by Optuna on as many GoogleDNN-L retrains")

if __name__ == "__main__":
    main()
