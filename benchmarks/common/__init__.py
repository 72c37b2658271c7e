"""What every benchmark shares: Hydra configs (``compose``; the tests compose through it too), result files
(``write_report``), the command line (``benchmark_parser``; ``print_run`` for a quick one's JSON), per-cell
caches (``JsonlCache``, ``cached_json``) and the registry that ``python -m benchmarks.run --list`` prints.

A benchmark module imports these instead of rewriting them, and registers itself once at its end::

    register("fidelity", "does the search's ranking of architectures mean anything?", run=run)

Independent jobs go through ``towernas.runs.jobs.run_jobs`` (``engine="processes"`` for local worker processes).
"""

from benchmarks.common.cache import JsonlCache, cached_json
from benchmarks.common.config import CONF_DIR, compose
from benchmarks.common.cli import (benchmark_parser, chosen_setups, int_list, parse_setup, print_run,
                                   setup_options)
from benchmarks.common.output import markdown_table, write_report
from benchmarks.common.registry import BENCHMARKS, Benchmark, register

__all__ = ["BENCHMARKS", "Benchmark", "CONF_DIR", "JsonlCache", "benchmark_parser", "cached_json", "chosen_setups",
           "compose", "int_list", "markdown_table", "parse_setup", "print_run", "register", "setup_options",
           "write_report"]
