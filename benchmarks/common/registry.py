"""Every benchmark, by name: what it measures (one line) and, for the ``make bench`` suite, its ``run(quick)``;
``make bench-<name>`` runs it (dashes for underscores). A module of ``benchmarks/bench_<name>.py`` registers itself at import; ``benchmarks.run``
imports them all (``discover``) to list them.

Example:
    >>> entry = Benchmark("own_data", "benchmarks.bench_own_data", "what it measures")
    >>> entry.command, entry.make
    ('python -m benchmarks.bench_own_data', 'make bench-own-data')
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from towernas.runs.registry import Registry

PACKAGE_DIR = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Benchmark:
    """One benchmark: ``name`` (``bench_<name>.py``), its module, a one-line description and, if it is part of
    ``make bench``'s suite, its ``run(quick=...) -> dict``."""

    name: str
    module: str
    description: str
    run: Callable[..., dict] | None = None

    @property
    def command(self) -> str:
        return f"python -m {self.module}"

    @property
    def make(self) -> str:
        """Its ``make`` command (the Makefile's one ``bench-%`` rule)."""
        return "make bench-" + self.name.replace("_", "-")


BENCHMARKS: Registry[Benchmark] = Registry("benchmark", key="benchmarks.run NAME")


def register(name: str, description: str, run: Callable[..., dict] | None = None) -> Benchmark:
    """Register ``benchmarks/bench_<name>.py`` (once: a module run as ``__main__`` and imported again keeps its
    first entry)."""
    if name in BENCHMARKS:
        return BENCHMARKS[name]
    if "\n" in description or not description:
        raise ValueError(f"benchmark {name!r}: the description is one non-empty line")
    return BENCHMARKS.register(name, Benchmark(name, f"benchmarks.bench_{name}", description, run))


def module_names() -> list[str]:
    """The names of the benchmark modules on disk (``benchmarks/bench_<name>.py``), sorted."""
    return sorted(path.stem.removeprefix("bench_") for path in PACKAGE_DIR.glob("bench_*.py"))


def discover() -> Registry[Benchmark]:
    """Import every benchmark module (each registers itself) and return the registry."""
    for name in module_names():
        importlib.import_module(f"benchmarks.bench_{name}")
    return BENCHMARKS
