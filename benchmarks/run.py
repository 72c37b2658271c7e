"""``make bench``: every benchmark from one entry point.

    python -m benchmarks.run --list                      # every benchmark: name, make target, what it measures
    python -m benchmarks.run NAME [ARGS...]              # one benchmark, as ``python -m benchmarks.bench_NAME ARGS``
    python -m benchmarks.run [--quick] [--only data,eval] [--out bench_results]

Without a name: the quick suite (the benchmarks registered with a ``run(quick)``; by default data, eval,
complexity, search and rankers), printed and written to ``<out>/results.{json,md}``. The long benchmarks
(``fidelity``, ``compare``, ...) run by name: ``make bench-<name>`` is ``python -m benchmarks.run <name>``.
"""

from __future__ import annotations

import json
import os
import platform
import runpy
import sys
import time

from benchmarks.common import benchmark_parser, markdown_table, write_report
from benchmarks.common.registry import BENCHMARKS, discover, module_names

DEFAULT = ("data", "eval", "complexity", "search", "rankers")


def listing() -> str:
    """One line per benchmark: name, ``make`` command, description."""
    entries = [BENCHMARKS[name] for name in sorted(discover())]
    width = max(len(e.name) for e in entries)
    make = max(len(e.make) for e in entries)
    return "\n".join(f"{e.name:<{width}}  {e.make:<{make}}  {e.description}" for e in entries)


def run_one(name: str, argv: list[str]) -> None:
    """``python -m benchmarks.bench_<name> argv`` in this process."""
    if name not in module_names():
        raise SystemExit(f"benchmarks.run: {name!r}: unknown benchmark; expected one of {module_names()}")
    sys.argv = [f"benchmarks.bench_{name}", *argv]
    runpy.run_module(f"benchmarks.bench_{name}", run_name="__main__", alter_sys=True)


def suite(argv: list[str]) -> dict:
    """The quick suite (``--only``), printed and written to ``<out>/results.{json,md}``."""
    parser = benchmark_parser(__doc__, quick="10x smaller sizes, for a smoke run")
    parser.add_argument("--only", default=",".join(DEFAULT), help="comma-separated subset of the benchmarks "
                        "with a run(quick) (see --list)")
    parser.add_argument("--list", action="store_true", help="list every benchmark and exit")
    args = parser.parse_args(argv)
    if args.list:
        print(listing())
        return {}
    discover()
    names = args.only.split(",")
    runnable = [name for name in BENCHMARKS if BENCHMARKS[name].run is not None]
    for name in names:
        if name not in runnable:
            parser.error(f"--only {name}: expected some of {runnable}")
    results = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
               "started": time.strftime("%Y-%m-%d %H:%M:%S"), "quick": args.quick, "benchmarks": {}}
    for name in names:
        print(f"== {name}", flush=True)
        results["benchmarks"][name] = BENCHMARKS[name].run(quick=args.quick)
        print(json.dumps(results["benchmarks"][name], indent=2), flush=True)
    write_report(args.out, "results", results, to_markdown(results))
    print(f"wrote {args.out}/results.json and {args.out}/results.md")
    return results


def to_markdown(results: dict) -> str:
    """The suite's report: per benchmark, a table of its top-level values (nested ones as JSON)."""
    lines = [f"# TowerNAS benchmarks ({results['started']}, {results['machine']['cpus']} CPUs)", ""]
    for name, res in results["benchmarks"].items():
        rows = [[key, json.dumps(value) if isinstance(value, (dict, list)) else value]
                for key, value in res.items() if key != "name"]
        lines += [f"## {name}: {res.get('name', '')}", "", markdown_table(["metric", "value"], rows), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv and not argv[0].startswith("-"):
        run_one(argv[0], argv[1:])
    else:
        suite(argv)


if __name__ == "__main__":
    main()
