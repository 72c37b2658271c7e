"""``make bench-protocol``: why do validation and test disagree, and which protocol makes them agree?

    python -m benchmarks.bench_protocol [--dataset ml-100k] [--seeds 0,1,2,3,4] [--budget L] [--quick]
                                        [--out bench_results] [--override KEY=VALUE ...]

The default protocol splits each user's log 2:1:1 in time and trains on the first half only, so validation
targets follow the training period directly while test targets come after a whole quarter the model never
trained on. For each model (the space's in-budget MLP towers of every pooling, the in-budget GoogleDNN and
BST sized on validation as ``retrain`` sizes them, GoogleDNN at the paper's layers) and seed, this measures:

- ``valid``: validation R@50 of the early-stopped epoch (the default protocol's selection score);
- ``test``: test R@50 of that model (the default protocol: trained on train only);
- ``refit``: test R@50 of the same model and seed retrained on train + validation for the selected number of
  epochs (no early stopping: the epoch count is chosen on validation), so test follows its training period
  as validation does;
- ``valid_matched`` / ``test_matched``: validation at the same position in time as test, on other users
  (``matched_split``): a seeded half of the users is validated on its last quarter, the other half tested on its
  last quarter, both trained on everything before;
- ``valid_late``: the *selection* side of a late-validation protocol: train on the first 3/8, validate on the
  last quarter of the train period (3/8..1/2), so the selection split is as close to the end of training as
  validation is, and the test read happens after a refit.

It then reports per model mean ± std over seeds, the seed noise (std of the paired differences), and Kendall's
τ between the models' mean selection scores and their mean test scores under each protocol: a protocol whose
selection score ranks the models as their test does is one where "select on validation" selects well.
Records are cached per (dataset, model, seed, protocol) in ``<out>/protocol-runs/``; a rerun resumes.
Writes ``<out>/protocol-<dataset>.{json,md}``.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import time
from pathlib import Path

import numpy as np

from benchmarks.common import benchmark_parser, compose, int_list, markdown_table, register, write_report
from towernas.eval.agreement import kendall_tau
from towernas.runs.files import write_json_atomic
from towernas.runs.seeds import mean_std

BASELINES = ("google_dnn", "bst", "google_dnn_paper")
PROTOCOLS = ("valid", "test", "refit", "valid_late", "valid_matched", "test_matched")


def slug(candidate) -> str:
    """A file-name-safe key of a model and its size (a size chosen anew is measured anew)."""
    name = candidate.name + (f" {candidate.size.label}" if candidate.size else "")
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def refit_split(data):
    """``data`` with the validation rows moved into train (test unchanged): the refit protocol's data."""
    from towernas.data.interactions import TRAIN, VALID

    return dataclasses.replace(data, split=np.where(data.split == VALID, TRAIN, data.split).astype(np.int8))


def late_split(data):
    """``data`` re-split inside its train period: per user the first 3/4 of train stays train, the last quarter
    of it becomes validation, and the original validation and test rows are both test (never read here)."""
    from towernas.data.interactions import TEST, TRAIN, VALID

    split = data.split.copy()
    split[split == VALID] = TEST
    train = data.split == TRAIN
    counts = np.bincount(data.users[train], minlength=data.n_users)
    start = data.user_indptr[:-1]
    pos = np.arange(len(split)) - start[data.users]  # rank of the row within its user (train rows come first)
    n_late = np.floor(counts * 0.25).astype(np.int64)
    n_late[counts - n_late < 1] = 0
    late = train & (pos >= (counts - n_late)[data.users])
    split[late] = VALID
    return dataclasses.replace(data, split=split.astype(np.int8))


def matched_split(data, seed: int = 0):
    """Validation at the same position in time as test, on other users: a seeded half of the users (A) has its
    last quarter (the original test rows) as validation, the other half (B) keeps its last quarter as test; every
    earlier row of both halves is train. Early stopping reads A's last quarter, the test read is B's."""
    from towernas.data.interactions import TEST, TRAIN, VALID

    in_a = np.random.default_rng(seed + 7).random(data.n_users) < 0.5
    split = data.split.copy()
    split[split == VALID] = TRAIN
    split[(split == TEST) & in_a[data.users]] = VALID
    return dataclasses.replace(data, split=split.astype(np.int8))


def early_stopped(model, data, cfg, seed: int):
    """``retrain``'s trainer on ``data``: early-stopped on its validation split (the same call for every protocol)."""
    from towernas.train.loop import fit
    from towernas.train.settings import FitSettings

    # retrain's recipe at the loop's ks and precision (fp32), as this benchmark always trained
    return fit(model, data, FitSettings.from_config(cfg.retrain, seed=seed), device="cpu", progress=False)


def fit_matched(model, matched, cfg, seed: int) -> dict:
    """The matched protocol (``matched_split``): early-stopped on validation users' last quarter, tested on the
    test users' last quarter."""
    from towernas.eval.encode import evaluate_model

    fitted = early_stopped(model, matched, cfg, seed)
    return {"valid_matched": fitted.best_valid["recall@50"], "matched_best_epoch": fitted.best_epoch,
            "test_matched": evaluate_model(model, matched, "test")["recall@50"]}


def curves(todo, data, cfg, spec, budget, epochs: int, seed: int, cache_dir: Path) -> dict[str, list[dict]]:
    """Diagnostic, never a selection: validation and test R@50 after every epoch of ``epochs`` (seed ``seed``) per
    model, to see whether the two splits peak at different training lengths. Cached per model."""
    import torch

    from towernas.eval.encode import evaluate_model
    from towernas.train.loop import default_objective, train_epoch
    from towernas.train.optim import adam

    r, out = cfg.retrain, {}
    for candidate in todo:
        path = cache_dir / f"curve-{slug(candidate)}-seed{seed}-e{epochs}.json"
        if path.exists():
            out[candidate.name] = json.loads(path.read_text())
            continue
        torch.manual_seed(seed)
        model = candidate.build(spec, budget)
        rng = np.random.default_rng(seed)
        optimizer = adam(model.parameters(), r.lr)
        objective = default_objective(data, r.temperature, seed, "cpu")
        rows = []
        for epoch in range(1, epochs + 1):
            loss = train_epoch(model, data, optimizer, objective, batch_size=r.batch_size, rng=rng, device="cpu",
                               progress=False)
            rows.append({"epoch": epoch, "loss": loss,
                         "valid": evaluate_model(model, data, "valid")["recall@50"],
                         "test": evaluate_model(model, data, "test")["recall@50"]})
        write_json_atomic(path, rows)
        out[candidate.name] = rows
        print(candidate.name, json.dumps(rows), flush=True)
    return out


def sized_models(cfg, data, cache_dir: Path) -> tuple[list, dict]:
    """``models`` with the in-budget baselines sized by ``retrain``'s rule, the chosen sizes cached in
    ``cache_dir/sizing.json`` (a resumed run does not size again)."""
    from dataclasses import replace

    from towernas.retrain import choose_sizes
    from towernas.retrievers.sizing import grid_size

    path = cache_dir / "sizing.json"
    if path.exists():
        sizing = json.loads(path.read_text())
        todo = [replace(c, size=grid_size(c.baseline, sizing[c.name]["chosen"])) if c.needs_size else c
                for c in models(cfg, data)]
        return todo, sizing

    class _Quiet:
        def log(self, *_):
            pass

    todo, sizing = choose_sizes(models(cfg, data), data, cfg, "cpu", _Quiet())
    write_json_atomic(path, sizing)
    return todo, sizing


def models(cfg, data) -> list:
    """The compared models as ``towernas.retrain.Candidate``: the space's in-budget MLP tower of every pooling,
    then the baselines (in-budget ones sized on validation by ``retrain``'s own rule)."""
    from towernas.complexity import CostModel
    from towernas.complexity.budgets import Budget
    from towernas.data.spec import DatasetSpec
    from towernas.retrain import Candidate
    from towernas.search.genomes import admitted_by, mlp_seeds
    from towernas.space.arch_space import ArchSpace

    space = ArchSpace.from_config(cfg.space)
    cost_model = CostModel.from_space(DatasetSpec.from_data(data), space)
    seeds = mlp_seeds(space, admitted_by(cost_model, space, [Budget.from_config(cfg.budget)]))
    out = [Candidate(name=f"space:{g[0]}+{g[1]}/{g[1 + space.depth_user]}", arch=space.arch(g)) for g in seeds]
    return out + [Candidate(name=b, baseline=b) for b in BASELINES]


def run(args) -> dict:
    import torch

    from towernas.complexity.budgets import Budget
    from towernas.data import load_dataset
    from towernas.data.spec import DatasetSpec
    from towernas.eval.encode import evaluate_test
    from towernas.train.loop import train_two_tower

    overrides = [f"dataset={args.dataset}", f"budget={args.budget}", "progress=false", "device=cpu",
                 *(["dataset=synthetic-tiny", "retrain.max_epochs=2", "retrain.patience=1",
                    "retrain.sizing_epochs=1"] if args.quick else []), *args.override]
    cfg = compose(*overrides)
    torch.set_num_threads(args.threads)
    data = load_dataset(cfg.dataset, progress=False)
    spec, budget = DatasetSpec.from_data(data), Budget.from_config(cfg.budget)
    late = late_split(data)
    refit = refit_split(data)
    cache_dir = Path(args.out) / ("protocol-runs-quick" if args.quick else "protocol-runs") / cfg.dataset.name
    cache_dir.mkdir(parents=True, exist_ok=True)

    matched = matched_split(data)
    todo, sizing = sized_models(cfg, data, cache_dir)

    def seeded(candidate, seed: int):
        """A fresh model of ``candidate`` initialised from ``seed`` (every protocol starts from the same weights)."""
        torch.manual_seed(seed)
        return candidate.build(spec, budget)

    r = cfg.retrain
    records = []
    for candidate in todo:
        for seed in args.seeds:
            path = cache_dir / f"{slug(candidate)}-seed{seed}.json"
            if path.exists():
                record = json.loads(path.read_text())
                if "valid_matched" not in record:  # the matched protocol came later: measured on its own
                    record.update(fit_matched(seeded(candidate, seed), matched, cfg, seed))
                    write_json_atomic(path, record)
                records.append(record)
                continue
            started = time.perf_counter()
            fresh = lambda c=candidate, s=seed: seeded(c, s)  # noqa: E731
            model = fresh()
            fitted = early_stopped(model, data, cfg, seed)
            test = evaluate_test(model, data)
            model = fresh()
            train_two_tower(model, refit, epochs=fitted.best_epoch, batch_size=r.batch_size, lr=r.lr,
                            temperature=r.temperature, seed=seed, device="cpu", progress=False,
                            history_dropout=r.history_dropout)
            refit_test = evaluate_test(model, refit)
            late_fit = early_stopped(fresh(), late, cfg, seed)
            record = {"model": candidate.name, "size": candidate.size.label if candidate.size else None,
                      "seed": seed, "best_epoch": fitted.best_epoch, "late_best_epoch": late_fit.best_epoch,
                      "valid": fitted.best_valid["recall@50"], "test": test["recall@50"],
                      "refit": refit_test["recall@50"], "valid_late": late_fit.best_valid["recall@50"],
                      **fit_matched(fresh(), matched, cfg, seed),
                      "ndcg": {"valid": fitted.best_valid["ndcg@50"], "test": test["ndcg@50"],
                               "refit": refit_test["ndcg@50"]},
                      "seconds": round(time.perf_counter() - started, 1)}
            write_json_atomic(path, record)
            records.append(record)
            print(json.dumps(record), flush=True)
    curve = curves(todo, data, cfg, spec, budget, args.curve_epochs, args.seeds[0], cache_dir) if args.curve_epochs else {}
    return report(cfg.dataset.name, records, sizing, args, curve)


def report(dataset: str, records: list[dict], sizing: dict, args, curve: dict | None = None) -> dict:
    names = list(dict.fromkeys(r["model"] for r in records))
    rows = []
    for name in names:
        mine = [r for r in records if r["model"] == name]
        row = {"model": name, "size": mine[0]["size"], "seeds": len(mine),
               "best_epoch": statistics.mean(r["best_epoch"] for r in mine)}
        for p in PROTOCOLS:
            row[p], row[f"{p}_std"] = mean_std([r[p] for r in mine])
        row["refit_gain"], row["refit_gain_std"] = mean_std([r["refit"] - r["test"] for r in mine])
        rows.append(row)
    taus = {
        "valid_vs_test (default)": kendall_tau([r["valid"] for r in rows], [r["test"] for r in rows]),
        "valid_vs_refit": kendall_tau([r["valid"] for r in rows], [r["refit"] for r in rows]),
        "valid_late_vs_refit": kendall_tau([r["valid_late"] for r in rows], [r["refit"] for r in rows]),
        "valid_late_vs_test": kendall_tau([r["valid_late"] for r in rows], [r["test"] for r in rows]),
        "test_vs_refit": kendall_tau([r["test"] for r in rows], [r["refit"] for r in rows]),
        "valid_matched_vs_test_matched": kendall_tau([r["valid_matched"] for r in rows],
                                                     [r["test_matched"] for r in rows]),
        "valid_matched_vs_test": kendall_tau([r["valid_matched"] for r in rows], [r["test"] for r in rows]),
    }
    picked = {
        "default (select valid, read test)": max(rows, key=lambda r: r["valid"]),
        "refit (select valid, refit train+valid, read test)": max(rows, key=lambda r: r["valid"]),
        "late (select on late train, refit train+valid, read test)": max(rows, key=lambda r: r["valid_late"]),
        "matched (select on other users' last quarter)": max(rows, key=lambda r: r["valid_matched"]),
    }
    oracle = {"test": max(rows, key=lambda r: r["test"])["model"], "refit": max(rows, key=lambda r: r["refit"])["model"],
              "test_matched": max(rows, key=lambda r: r["test_matched"])["model"]}
    result = {"dataset": dataset, "seeds": args.seeds, "rows": rows, "kendall_tau": taus, "sizing": sizing,
              "curves": curve or {},
              "picked": {k: v["model"] for k, v in picked.items()}, "best_on_test": oracle, "records": records}
    stem = "protocol-quick" if args.quick else f"protocol-{dataset}"
    write_report(args.out, stem, result, to_markdown(result), echo=True)
    return result


def to_markdown(result: dict) -> str:
    """The report of ``report``'s result: the models' table, the τ of each protocol, its picks, the curves."""
    dataset, seeds = result["dataset"], result["seeds"]
    lines = [f"# Protocol: validation vs test on `{dataset}` (R@50, mean ± std over seeds {seeds})", "",
             "`python -m benchmarks.bench_protocol --dataset " + dataset + "`", ""]

    def cell(r: dict, p: str) -> str:
        return f"{r[p]:.4f} ± {r[p + '_std']:.4f}"

    lines.append(markdown_table(
        ["model", "size", "epochs", "valid", "test (train only)", "test after refit", "refit gain", "late valid",
         "matched valid", "matched test"],
        [[r["model"], r["size"] or "", f"{r['best_epoch']:.1f}", cell(r, "valid"), cell(r, "test"), cell(r, "refit"),
          f"{r['refit_gain']:+.4f} ± {r['refit_gain_std']:.4f}", cell(r, "valid_late"), cell(r, "valid_matched"),
          cell(r, "test_matched")] for r in result["rows"]]))
    oracle = result["best_on_test"]
    lines += ["", "Kendall τ between the models' mean scores:", ""]
    lines += [f"- {k}: {v:+.3f}" for k, v in result["kendall_tau"].items()]
    lines += ["", "Picked by each protocol (best selection score):", ""]
    lines += [f"- {k}: {v}" for k, v in result["picked"].items()]
    lines += [f"- best on test (train only): {oracle['test']}; best on test after refit: {oracle['refit']}; "
              f"best on the matched protocol's test: {oracle['test_matched']}", ""]
    if result["curves"]:
        lines += [f"Diagnostic (not a selection): R@50 per epoch, seed {seeds[0]}, validation / test; the epoch "
                  "each split peaks at:", ""]
        rows = []
        for name, epochs in result["curves"].items():
            v = max(epochs, key=lambda e: e["valid"])
            t = max(epochs, key=lambda e: e["test"])
            trace = " ".join(f"{e['valid']:.3f}/{e['test']:.3f}" for e in epochs)
            rows.append([name, f"{v['valid']:.4f} ({v['epoch']})", f"{t['test']:.4f} ({t['epoch']})", trace])
        lines += [markdown_table(["model", "valid peak (epoch)", "test peak (epoch)", "curve (valid/test)"], rows), ""]
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = benchmark_parser(__doc__, dataset="ml-100k", override=True)
    parser.add_argument("--budget", default="L")
    parser.add_argument("--seeds", type=int_list, default=[0, 1, 2, 3, 4])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--curve-epochs", type=int, default=12, help="per-epoch validation/test curves (0: off)")
    run(parser.parse_args(argv))


register("protocol", "why validation and test disagree, and which protocol makes them agree")

if __name__ == "__main__":
    main()
