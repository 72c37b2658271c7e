"""Samplers and add-ons on the embedded dataset: backbone x {none, each loss control, each sampler, each add-on}.

Every cell is a full retrain (``towernas.retrain.retrain_one``: the configured objective, early stopping
and selection on validation, test read once) for each seed; the table reports test R@50, N@50 and the
popularity-bias metrics (``arp@50``, ``tail_share@50``, ``coverage@50``) and the intervened-test
``unbiased/recall@50`` (``towernas.eval.bias``), mean ± std over seeds, with the paired per-seed difference
to ``none`` of the same backbone. Variants:

- ``none``: in-batch softmax + logQ (the default);
- ``loss=bce`` / ``loss=bpr``: the controls of RelMF and UBPR, which need those losses;
- ``sampler=<name>``: uniform, popularity, mixed, dns, cluster (softmax with that sampler's log q);
- ``addon=<name>``: ips, pda, macr, dice, cl4srec, coserec on the default objective; relmf on bce; ubpr on bpr.

Backbones: the searched towers of ``recipes/synthetic-L-seed0.json`` and GoogleDNN in budget L, its size
chosen once on validation with the default objective (``retrain.sizing``) and kept for every variant.
Add-on and sampler options are their defaults (nothing tuned here, on validation or test).

Run: ``python -m benchmarks.bench_addons [--seeds 0,1,2] [--shard 0/2]`` (shards split the cells for two
processes; finished cells are kept in ``bench_results/addons-runs/records.jsonl``, so a rerun resumes), then
``--report`` writes ``bench_results/addons-synthetic.{json,md}``. ``--step-cost`` times one training step
of every variant relative to ``none`` (``bench_results/addons-step-cost.{json,md}``).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from benchmarks.common import JsonlCache, compose, int_list, markdown_table, register, write_report
from towernas.runs.records import append_line, read_lines

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench_results"
RECORDS = OUT / "addons-runs" / "records.jsonl"
CELL = ("backbone", "variant", "seed")  # a record's key in RECORDS
SEARCHED = ROOT / "recipes" / "synthetic-L-seed0.json"

VARIANTS: dict[str, dict] = {
    "none": {},
    "loss=bce": {"loss": "bce"},
    "loss=bpr": {"loss": "bpr"},
    **{f"sampler={s}": {"sampler": s} for s in ("uniform", "popularity", "mixed", "dns", "cluster")},
    **{f"addon={a}": {"addons": [a]} for a in ("ips", "pda", "macr", "dice", "cl4srec", "coserec")},
    "addon=relmf": {"loss": "bce", "addons": ["relmf"]},
    "addon=ubpr": {"loss": "bpr", "addons": ["ubpr"]},
}
CONTROL = {"addon=relmf": "loss=bce", "addon=ubpr": "loss=bpr"}  # the paired reference of a variant (else none)
BACKBONES = ("searched", "google_dnn")
REPORTED = ("recall@50", "ndcg@50", "arp@50", "tail_share@50", "coverage@50", "unbiased/recall@50",
            "unbiased/ndcg@50")


def config(variant: dict, extra: tuple[str, ...] = ()):
    overrides = ["dataset=synthetic", "budget=L", "progress=false", "tracking.wandb=false", "retrain.export=false",
                 f"retrain.sampler={variant.get('sampler', 'in_batch')}", f"retrain.loss={variant.get('loss', 'softmax')}",
                 f"retrain.addons=[{','.join(variant.get('addons', []))}]", *extra]
    return compose(*overrides, config="retrain")


def google_dnn_size(data, device):
    """The in-budget GoogleDNN size, chosen once on validation with the default objective (cached)."""
    from towernas.retrain import Candidate, choose_sizes
    from towernas.retrievers.sizing import grid_size
    from towernas.runs.tracking import Tracker

    cache = OUT / "addons-runs" / "google_dnn_size.json"
    done = read_lines(cache)
    if done:
        return grid_size("google_dnn", done[-1]["size"])
    run = OUT / "addons-runs" / "sizing"
    tracker = Tracker(run, use_wandb=False)
    try:
        (sized,), sizing = choose_sizes([Candidate("google_dnn", baseline="google_dnn")], data, config({}), device,
                                        tracker)
    finally:
        tracker.close()
    append_line(cache, {"size": sized.size.label, "sizing": sizing})
    return sized.size


def run_cells(seeds: list[int], shard: int, n_shards: int) -> None:
    from towernas.data import load_dataset
    from towernas.retrain import Candidate, retrain_one
    from towernas.runs.device import resolve_device
    from towernas.runs.tracking import Tracker
    from towernas.space import Arch

    device = resolve_device("auto")
    done = JsonlCache(RECORDS, CELL)
    cells = [(b, v, s) for b in BACKBONES for v in VARIANTS for s in seeds]
    mine = [c for i, c in enumerate(cells) if i % n_shards == shard and c not in done]
    print(f"{len(mine)} cells to run in shard {shard}/{n_shards} ({len(done)} done)", flush=True)
    if not mine:
        return
    data = load_dataset(config({}).dataset, progress=False)
    size = google_dnn_size(data, device)
    candidates = {"searched": Candidate("searched", arch=Arch.load(SEARCHED)),
                  "google_dnn": Candidate("google_dnn", baseline="google_dnn", size=size)}
    for backbone, variant, seed in mine:
        cfg = config(VARIANTS[variant])
        tracker = Tracker(OUT / "addons-runs" / "logs" / f"{backbone}-{variant}-{seed}", use_wandb=False)
        start = time.perf_counter()
        try:
            _, record = retrain_one(candidates[backbone], data, cfg, seed, device, tracker)
        finally:
            tracker.close()
        record.update(backbone=backbone, variant=variant, seconds=time.perf_counter() - start)
        record.pop("arch", None)
        done.add(record)
        print(f"{backbone} {variant} seed {seed}: R@50 {record['test']['recall@50']:.4f} "
              f"unbiased R@50 {record['test']['unbiased/recall@50']:.4f} ({record['seconds']:.0f}s)", flush=True)


def step_cost(rounds: int = 7, steps: int = 6, batch_size: int = 512) -> dict:
    """Seconds per training step (forward + backward + Adam) of every variant on the searched towers, relative
    to ``none``: the price of a sampler or an add-on. One thread; the variants take turns (``rounds`` rounds of
    ``steps`` steps each, after one warm-up round), so drifting machine load hits them alike; the median of
    each variant's per-step times is reported."""
    import torch

    from towernas.addons import WithAddOns
    from towernas.data import load_dataset
    from towernas.data.batches import training_batch
    from towernas.data.spec import DatasetSpec
    from towernas.retrievers.two_tower import build
    from towernas.space import Arch
    from towernas.train.configured import build_objective

    torch.set_num_threads(1)
    data = load_dataset(config({}).dataset, progress=False)
    rows = np.random.default_rng(0).permutation(data.rows("train"))
    n_batches = len(rows) // batch_size
    runs = {}
    for variant, spec in VARIANTS.items():
        torch.manual_seed(0)
        backbone = build(Arch.load(SEARCHED), DatasetSpec.from_data(data))
        addons, objective = build_objective(config(spec), "retrain", data, seed=0, device="cpu")
        model = (WithAddOns(backbone, addons) if addons else backbone).train()
        runs[variant] = (model, objective, torch.optim.Adam(model.parameters(), lr=1e-3), [])
    position = 0
    for r in range(rounds + 1):
        for variant, (model, objective, optimizer, times) in runs.items():
            for _ in range(steps):
                batch = training_batch(data, rows[(position % n_batches) * batch_size:][:batch_size])
                position += 1
                start = time.perf_counter()
                loss = objective(batch, model.encode_users, model.encode_items)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                if r > 0:  # round 0 warms every variant up
                    times.append(time.perf_counter() - start)
    out = {variant: float(np.median(run[3])) for variant, run in runs.items()}
    base = out["none"]
    result = {"batch_size": batch_size, "rounds": rounds, "steps_per_round": steps, "backbone": "searched",
              "seconds_per_step": out, "relative_to_none": {k: v / base for k, v in out.items()}}
    lines = [f"# Cost of a training step (searched towers, batch {batch_size}, one thread; variants interleaved, "
             f"median of {rounds} x {steps} steps)", "",
             markdown_table(["variant", "ms / step", "× none"],
                            [[k, f"{1000 * v:.1f}", f"{v / base:.2f}"] for k, v in out.items()])]
    write_report(OUT, "addons-step-cost", result, "\n".join(lines) + "\n")
    return result


def report(seeds: list[int]) -> dict:
    cache = JsonlCache(RECORDS, CELL)
    records = [r for r in cache.records() if r["seed"] in seeds]
    by = {cache.key(r): r for r in records}
    rows = []
    for backbone in BACKBONES:
        for variant in VARIANTS:
            mine = [by[(backbone, variant, s)] for s in seeds if (backbone, variant, s) in by]
            if not mine:
                continue
            row = {"backbone": backbone, "variant": variant, "seeds": len(mine),
                   "valid_recall@50": float(np.mean([r["valid"]["recall@50"] for r in mine])),
                   "seconds": float(np.mean([r["seconds"] for r in mine]))}
            for m in REPORTED:
                values = [r["test"][m] for r in mine]
                row[m], row[f"{m}_std"] = float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
            control = CONTROL.get(variant, "none")
            pairs = [(by[(backbone, variant, s)], by[(backbone, control, s)]) for s in seeds
                     if (backbone, variant, s) in by and (backbone, control, s) in by]
            row["control"] = control
            for m in ("recall@50", "unbiased/recall@50"):
                diffs = [a["test"][m] - b["test"][m] for a, b in pairs]
                row[f"delta_{m}"] = float(np.mean(diffs)) if diffs else None
                row[f"delta_{m}_std"] = float(np.std(diffs, ddof=1)) if len(diffs) > 1 else None
                row[f"wins_{m}"] = int(sum(d > 0 for d in diffs))
            row["pairs"] = len(pairs)
            rows.append(row)
    result = {"dataset": "synthetic", "budget": "L", "seeds": seeds, "rows": rows, "records": records}
    write_report(OUT, "addons-synthetic", result, markdown(rows, seeds))
    return result


def markdown(rows: list[dict], seeds: list[int]) -> str:
    def cell(r, m, digits=4):
        return f"{r[m]:.{digits}f} ± {r[m + '_std']:.{digits}f}"

    def delta(r, m):
        if r[f"delta_{m}"] is None:
            return "—"
        std = r[f"delta_{m}_std"]
        return f"{r[f'delta_{m}']:+.4f}" + (f" ± {std:.4f}" if std is not None else "") + f" ({r[f'wins_{m}']}/{r['pairs']})"

    lines = [f"# Samplers and add-ons, embedded dataset, budget L, seeds {seeds} (test, mean ± std)", "",
             "Δ = paired per-seed difference to the control (`none`; `loss=bce` for relmf, `loss=bpr` for ubpr),"
             " (wins/seeds).", "",
             markdown_table(["backbone", "variant", "R@50", "N@50", "arp@50", "tail_share@50", "coverage@50",
                             "unbiased R@50", "Δ R@50", "Δ unbiased R@50", "s/run"],
                            [[r["backbone"], r["variant"], cell(r, "recall@50"), cell(r, "ndcg@50"),
                              f"{r['arp@50']:.1f}", f"{r['tail_share@50']:.3f}", f"{r['coverage@50']:.3f}",
                              cell(r, "unbiased/recall@50"), delta(r, "recall@50"), delta(r, "unbiased/recall@50"),
                              f"{r['seconds']:.0f}"] for r in rows])]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2", type=int_list)
    parser.add_argument("--shard", default="0/1", help="i/n: run every n-th cell starting at i")
    parser.add_argument("--report", action="store_true", help="only aggregate the finished cells")
    parser.add_argument("--step-cost", action="store_true", help="only time one training step per variant")
    args = parser.parse_args()
    seeds = args.seeds
    if args.step_cost:
        print((OUT / "addons-step-cost.md").read_text() if step_cost() else "")
        return
    if not args.report:
        i, n = (int(x) for x in args.shard.split("/"))
        run_cells(seeds, i, n)
    result = report(seeds)
    print(markdown(result["rows"], seeds))


register("addons", "samplers, loss controls and add-ons on searched towers and GoogleDNN-L (embedded dataset)")

if __name__ == "__main__":
    main()
