"""Benchmark: does the GoogleDNN sweep recipe beat GoogleDNN's defaults, on validation and on fresh seeds?

1. ``python -m towernas.retrain -m -cd recipes +tune=retrain-google_dnn`` (budget L on the embedded dataset, 20
   TPE trials, each trial sizing GoogleDNN under its hyperparameters and training seed 0; the study is stored in
   ``outputs/sweeps/``, so a rerun resumes it and a finished one runs nothing).
2. The defaults and the sweep's best trial, each retrained (sizing included) on fresh training seeds
   (``--confirm``, default 1,2,3): validation R@50 (what the sweep optimised) and test R@50 (read once per model
   and seed), mean ± std. Seed 0's validation is what the sweep saw; the fresh seeds say how much of its gain
   is winner's curse.

Run: ``python -m benchmarks.bench_sweep [--trials 20] [--confirm 1,2,3]`` from the repository root;
writes ``bench_results/sweep-google_dnn.{json,md}``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from benchmarks.common import markdown_table, register, write_report

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench_results"
STUDY = "retrain-google_dnn-synthetic-L"


def retrain(args: list[str], run_dir: Path) -> dict:
    """Results of ``towernas.retrain`` with ``args`` in ``run_dir`` (run unless its results exist)."""
    results = run_dir / "results.json"
    if not results.exists():
        env = {**os.environ, "WANDB_MODE": "disabled"}
        subprocess.run([sys.executable, "-m", "towernas.retrain", "dataset=synthetic", "budget=L", "progress=false",
                        "retrain.export=false", "retrain.baselines=[google_dnn]", *args, f"hydra.run.dir={run_dir}"],
                       check=True, cwd=ROOT, env=env)
    return json.loads(results.read_text())


def summary(results: dict) -> dict:
    records = results["records"]
    valid = np.array([r["valid"]["recall@50"] for r in records])
    test = np.array([r["test"]["recall@50"] for r in records])
    return {"size": records[0]["size"], "seeds": [r["seed"] for r in records],
            "valid": float(valid.mean()), "valid_std": float(valid.std(ddof=1)) if len(valid) > 1 else 0.0,
            "test": float(test.mean()), "test_std": float(test.std(ddof=1)) if len(test) > 1 else 0.0,
            "valid_per_seed": valid.tolist(), "test_per_seed": test.tolist()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--confirm", default="1,2,3")
    args = parser.parse_args()
    env = {**os.environ, "WANDB_MODE": "disabled"}
    subprocess.run([sys.executable, "-m", "towernas.retrain", "-m", "-cd", "recipes", "+tune=retrain-google_dnn",
                    "progress=false", f"hydra.sweeper.n_trials={args.trials}"], check=True, cwd=ROOT, env=env)
    import optuna

    study = optuna.load_study(study_name=STUDY, storage=f"sqlite:///{ROOT}/outputs/sweeps/{STUDY}.db")
    trials = [t for t in study.trials if t.state.name == "COMPLETE"]
    best = study.best_trial
    overrides = [f"{k}={v}" for k, v in sorted(best.params.items())]
    tag = hashlib.sha256(" ".join(overrides).encode()).hexdigest()[:8]
    seeds = f"[{args.confirm}]"
    runs = ROOT / "outputs" / "sweep-confirm"
    default0 = summary(retrain(["retrain.seeds=[0]"], runs / "default-seed0"))
    default = summary(retrain([f"retrain.seeds={seeds}"], runs / "default"))
    tuned = summary(retrain([f"retrain.seeds={seeds}", *overrides], runs / f"tuned-{tag}"))
    result = {"study": STUDY, "trials": [{"number": t.number, "params": t.params, "value": t.value} for t in trials],
              "best": {"params": best.params, "value": best.value}, "defaults_seed0": default0,
              "confirm_seeds": args.confirm, "defaults": default, "tuned": tuned,
              "delta_valid": tuned["valid"] - default["valid"], "delta_test": tuned["test"] - default["test"]}
    write_report(OUT, "sweep-google_dnn", result, markdown(result), echo=True)


def markdown(r: dict) -> str:
    values = sorted(t["value"] for t in r["trials"])
    lines = [f"# Sweep recipe `retrain-google_dnn` (budget L, embedded dataset): {len(r['trials'])} TPE trials", "",
             f"Trials' validation R@50 (seed 0): min {values[0]:.4f}, median {values[len(values) // 2]:.4f}, "
             f"max {values[-1]:.4f}. Defaults on seed 0: {r['defaults_seed0']['valid']:.4f}.", "",
             "Best trial: " + ", ".join(f"`{k}={v:.4g}`" for k, v in sorted(r["best"]["params"].items())), "",
             markdown_table(["config", "size", "seed-0 valid R@50 (what the sweep saw)",
                             f"valid R@50, seeds {r['confirm_seeds']}", f"test R@50, seeds {r['confirm_seeds']}"],
                            [[label, s["size"], f"{seed0:.4f}", f"{s['valid']:.4f} ± {s['valid_std']:.4f}",
                              f"{s['test']:.4f} ± {s['test_std']:.4f}"]
                             for label, s, seed0 in (("defaults", r["defaults"], r["defaults_seed0"]["valid"]),
                                                     ("sweep's best", r["tuned"], r["best"]["value"]))]), "",
             f"Δ on the fresh seeds: validation {r['delta_valid']:+.4f}, test {r['delta_test']:+.4f}.", ""]
    return "\n".join(lines)


register("sweep", "the GoogleDNN-L sweep recipe (20 TPE trials) confirmed on fresh seeds vs the defaults")

if __name__ == "__main__":
    main()
