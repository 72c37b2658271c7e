"""Hydra configs of the installed package, composed from any working directory (no run directory, no logging).

Example:
    >>> cfg = compose("budget=M", "progress=false")
    >>> cfg.budget.name, compose(config="retrain").retrain.export
    ('M', True)
"""

from __future__ import annotations

from pathlib import Path

CONF_DIR = Path(__file__).resolve().parents[2] / "towernas" / "conf"


def compose(*overrides: str, config: str = "config"):
    """The ``config`` (``config``, ``retrain``, ``cascade``, ...) of ``towernas/conf`` with ``overrides``."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    import towernas.config  # noqa: F401  (registers the schemas)

    with initialize_config_dir(config_dir=str(CONF_DIR.resolve()), version_base="1.3"):
        return hydra_compose(config, overrides=list(overrides))
