"""The tree reads as the pipeline: commands at the top of ``towernas/``, stage packages below, and the
layering of DESIGN.md (library packages never import ``supernet`` or ``evolution``; ``evolution`` imports
nothing of ours; ``supernet`` never imports ``evolution``), and the lower floors import nothing above them
(``runs`` the ground floor, then ``config``, ``nn``: ``MAY_IMPORT``). Every package imports on its own."""

import ast
import subprocess
import sys

import pytest

from tests.conftest import REPO

COMMANDS = {"retrain", "rank", "report"}
COMMAND_PACKAGES = {"search"}  # a command grown into a package: it wires supernet and evolution in too
PACKAGES = ["towernas.config", "towernas.data", "towernas.nn", "towernas.space", "towernas.complexity",
            "towernas.retrievers", "towernas.rankers", "towernas.cascade", "towernas.samplers", "towernas.addons", "towernas.losses", "towernas.train", "towernas.eval",
            "towernas.serving", "towernas.runs", "towernas.leaderboard", "supernet", "evolution"]


def test_the_top_of_towernas_holds_exactly_the_commands():
    modules = {p.stem for p in (REPO / "towernas").glob("*.py")} - {"__init__"}
    assert modules == COMMANDS
    packages = {p.parent.name for p in (REPO / "towernas").glob("*/__init__.py")}
    assert packages == {name.split(".")[1] for name in PACKAGES if name.startswith("towernas.")} | COMMAND_PACKAGES


# the one exception: the search's settings schema derives the evolution's keys from ``evolution.config``'s
# dataclass (one source per setting; that module holds settings and results only)
SETTINGS_FROM_ENGINE = {"towernas/config/search.py": {"evolution.config"}}


def _modules(path) -> set[str]:
    """Full names of every module ``path`` imports (absolute imports, nested ones too)."""
    tree = ast.parse(path.read_text())
    modules = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module and n.level == 0}
    return modules | {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}


@pytest.mark.parametrize("top", ["towernas", "supernet", "evolution"])
def test_layering(top):
    forbidden = {"towernas": {"supernet", "evolution"}, "supernet": {"evolution"},
                 "evolution": {"towernas", "supernet"}}[top]
    offenders = []
    for path in (REPO / top).rglob("*.py"):
        if top == "towernas" and path.parent.name == "towernas" and path.stem in COMMANDS:
            continue  # the commands wire the packages together
        if top == "towernas" and path.parent.parent.name == "towernas" and path.parent.name in COMMAND_PACKAGES:
            continue
        allowed = SETTINGS_FROM_ENGINE.get(str(path.relative_to(REPO)), set())
        offenders += [f"{path.relative_to(REPO)} imports {m}" for m in _modules(path) - allowed
                      if m.split(".")[0] in forbidden]
    assert not offenders


def test_train_imports_nothing_of_the_search():
    """``train/`` is training only: it never reaches up into the search (``runs/``: see ``MAY_IMPORT``)."""
    offenders = []
    for package in ("train",):
        for path in (REPO / "towernas" / package).rglob("*.py"):
            tree = ast.parse(path.read_text())
            modules = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
            modules |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
            offenders += [f"{path.relative_to(REPO)}: {m}" for m in modules if m.startswith("towernas.search")]
    assert not offenders


# modules that sit on an import cycle if a package ``__init__`` is made eager again
CYCLE_PRONE = ["towernas.space.ops", "towernas.space.poolings", "towernas.space.arch", "towernas.complexity.model",
               "towernas.complexity.budgets", "towernas.config.budget", "towernas.nn.embeddings", "towernas.data.spec",
               "towernas.data.load", "towernas.data.ragged", "towernas.train.objective", "towernas.addons.base",
               "towernas.data.train_stats"]


@pytest.mark.parametrize("module", [*PACKAGES, *CYCLE_PRONE, *(f"towernas.{c}" for c in sorted(COMMANDS | COMMAND_PACKAGES))])
def test_every_package_imports_on_its_own(module):
    proc = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True, cwd=REPO,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]


# the lower floors and what of ``towernas`` each may import (absolute imports, ``TYPE_CHECKING`` ones too): ``runs``
# is the ground floor and names no command key; ``config`` holds the settings (schemas and their value classes,
# e.g. ``Budget``, ``Dims``) and imports no stage package; ``nn`` sits below the space, the retrievers and the
# rankers and may read dataset shapes only
MAY_IMPORT = {
    "runs": ("towernas.runs",),
    "config": ("towernas.config", "towernas.runs"),
    "nn": ("towernas.nn", "towernas.runs", "towernas.data.features", "towernas.data.spec"),
}
# ``config`` derives the options of rankers, samplers and add-ons from their constructors: it reads their
# registries, and only inside functions (so no stage module runs while ``config``'s own modules load)
REGISTRIES_READ = {"config": {"towernas.rankers": {"RANKERS"}, "towernas.samplers": {"SAMPLERS"},
                              "towernas.addons": {"ADDONS"}}}


def _module_level_imports(tree) -> set[str]:
    """Modules imported at a module's top level (outside every function)."""
    nested = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
              for n in ast.walk(f)}
    return {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module and id(n) not in nested}


@pytest.mark.parametrize("package", MAY_IMPORT)
def test_layers_depend_on_nothing_above_them(package):
    offenders = []
    registries = REGISTRIES_READ.get(package, {})
    for path in (REPO / "towernas" / package).rglob("*.py"):
        tree = ast.parse(path.read_text())
        name = path.relative_to(REPO)
        offenders += [f"{name}: {m}" for m in _modules(path)
                      if m.startswith("towernas.") and not m.startswith(MAY_IMPORT[package]) and m not in registries]
        for node in ast.walk(tree):  # a registry read imports the registry's name and nothing else
            if isinstance(node, ast.ImportFrom) and node.module in registries:
                offenders += [f"{name}: {node.module}.{a.name}" for a in node.names if a.name not in registries[node.module]]
        offenders += [f"{name}: {m} at module level" for m in _module_level_imports(tree) & set(registries)]
    assert not offenders


def test_the_serving_side_imports_the_cascade_never_the_reverse():
    """``towernas.serving.cascade`` loads what ``towernas.cascade`` trained and exported; the cascade package reads and
    writes only retriever artifacts (``towernas.serving.retriever`` / ``.export``), never the served cascade."""
    offenders = []
    for path in (REPO / "towernas" / "cascade").rglob("*.py"):
        tree = ast.parse(path.read_text())
        modules = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        offenders += [f"{path.name}: {m}" for m in modules if m.startswith("towernas.serving")
                      and m not in ("towernas.serving.retriever", "towernas.serving.export")]
    assert not offenders
