"""What every ``@hydra.main`` entry shares: its run directory, and user errors as one line + exit 2."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Callable

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from towernas.runs.errors import UserError

log = logging.getLogger(__name__)
# bad input a user can fix (files, configs, budgets, architectures, diverged training): a message, not a
# traceback. Every package's error type derives from UserError (a ValueError); plain ValueErrors of
# library code and missing files are a user's to fix too.
USER_ERRORS: tuple[type[BaseException], ...] = (UserError, ValueError, FileNotFoundError)


def run_entry(name: str, run: Callable[[DictConfig, Path], object], cfg: DictConfig) -> None:
    """Call ``run(cfg, run_dir)``; a user error exits with ``<name>: error: <message>`` on stderr."""
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        run(cfg, run_dir)
    except USER_ERRORS as err:
        log.error("%s", err)
        sys.exit(f"{name}: error: {err}")
