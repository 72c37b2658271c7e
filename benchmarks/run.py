"""``make bench``: run the quick benchmarks, print the results, write bench_results/results.{json,md}.

    python -m benchmarks.run [--quick] [--only data,eval]

The search's fidelity gate (``make bench-fidelity``, ~1 h) and the comparison (``make bench-compare``,
hours) have their own targets; ``--only fidelity`` runs the former from here too.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import time
from pathlib import Path

BENCHMARKS = {
    "data": "benchmarks.bench_data",
    "own_data": "benchmarks.bench_own_data",
    "eval": "benchmarks.bench_eval",
    "complexity": "benchmarks.bench_complexity",
    "search": "benchmarks.bench_search",
    "rankers": "benchmarks.bench_rankers",
    "fidelity": "benchmarks.bench_fidelity",
}
DEFAULT = ("data", "eval", "complexity", "search", "rankers")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="10x smaller sizes, for a smoke run")
    parser.add_argument("--only", default=",".join(DEFAULT), help=f"comma-separated subset of {list(BENCHMARKS)}")
    parser.add_argument("--out", default="bench_results")
    args = parser.parse_args()
    results = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
               "started": time.strftime("%Y-%m-%d %H:%M:%S"), "quick": args.quick, "benchmarks": {}}
    for name in args.only.split(","):
        module = importlib.import_module(BENCHMARKS[name])
        print(f"== {name}", flush=True)
        results["benchmarks"][name] = module.run(quick=args.quick)
        print(json.dumps(results["benchmarks"][name], indent=2), flush=True)
    out = Path(args.out)
    out.mkdir(exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2))
    (out / "results.md").write_text(to_markdown(results))
    print(f"wrote {out / 'results.json'} and {out / 'results.md'}")


def to_markdown(results: dict) -> str:
    lines = [f"# TowerNAS benchmarks ({results['started']}, {results['machine']['cpus']} CPUs)", ""]
    for name, res in results["benchmarks"].items():
        lines += [f"## {name}: {res.get('name', '')}", "", "| metric | value |", "|---|---|"]
        for key, value in res.items():
            if key != "name":
                lines.append(f"| {key} | {json.dumps(value) if isinstance(value, (dict, list)) else value} |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
