"""The built wheel ships the Hydra configs and its commands run from a non-editable install.

The checkout's top-level ``conf/`` is the one place configs are edited; ``towernas/conf`` is a relative
symlink to it, which setuptools follows when it copies package data, so the wheel holds real files at
``towernas/conf/`` and ``@hydra.main(config_path="conf")`` finds them next to the installed module.
"""

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import CONF_DIR, REPO

# the tiny search of the brief, a little shorter still: seconds on 2 cores
SEARCH = ["dataset=synthetic-tiny", "supernet=tiny", "supernet.steps=10", "search.population=4",
          "search.generations=1", "search.val_batches=1", "search.val_batch_size=64", "search.random_baseline=0",
          "progress=false", "device=cpu"]


def _run(cmd, **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kwargs)
    assert proc.returncode == 0, f"{cmd} exited {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def _build_wheel(out: Path) -> Path:
    """The wheel of the checkout, built offline (no build isolation: the venv's setuptools). One test
    builds it, so xdist workers never race on the in-tree build/ dir pip uses."""
    had_build_dir = (REPO / "build").exists()
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INDEX": "1"}
    try:
        _run([sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "--no-build-isolation", "-w", str(out)],
             env=env)
    finally:
        if not had_build_dir:  # drop the build/ this test created (a stale build/lib leaks into later wheels)
            shutil.rmtree(REPO / "build", ignore_errors=True)
    (whl,) = out.glob("towernas-*.whl")
    return whl


@pytest.mark.slow
def test_wheel_ships_the_configs_and_runs_a_search_installed_non_editable(tmp_path):
    wheel = _build_wheel(tmp_path / "wheel")
    checkout = {p.relative_to(CONF_DIR).as_posix(): p.read_bytes() for p in CONF_DIR.rglob("*.yaml")}
    with zipfile.ZipFile(wheel) as zf:
        shipped = {n[len("towernas/conf/"):]: zf.read(n) for n in zf.namelist()
                   if n.startswith("towernas/conf/") and n.endswith(".yaml")}
    assert {"config.yaml", "retrain.yaml"} <= shipped.keys()
    assert sorted(shipped) == sorted(checkout), "wheel and conf/ differ (a stale build/ dir? rm -rf build)"
    assert shipped == checkout  # real file contents, not symlinks

    site = tmp_path / "site"
    _run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--target", str(site), str(wheel)],
         env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    assert (site / "towernas" / "conf" / "config.yaml").is_file()
    assert not (site / "towernas" / "conf").is_symlink()

    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), *filter(None, [os.environ.get("PYTHONPATH")])]),
           "TOWERNAS_DATA": str(tmp_path / "data"), "WANDB_MODE": "disabled", "TOWERNAS_OFFLINE": "1",
           "OMP_NUM_THREADS": "1"}
    # PYTHONPATH precedes the venv's editable finder (appended to sys.meta_path): the packages, and so the
    # conf/ Hydra resolves next to towernas/search.py, must all come from the installed wheel, not the checkout
    probe = ("import json, importlib.resources, towernas, supernet, evolution; print(json.dumps("
             "[m.__file__ for m in (towernas, supernet, evolution)]"
             " + [str(importlib.resources.files('towernas.conf') / 'config.yaml')]))")
    paths = json.loads(_run([sys.executable, "-c", probe], cwd=cwd, env=env).stdout)
    assert all(Path(p).resolve().is_relative_to(site.resolve()) for p in paths), paths

    run = tmp_path / "run"
    _run([sys.executable, "-m", "towernas.search", *SEARCH, f"hydra.run.dir={run}"], cwd=cwd, env=env)
    best = json.loads((run / "best.json").read_text())
    assert best["user"] and best["item"]
