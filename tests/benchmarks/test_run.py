"""``python -m benchmarks.run``: every module of ``benchmarks/bench_*.py`` is registered and listed, and one
runs by name."""

import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import run
from benchmarks.common.registry import BENCHMARKS, discover, register

BENCH_DIR = Path(run.__file__).resolve().parent
MAKEFILE = BENCH_DIR.parent / "Makefile"


def test_every_benchmark_module_is_registered_with_a_description():
    names = sorted(p.stem.removeprefix("bench_") for p in BENCH_DIR.glob("bench_*.py"))
    registry = discover()
    assert sorted(registry) == names
    for name in names:
        entry = registry[name]
        assert entry.module == f"benchmarks.bench_{name}" and entry.description and "\n" not in entry.description
    assert set(run.DEFAULT) <= {name for name in names if registry[name].run is not None}


@pytest.mark.parametrize("name", ["fidelity", "own_data"])
def test_make_bench_name_runs_the_benchmark_of_that_name(name):
    """The Makefile's one ``bench-%`` rule, expanded by make itself (dry run): dashes become underscores."""
    entry = discover()[name]
    target = entry.make.removeprefix("make ")
    proc = subprocess.run(["make", "-n", "-W", "Makefile", target, "ARGS=--quick", "PY=py", "VENV=/nonexistent"],
                          cwd=MAKEFILE.parent, capture_output=True, text=True, timeout=60)
    assert f"py -m benchmarks.run {name} --quick" in proc.stdout.splitlines(), proc.stdout + proc.stderr


def test_registering_again_keeps_the_first_entry():
    discover()
    first = BENCHMARKS["fidelity"]
    assert register("fidelity", "another line") is first


def test_list_prints_every_benchmark(capsys):
    run.main(["--list"])
    lines = capsys.readouterr().out.splitlines()
    assert sorted(line.split()[0] for line in lines) == sorted(BENCHMARKS)
    assert any(line.startswith("fidelity") and "make bench-fidelity" in line for line in lines)
    assert any(line.startswith("own_data") and "make bench-own-data" in line for line in lines)


def test_an_unknown_name_is_a_one_line_error():
    with pytest.raises(SystemExit, match="'nope': unknown benchmark; expected one of"):
        run.main(["nope"])


def test_one_benchmark_runs_by_name_as_its_own_module(monkeypatch):
    calls = []
    monkeypatch.setattr(run.runpy, "run_module", lambda module, **kw: calls.append((module, list(sys.argv), kw)))
    monkeypatch.setattr(sys, "argv", ["benchmarks.run"])
    run.main(["fidelity", "--quick", "--n-archs", "6"])
    assert calls == [("benchmarks.bench_fidelity", ["benchmarks.bench_fidelity", "--quick", "--n-archs", "6"],
                      {"run_name": "__main__", "alter_sys": True})]


def test_the_suite_writes_its_tables(tmp_path, monkeypatch):
    discover()
    monkeypatch.setitem(BENCHMARKS, "complexity", BENCHMARKS["complexity"].__class__(
        "complexity", "benchmarks.bench_complexity", "x", run=lambda quick: {"name": "fake", "n": 3}))
    run.main(["--only", "complexity", "--out", str(tmp_path), "--quick"])
    md = (tmp_path / "results.md").read_text()
    assert "## complexity: fake" in md and "| n | 3 |" in md
    assert (tmp_path / "results.json").exists()
