"""Benchmark: supernet training speed and loss at each ``precision`` (fp32, bf16, fp16) on this machine.

The supernet is the search's dominant cost (``bench_results/scale.md``). Each precision trains the same
supernet (same initial weights, seed, path sequence and batches) for ``--steps`` SPOS steps on
``--dataset`` (default ``synthetic-amazon``, the paper-sized set: 160k-item tables) with ``profile=paper``'s
space and batch; reported: steps/s after a warm-up (median of ``--repeats`` interleaved runs, so background
load hits every precision alike) and the mean loss of the last 100 steps against fp32's. On CPU, bf16 and
fp16 autocast pay off only where the CPU has the instructions (AVX512-BF16 / AMX); on CUDA use
``--device cuda``.

Run: ``python -m benchmarks.bench_precision [--dataset synthetic] [--steps 400] [--repeats 2] [--device cpu]``;
writes ``bench_results/precision.{json,md}``.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks.common import compose, register, write_report

OUT = Path(__file__).resolve().parent.parent / "bench_results"
PRECISIONS = ("fp32", "bf16", "fp16")
WARMUP = 50


def one_run(data, cfg, precision: str, steps: int, device: str) -> dict:
    from supernet import Supernet, SupernetDivergedError, train_supernet
    from towernas.train.settings import SupernetSettings
    from towernas.data.spec import DatasetSpec
    from towernas.space.arch_space import ArchSpace

    torch.manual_seed(cfg.seed)
    net = Supernet.from_space(DatasetSpec.from_data(data), ArchSpace.from_config(cfg.space))
    marks: dict[int, float] = {}

    def log(record: dict) -> None:
        if "loss" in record:
            marks[record["step"]] = time.perf_counter()

    sn = cfg.supernet
    try:
        settings = SupernetSettings(steps=steps, batch_size=sn.batch_size, lr=sn.lr, temperature=sn.temperature,
                                    seed=cfg.seed, log_every=WARMUP, embedding_decay=sn.embedding_decay,
                                    precision=precision)
        out = train_supernet(net, data, settings, device=device, progress=False, log=log)
    except SupernetDivergedError as err:  # fp16's forward can overflow: a result, not a crash
        return {"diverged": str(err)}
    timed = steps - WARMUP
    return {"steps_per_s": timed / (marks[steps] - marks[WARMUP]), "final_loss": float(np.mean(out["losses"][-100:]))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="synthetic-amazon")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    if args.steps < WARMUP + 100:
        parser.error(f"--steps: expected at least {WARMUP + 100} (warm-up + the 100 steps the loss is read on)")
    from towernas.data import load_dataset

    cfg = compose(f"dataset={args.dataset}", "profile=paper", "progress=false", "tracking.wandb=false")
    data = load_dataset(cfg.dataset, progress=False)
    runs: dict[str, list[dict]] = {p: [] for p in PRECISIONS}
    for repeat in range(args.repeats):
        for precision in PRECISIONS:
            runs[precision].append(one_run(data, cfg, precision, args.steps, args.device))
            print(repeat, precision, runs[precision][-1], flush=True)
    rows = {}
    for p, rs in runs.items():
        done = [r for r in rs if "diverged" not in r]
        rows[p] = {"diverged": [r["diverged"] for r in rs if "diverged" in r]}
        if done:
            rows[p].update(steps_per_s=round(statistics.median(r["steps_per_s"] for r in done), 2),
                           final_loss=round(statistics.median(r["final_loss"] for r in done), 4))
    for row in rows.values():
        if "steps_per_s" in row and "steps_per_s" in rows["fp32"]:
            row["speedup_vs_fp32"] = round(row["steps_per_s"] / rows["fp32"]["steps_per_s"], 2)
            row["loss_vs_fp32"] = round(row["final_loss"] - rows["fp32"]["final_loss"], 4)
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    result = {"dataset": args.dataset, "steps": args.steps, "warmup": WARMUP, "repeats": args.repeats,
              "device": args.device, "batch_size": cfg.supernet.batch_size, "torch": torch.__version__,
              "threads": torch.get_num_threads(), "cpu": platform.processor() or platform.machine(),
              "cpu_bf16": {f: f in flags for f in ("avx512_bf16", "amx_bf16", "amx_fp16")},
              "precisions": rows, "runs": runs}
    lines = ["# Supernet training at each precision", "",
             f"`python -m benchmarks.bench_precision` on `{args.dataset}` (`profile=paper`, batch "
             f"{cfg.supernet.batch_size}), {args.steps} SPOS steps per run ({WARMUP} warm-up), median of "
             f"{args.repeats} interleaved runs, device {args.device}, {torch.get_num_threads()} threads, torch "
             f"{torch.__version__}; CPU flags {result['cpu_bf16']}.", "",
             "| precision | steps/s | × fp32 | loss (last 100 steps) | − fp32 |", "|---|---|---|---|---|"]
    for name, row in rows.items():
        if "speedup_vs_fp32" in row:
            lines.append(f"| {name} | {row['steps_per_s']} | {row['speedup_vs_fp32']} | {row['final_loss']} | "
                         f"{row['loss_vs_fp32']:+.4f} |")
        else:
            lines.append(f"| {name} | diverged | | | |")
    for name, row in rows.items():
        for message in dict.fromkeys(row["diverged"]):
            lines += ["", f"{name}, {len(row['diverged'])} of {args.repeats} runs: {message}"]
    write_report(OUT, "precision", result, "\n".join(lines) + "\n")
    print("\n".join(lines))


register("precision", "supernet steps/s and loss at precision=fp32, bf16, fp16 on the paper-sized dataset")

if __name__ == "__main__":
    main()
