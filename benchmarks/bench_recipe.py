"""``make bench-recipe``: which training recipe (temperature, history dropout, weight decay) should every two-tower
model get by default? Measured per model, so a default that helps one family and hurts another shows.

    python -m benchmarks.bench_recipe [--dataset ml-100k] [--seeds 0,1,2] [--budget L] [--quick]
                                      [--recipe NAME=KEY=VALUE[,KEY=VALUE...] ...] [--out bench_results]

Models: the space's in-budget MLP towers of the order-aware poolings (``recency``, ``self_attentive_pos``) and
the in-budget GoogleDNN and BST sized on validation by ``retrain``'s rule (sizes cached, as ``bench_protocol``'s).
Each (model, recipe, seed) is trained by ``retrain``'s trainer (early-stopped on validation R@50) with the
recipe's ``retrain.*`` values, then test is read once. Records are cached in ``<out>/recipe-runs/<dataset>/``; a
rerun resumes. The report gives, per model and recipe, validation and test R@50 (mean ± std over seeds) and the
paired per-seed difference to the ``default`` recipe (mean ± std: the seed noise of that difference). A recipe
is a better default only if it raises validation for every model on every dataset; test is reported, never
selected on. Writes ``<out>/recipe-<dataset>.{json,md}``.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

from benchmarks.bench_protocol import early_stopped, sized_models, slug
from benchmarks.common import benchmark_parser, cached_json, compose, int_list, markdown_table, register, write_report
from towernas.runs.seeds import mean_std
from towernas.runs.tables import model_cell

RECIPES = {"default": {}, "temperature=0.2": {"temperature": 0.2}, "history_dropout=0.2": {"history_dropout": 0.2},
           "temperature=0.2,history_dropout=0.2": {"temperature": 0.2, "history_dropout": 0.2}}
SPACE_POOLINGS = ("recency", "self_attentive_pos")  # the space's in-budget MLP towers of these poolings
BASELINES = ("google_dnn", "bst")


def parse_recipe(text: str) -> tuple[str, dict]:
    """``NAME=KEY=VALUE[,KEY=VALUE...]`` → (NAME, {KEY: VALUE}) (an int when it is digits, else a float), the keys
    being the joint search's training hyperparameters (``towernas.search.hparams.TRAINING_HPARAMS``)."""
    name, _, body = text.partition("=")
    try:
        values = {k: int(v) if v.isdigit() else float(v) for k, v in (part.split("=") for part in body.split(","))}
    except ValueError:
        raise SystemExit(f"--recipe {text!r}: expected NAME=KEY=VALUE[,KEY=VALUE...], e.g. "
                         "hot=temperature=0.2,history_dropout=0.1") from None
    return name, values


def paired(records: list[dict], model: str, recipe: str, split: str) -> list[float]:
    """Per-seed differences recipe − default of ``split`` R@50 for ``model`` (seeds both measured)."""
    base = {r["seed"]: r[split] for r in records if r["model"] == model and r["recipe"] == "default"}
    return [r[split] - base[r["seed"]] for r in records
            if r["model"] == model and r["recipe"] == recipe and r["seed"] in base]


def run(args) -> dict:
    import torch

    from towernas.complexity.budgets import Budget
    from towernas.data import load_dataset
    from towernas.data.spec import DatasetSpec
    from towernas.eval.encode import evaluate_test
    from towernas.runs.errors import UserError
    from towernas.search.hparams import check_hparams, with_values

    overrides = [f"dataset={args.dataset}", f"budget={args.budget}", "progress=false", "device=cpu",
                 *(["dataset=synthetic-tiny", "retrain.max_epochs=2", "retrain.patience=1",
                    "retrain.sizing_epochs=1"] if args.quick else [])]
    cfg = compose(*overrides)
    torch.set_num_threads(args.threads)
    data = load_dataset(cfg.dataset, progress=False)
    spec, budget = DatasetSpec.from_data(data), Budget.from_config(cfg.budget)
    root = Path(args.out)
    cache_dir = root / ("recipe-runs-quick" if args.quick else "recipe-runs") / cfg.dataset.name
    cache_dir.mkdir(parents=True, exist_ok=True)
    todo, _ = sized_models(cfg, data, cache_dir)
    todo = [c for c in todo if c.name in BASELINES or c.name.startswith(tuple(f"space:{p}+" for p in SPACE_POOLINGS))]
    recipes = dict(RECIPES)
    recipes.update(parse_recipe(text) for text in args.recipe)
    for name, values in recipes.items():  # every recipe checked before any training
        try:
            check_hparams(list(values))
        except UserError as err:
            raise SystemExit(f"--recipe {name}: {err}") from None
    def measure(candidate, name: str, values: dict, recipe_cfg, seed: int) -> dict:
        """One (model, recipe, seed) cell: trained from ``seed``, early-stopped on validation, test read once."""
        started = time.perf_counter()
        torch.manual_seed(seed)
        model = candidate.build(spec, budget)
        fitted = early_stopped(model, data, recipe_cfg, seed)
        record = {"model": candidate.name, "size": candidate.size.label if candidate.size else None,
                  "recipe": name, "values": values, "seed": seed, "best_epoch": fitted.best_epoch,
                  "valid": fitted.best_valid["recall@50"],
                  "test": evaluate_test(model, data)["recall@50"],
                  "seconds": round(time.perf_counter() - started, 1)}
        print(json.dumps(record), flush=True)
        return record

    records = []
    for name, values in recipes.items():
        recipe_cfg = with_values(cfg, values)  # the joint search's training hyperparameters, as retrain.* keys
        for candidate in todo:
            for seed in args.seeds:
                path = cache_dir / f"{slug(candidate)}-{slug_recipe(values)}-seed{seed}.json"
                cell = cached_json(path, lambda c=candidate, s=seed: measure(c, name, values, recipe_cfg, s))
                records.append({**cell, "recipe": name})  # the name is a label; a cell is keyed by the values
    return report(cfg.dataset.name, records, list(recipes), args, root)


def slug_recipe(values: dict) -> str:
    """A file-name key of a recipe's values (the name is a label; the values decide what was trained)."""
    return "_".join(f"{k}{v:g}" for k, v in sorted(values.items())) or "default"


def report(dataset: str, records: list[dict], recipes: list[str], args, root: Path) -> dict:
    models = list(dict.fromkeys(r["model"] for r in records))
    rows = []
    for model in models:
        for recipe in recipes:
            mine = [r for r in records if r["model"] == model and r["recipe"] == recipe]
            if not mine:
                continue
            row = {"model": model, "size": mine[0]["size"], "recipe": recipe, "seeds": len(mine),
                   "epochs": statistics.mean(r["best_epoch"] for r in mine)}
            for split in ("valid", "test"):
                row[split] = mean_std([r[split] for r in mine])
                row[f"{split}_delta"] = mean_std(paired(records, model, recipe, split)) if recipe != "default" else None
            rows.append(row)
    result = {"dataset": dataset, "seeds": list(args.seeds), "budget": args.budget, "rows": rows,
              "records": records}
    tag = "-quick" if args.quick else ""
    write_report(root, f"recipe-{dataset}{tag}", result, markdown(result, args), echo=True)
    return result


def fmt(stat, signed: bool = False) -> str:
    """``(mean, std)`` as ``'0.3912 ± 0.0021'`` (``signed``: ``'+0.0040 ± 0.0021'``); None as ``'–'``."""
    return "–" if stat is None else f"{stat[0]:{'+' if signed else ''}.4f} ± {stat[1]:.4f}"


def markdown(result: dict, args) -> str:
    seeds = result["seeds"]
    lines = [f"# Training recipe on `{result['dataset']}` (R@50, mean ± std over seeds {seeds}, budget "
             f"{result['budget']})", "",
             f"`python -m benchmarks.bench_recipe --dataset {result['dataset']} --seeds "
             f"{','.join(map(str, seeds))}`", "",
             "Δ: paired per-seed difference to the `default` recipe (its std is the seed noise of the difference).",
             "", markdown_table(["model", "recipe", "epochs", "valid", "Δ valid", "test", "Δ test"],
                                [[model_cell(row), row["recipe"], f"{row['epochs']:.1f}", fmt(row["valid"]),
                                  fmt(row["valid_delta"], True), fmt(row["test"]), fmt(row["test_delta"], True)]
                                 for row in result["rows"]])]
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    parser = benchmark_parser(__doc__, dataset="synthetic")
    parser.add_argument("--budget", default="L")
    parser.add_argument("--seeds", default="0,1,2", type=int_list)
    parser.add_argument("--recipe", action="append", default=[], help="an extra recipe NAME=KEY=VALUE[,KEY=VALUE]")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    run(args)


register("recipe", "which training recipe (temperature, history dropout) every two-tower model should get")

if __name__ == "__main__":
    main()
