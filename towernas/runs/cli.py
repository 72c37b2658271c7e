"""What every ``@hydra.main`` entry shares: its run directory, user errors as one line + exit 2, and the
validation score a sweeper (``hydra/sweeper=optuna``) maximises."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any, Callable, Protocol

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from towernas.runs.errors import UserError

log = logging.getLogger(__name__)
# bad input a user can fix (files, configs, budgets, architectures, diverged training): a message, not a
# traceback. Every package's error type derives from UserError (a ValueError); plain ValueErrors of
# library code and missing files are a user's to fix too.
USER_ERRORS: tuple[type[BaseException], ...] = (UserError, ValueError, FileNotFoundError)


def validation_entry(metric: str, mean: float, of: str, *, lower_is_better: bool = False) -> dict:
    """The ``validation`` entry of a command's results: the metric it selects on, its mean over seeds for the
    selected model ``of``, and ``score``, the same oriented so that higher is better (what a sweeper maximises)."""
    return {"metric": metric, "mean": mean, "of": of, "score": -mean if lower_is_better else mean}


class ProcessGroup(Protocol):
    """How a command joins and leaves torchrun's job: ``towernas.train.distributed``, which the command passes
    (``runs/`` is the ground floor and imports no stage package)."""

    def setup(self, device: Any) -> tuple[Any, Any]: ...

    def broadcast_object(self, obj: Any) -> Any: ...

    def cleanup(self) -> None: ...


def run_entry(name: str, run: Callable[[DictConfig, Path], dict], cfg: DictConfig, group: ProcessGroup) -> float:
    """Call ``run(cfg, run_dir)`` and return its results' ``validation.score``: the validation metric the command
    selects on (never a test number), which Hydra hands to a sweeper as the job's return value. ``group``: the
    process group every rank joins first under torchrun (``towernas.train.distributed``).

    A user error exits with ``<name>: error: <message>`` on stderr. In a sweep (``-m``) it is raised instead, so
    the sweeper records that one job as failed (an Optuna trial: FAIL) and goes on under its
    ``max_failure_rate``.
    """
    from towernas.runs.device import resolve_device

    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    try:
        here, _ = group.setup(resolve_device(cfg.device))  # torchrun: join the job (else alone)
        if here.active:  # one run directory for the job: rank 0's (a timestamp can differ by a second)
            run_dir = _adopt(run_dir, Path(group.broadcast_object(str(run_dir))))
        results = run(cfg, run_dir)
    except USER_ERRORS as err:
        log.error("%s", err)
        if hydra_cfg.mode == RunMode.MULTIRUN:
            raise
        sys.exit(f"{name}: error: {err}")
    finally:
        if hydra_cfg.mode != RunMode.MULTIRUN:
            group.cleanup()
    value = float(results["validation"]["score"])
    log.info("%s: validation score %.6f", name, value)
    return value


def _adopt(own: Path, shared: Path) -> Path:
    """``shared`` (rank 0's run directory); this rank's own Hydra directory is removed when it is another one
    holding only Hydra's files (its ``.hydra/`` and log)."""
    if own.resolve() != shared.resolve() and own.is_dir():
        if all(p.name == ".hydra" or p.suffix == ".log" for p in own.iterdir()):
            import shutil

            shutil.rmtree(own, ignore_errors=True)
    return shared
