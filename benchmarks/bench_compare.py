"""``make bench-compare``: the issue's "done when" table. Do the searched towers beat random search at equal
compute and the hand-built baselines, on test?

    python -m benchmarks.bench_compare [--budgets L,M] [--seeds 0,1,2] [--out bench_results] [--quick]
                                       [--override KEY=VALUE ...]

On the embedded dataset, for every budget and seed ``k`` (``seed=k``; the dataset's generator seed is
``${seed}``, so every seed is its own draw of the dataset):

1. **search**: ``towernas.search.run_search`` with the default config (``space=towernas``,
   ``search=evolution``); its ``best.json`` is the validation winner.
2. **random**: the same final selection over random feasible architectures (``search.strategy=random``), given
   ``search.random_seconds`` = what step 1 spent on its supernet, its evolution and its short retrains
   (``selection.json``). Those seconds are kept in ``<out>/compare-runs/state.json``, so a rerun hands the
   random search the same compute (and the same config, so its run directory resumes).
3. **baselines**: ``towernas.retrain.run_retrain`` trains the baselines ``google_dnn``, ``google_dnn_paper``,
   ``bst``, ``bst_paper`` (the in-budget ones sized on validation) with seed ``k``, then reads test once. They
   do not depend on the search, so a change to the search reruns steps 1, 2 and 4 only.
4. **winners**: the same retrain of both winners (``searched``, ``random``), test read once.
5. **report**: per budget and model, test R@50 and N@50 (mean ± std over seeds), params/FLOPs of both towers,
   Δ R@50 vs the in-budget GoogleDNN, whether it fits the budget; and the paired per-seed differences
   searched − random and searched − google_dnn (mean ± std, seeds won). Written atomically to
   ``<out>/compare.{json,md}`` and printed.

Every (budget, seed, stage) has its own run directory ``<out>/compare-runs/<budget>/seed<k>/<stage>``; a
finished stage (``summary.json`` / ``results.json``) is skipped on rerun and an interrupted search resumes
inside its directory. ``--quick`` (tiny dataset and schedules, a smoke run) writes ``compare-quick.*`` and
``compare-runs-quick/`` instead.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from benchmarks.bench_fidelity import overrides_for
from benchmarks.common import benchmark_parser, compose, int_list, register, write_report
from towernas.runs.files import write_json_atomic, write_text_atomic
from towernas.runs.seeds import mean_std

STAGES = ("search", "random", "baselines", "winners")
DONE = {"search": "summary.json", "random": "summary.json", "baselines": "results.json", "winners": "results.json"}
ARCHS = ("searched", "random")  # the retrain run's names of the two winners (the file stems of its inputs)
BASELINES = ("google_dnn", "google_dnn_paper", "bst", "bst_paper")
REFERENCE = "google_dnn"  # the in-budget GoogleDNN (towernas.runs.tables.REFERENCE_MODEL)
METRICS = ("recall@50", "ndcg@50")
DELTA = "delta_recall@50_vs_google_dnn_pct"
PAIRS = (("searched", "random"), ("searched", REFERENCE))


# -- the commands (imported on first use: composing and reporting load no torch) --------------------------------
def run_search(cfg, run_dir: Path) -> dict:
    """``towernas.search.run_search``."""
    from towernas.search import run_search as search

    return search(cfg, run_dir)


def run_retrain(cfg, run_dir: Path) -> dict:
    """``towernas.retrain.run_retrain``."""
    from towernas.retrain import run_retrain as retrain

    return retrain(cfg, run_dir)


# -- configuration ------------------------------------------------------------------------------------------------
def base_overrides(budget: str, seed: int, quick: bool, extra: list[str], dataset: str = "synthetic") -> list[str]:
    """The overrides of every stage of (``budget``, ``seed``): ``bench_fidelity.overrides_for``'s, space towernas."""
    return overrides_for(SimpleNamespace(dataset=dataset, space="towernas", budget=budget, data_seed=seed, quick=quick,
                                         override=list(extra)))


def random_overrides(seconds: float) -> list[str]:
    return ["search.strategy=random", f"search.random_seconds={seconds}"]


def retrain_overrides(archs: list[Path], baselines: tuple[str, ...], seed: int) -> list[str]:
    quoted = ",".join(f"'{p}'" for p in archs)
    return [f"retrain.archs=[{quoted}]", f"retrain.baselines=[{','.join(baselines)}]", f"retrain.seeds=[{seed}]",
            "retrain.export=false"]


# -- equal compute ------------------------------------------------------------------------------------------------
def short_seconds(selection_path: Path) -> float:
    """Seconds of the short retrains cached in a search's ``selection.json`` (keys ``["short", …]``)."""
    entries = json.loads(selection_path.read_text()) if selection_path.exists() else {}
    return sum(float(v["seconds"]) for k, v in entries.items() if json.loads(k)[0] == "short")


def search_seconds(run_dir: Path) -> dict[str, Any]:
    """What the finished search in ``run_dir`` spent on its supernet, its evolution and its short retrains.

    A run finished by its first call: that call's phases (``phases_seconds_this_call``). A resumed run reports
    its last call only, so then the counters the run keeps over resumes: the supernet's ``elapsed`` (summary)
    and the evolution's (``evolution_state.json``).
    """
    summary = json.loads((run_dir / "summary.json").read_text())
    if summary.get("resumed"):
        evolution = json.loads((run_dir / "evolution_state.json").read_text())["elapsed"]
        out = {"supernet": summary["supernet"]["seconds"], "evolution": evolution, "source": "resumed run: counters"}
    else:
        phases = summary["phases_seconds_this_call"]
        out = {"supernet": phases["supernet"], "evolution": phases["evolution"], "source": "first call: phases"}
    out["short"] = short_seconds(run_dir / "selection.json")
    out["random_seconds"] = round(out["supernet"] + out["evolution"] + out["short"], 1)
    return out


class State:
    """The comparison's own state, one JSON file: the search seconds of every (budget, seed), measured once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, dict] = json.loads(path.read_text()) if path.exists() else {}

    def seconds(self, key: str, search_dir: Path) -> dict[str, Any]:
        """The stored seconds of ``key``, measured from ``search_dir`` (and stored) the first time, or again if
        that directory now holds a search of another config."""
        digest = json.loads((search_dir / "run_config.json").read_text())["hash"]
        entry = self.entries.get(key)
        if entry is None or entry.get("search_hash") != digest:
            entry = {**search_seconds(search_dir), "search_hash": digest}
            self._store(key, entry)
        return entry

    def _store(self, key: str, entry: dict) -> None:
        """Write ``key`` into the file, keeping what another comparison (e.g. ``--budgets M`` beside
        ``--budgets L``) stored there since this one read it: re-read and merge under an exclusive lock."""
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            on_disk = json.loads(self.path.read_text()) if self.path.exists() else {}
            self.entries = {**self.entries, **on_disk, key: entry}
            write_json_atomic(self.path, self.entries)


# -- stages -------------------------------------------------------------------------------------------------------
def stage(tag: str, name: str, run_dir: Path, run: Callable[[], Any]) -> bool:
    """Run one stage unless it finished before (its ``DONE`` file exists); True if it ran."""
    if (run_dir / DONE[name]).exists():
        print(f"{tag} {name}: done before, skipped ({run_dir})", flush=True)
        return False
    print(f"{tag} {name}: running in {run_dir}", flush=True)
    started = time.perf_counter()
    run()
    print(f"{tag} {name}: finished in {time.perf_counter() - started:.0f} s", flush=True)
    return True


def stage_dirs(runs: Path, budget: str, seed: int) -> dict[str, Path]:
    return {name: runs / budget / f"seed{seed}" / name for name in STAGES}


def winners(dirs: dict[str, Path]) -> list[Path]:
    """Both searches' ``best.json``, copied into the retrain run as ``searched.json`` and ``random.json`` (the
    retrain names a model by its file's stem, and both are called ``best``)."""
    paths = []
    for name, source in zip(ARCHS, ("search", "random")):
        path = (dirs["winners"] / "inputs" / f"{name}.json").resolve()
        write_text_atomic(path, (dirs[source] / "best.json").read_text())
        paths.append(path)
    return paths


def run_cell(budget: str, seed: int, runs: Path, overrides: list[str], state: State) -> list[dict]:
    """The stages of (``budget``, ``seed``), each skipped if done; the retrains' test records."""
    dirs, tag = stage_dirs(runs, budget, seed), f"[{budget} seed{seed}]"
    stage(tag, "search", dirs["search"], lambda: run_search(compose(*overrides), dirs["search"]))
    seconds = state.seconds(f"{budget}/seed{seed}", dirs["search"])
    print(f"{tag} random search gets {seconds['random_seconds']} s (supernet {seconds['supernet']:.1f} + evolution "
          f"{seconds['evolution']:.1f} + short retrains {seconds['short']:.1f}; {seconds['source']})", flush=True)
    stage(tag, "random", dirs["random"],
          lambda: run_search(compose(*overrides, *random_overrides(seconds["random_seconds"])), dirs["random"]))
    stage(tag, "baselines", dirs["baselines"],
          lambda: run_retrain(compose(*overrides, *retrain_overrides([], BASELINES, seed)), dirs["baselines"]))
    stage(tag, "winners", dirs["winners"],
          lambda: run_retrain(compose(*overrides, *retrain_overrides(winners(dirs), (), seed)), dirs["winners"]))

    def records(stage_name: str, models: tuple[str, ...]) -> list[dict]:
        found = json.loads((dirs[stage_name] / "results.json").read_text())["records"]
        return [r for r in found if r["model"] in models]

    return records("winners", ARCHS) + records("baselines", BASELINES)


# -- aggregation --------------------------------------------------------------------------------------------------
def fits(budget, complexity: dict) -> bool:
    from towernas.complexity import TowerCost

    u, i = complexity["user"], complexity["item"]
    return budget.admits(TowerCost(u["params"], u["flops"], i["params"], i["flops"]))


def per_seed(records_by_seed: dict[int, list[dict]], model: str) -> dict[int, dict]:
    """``model``'s record of every seed that has one."""
    out = {}
    for seed, records in records_by_seed.items():
        found = [r for r in records if r["model"] == model]
        if found:
            out[seed] = found[0]
    return out


def model_row(model: str, mine: dict[int, dict], budget) -> dict:
    """Test metrics (mean ± std over seeds), mean costs, and on how many seeds ``model`` fits ``budget``."""
    from towernas.runs import tables

    row: dict[str, Any] = {"model": model, "seeds": len(mine)}
    sizes = list(dict.fromkeys(r["size"] for r in mine.values() if r.get("size")))
    row["size"] = " / ".join(sizes) or None
    for metric in METRICS:
        row[metric], row[f"{metric}_std"] = mean_std([r["test"][metric] for r in mine.values()])
    for key in ("user_params", "user_flops", "item_params", "item_flops"):
        row[key] = statistics.fmean(tables.flat_cost(r["complexity"])[key] for r in mine.values())
    row["params"], row["flops"] = row["user_params"] + row["item_params"], row["user_flops"] + row["item_flops"]
    row["fits"] = sum(fits(budget, r["complexity"]) for r in mine.values())
    row["per_seed"] = [{"seed": s, "size": r.get("size"), "arch": r.get("arch"), "complexity": r["complexity"],
                        "fits": fits(budget, r["complexity"]), **{m: r["test"][m] for m in METRICS}}
                       for s, r in mine.items()]
    return row


def model_rows(records_by_seed: dict[int, list[dict]], budget) -> list[dict]:
    """One row per model (in the records' order) with Δ R@50 vs the in-budget GoogleDNN."""
    from towernas.runs import tables

    names = dict.fromkeys(r["model"] for records in records_by_seed.values() for r in records)
    rows = [model_row(name, per_seed(records_by_seed, name), budget) for name in names]
    reference = next((r for r in rows if r["model"] == REFERENCE), None)
    for row in rows:
        row[DELTA] = tables.delta_pct(row["recall@50"], reference["recall@50"]) if reference else None
    return rows


def paired(records_by_seed: dict[int, list[dict]], a: str, b: str, metric: str, split: str = "test") -> dict[str, Any]:
    """Per-seed ``split`` ``metric`` of ``a`` minus ``b`` over the seeds having both: mean ± std, seeds ``a``
    wins (``split="valid"``: what the selection saw, beside what test says)."""
    mine, theirs = per_seed(records_by_seed, a), per_seed(records_by_seed, b)
    diffs = {s: mine[s][split][metric] - theirs[s][split][metric] for s in mine if s in theirs
             if metric in mine[s].get(split, {}) and metric in theirs[s].get(split, {})}
    if not diffs:
        return {"per_seed": {}, "mean": None, "std": None, "wins": 0, "seeds": 0}
    mean, std = mean_std(list(diffs.values()))
    return {"per_seed": diffs, "mean": mean, "std": std, "wins": sum(d > 0 for d in diffs.values()),
            "seeds": len(diffs)}


def summarize_budget(records_by_seed: dict[int, list[dict]], budget) -> dict[str, Any]:
    """The report of one budget: model rows and the paired differences of ``PAIRS``."""
    return {"budget": str(budget), "models": model_rows(records_by_seed, budget),
            "paired": {f"{a}_vs_{b}": {**{m: paired(records_by_seed, a, b, m) for m in METRICS},
                                       "valid/recall@50": paired(records_by_seed, a, b, "recall@50", "valid")}
                       for a, b in PAIRS}}


# -- report -------------------------------------------------------------------------------------------------------
def _signed(value: float | None, std: float | None = None) -> str:
    if value is None:
        return "–"
    return f"{value:+.4f}" + ("" if std is None else f" ± {std:.4f}")


def _std(diff: dict) -> float | None:
    """The std of a paired difference, if it has one (two seeds or more)."""
    return diff["std"] if diff["seeds"] > 1 else None


def budget_markdown(name: str, res: dict) -> list[str]:
    """The section of one budget: the model table, the paired differences, the random search's compute."""
    from towernas.runs import tables

    lines = [f"## Budget {name}: {res['budget']}", "",
             tables.markdown(["model", "test R@50", "test N@50", "params", "FLOPs", tables.DELTA_HEADER,
                              f"fits {name}"],
                             [[tables.model_cell(r), tables.mean_std_cell(r, "recall@50"),
                               tables.mean_std_cell(r, "ndcg@50"), tables.thousands(r["params"]),
                               tables.thousands(r["flops"]), tables.delta_cell(r[DELTA]), f"{r['fits']}/{r['seeds']}"]
                              for r in res["models"]]), ""]
    header = ["paired per-seed difference", "Δ test R@50 (mean ± std)", "R@50 per seed", "seeds won (R@50)",
              "Δ test N@50 (mean ± std)", "seeds won (N@50)", "Δ valid R@50 (mean ± std, seeds won)"]
    rows = []
    for a, b in PAIRS:
        r, n = (res["paired"][f"{a}_vs_{b}"][m] for m in METRICS)
        v = res["paired"][f"{a}_vs_{b}"].get("valid/recall@50") or {"mean": None, "seeds": 0}
        rows.append([f"{a} − {b}", _signed(r["mean"], _std(r)), ", ".join(_signed(d) for d in r["per_seed"].values()),
                     f"{r['wins']}/{r['seeds']}", _signed(n["mean"], _std(n)), f"{n['wins']}/{n['seeds']}",
                     f"{_signed(v['mean'], _std(v))} ({v['wins']}/{v['seeds']})" if v["seeds"] else "–"])
    lines += [tables.markdown(header, rows), ""]
    compute = ", ".join(f"seed {s}: {c['random_seconds']:.0f} s" for s, c in res["compute"].items())
    return lines + [f"Random search compute (= the search's supernet + evolution + short retrains): {compute}.", ""]


def to_markdown(res: dict) -> str:
    lines = [f"# Searched towers vs random search at equal compute vs baselines: `{res['dataset']}`, test", "",
             (f"Seeds {res['seeds']} (each its own draw of the dataset), mean ± std over seeds. params / FLOPs: "
              "user + item tower (mean over seeds; the searched towers and the baselines' sizes differ per seed). "
              "Every model is chosen on validation; test is read once per model and seed."), ""]
    for name, section in res["budgets"].items():
        lines += budget_markdown(name, section)
    lines += [f"Machine: {res['machine']}. Wall time of this call {res['seconds']:.0f} s. Command: `{res['command']}`."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    parser = benchmark_parser(__doc__, dataset="synthetic", override=True,
                              dataset_help="any conf/dataset/ name, e.g. ml-100k; writes compare-<dataset>.{json,md} "
                                           "and compare-runs-<dataset>/ for a dataset other than the embedded one")
    parser.add_argument("--budgets", default="L,M")
    parser.add_argument("--seeds", default="0,1,2", type=int_list)
    args = parser.parse_args(argv)
    started = time.perf_counter()

    from towernas.complexity.budgets import Budget

    out = Path(args.out)
    suffix = ("" if args.dataset == "synthetic" else f"-{args.dataset}") + ("-quick" if args.quick else "")
    runs = out / f"compare-runs{suffix}"
    state = State(runs / "state.json")
    seeds = args.seeds
    res: dict[str, Any] = {"seeds": seeds, "quick": args.quick, "overrides": list(args.override), "budgets": {}}
    for name in args.budgets.split(","):
        records = {}
        for seed in seeds:
            overrides = base_overrides(name, seed, args.quick, args.override, args.dataset)
            records[seed] = run_cell(name, seed, runs, overrides, state)
        cfg = compose(*base_overrides(name, seeds[0], args.quick, args.override, args.dataset))
        res["dataset"] = cfg.dataset.name
        section = summarize_budget(records, Budget.from_config(cfg.budget))
        section["compute"] = {seed: state.entries[f"{name}/seed{seed}"] for seed in seeds}
        res["budgets"][name] = section
    res["machine"] = f"{os.cpu_count()} CPUs"
    res["seconds"] = time.perf_counter() - started
    res["command"] = "python -m benchmarks.bench_compare " + " ".join(argv if argv is not None else sys.argv[1:])
    write_report(out, f"compare{suffix}", res, to_markdown(res), echo=True)
    return res


register("compare", "searched towers vs random search at equal compute vs the baselines, on test")

if __name__ == "__main__":
    main()
