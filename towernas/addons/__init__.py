"""Add-ons that plug into any trainer: debiasing (``debias/``) and contrastive (``contrastive/``) methods.

``build_addons(["pda", "cl4srec"], options)`` builds them by registered name; ``options`` maps a name to
its keyword arguments (the ``addon.<name>`` config nodes). ``WithAddOns`` wraps a backbone so evaluation
and serving use the add-ons' inference scores.
"""

from __future__ import annotations

from typing import Mapping, Sequence

# registration order = the order of `ADDONS.names()`
from towernas.addons.debias import ips  # noqa: F401  isort: skip
from towernas.addons.debias import relmf  # noqa: F401  isort: skip
from towernas.addons.debias import ubpr  # noqa: F401  isort: skip
from towernas.addons.debias import pda  # noqa: F401  isort: skip
from towernas.addons.debias import macr  # noqa: F401  isort: skip
from towernas.addons.debias import dice  # noqa: F401  isort: skip
from towernas.addons.contrastive import cl4srec  # noqa: F401  isort: skip
from towernas.addons.base import ADDONS, AddOn, AddOnError
from towernas.addons.model import RankerWithAddOns, WithAddOns


def build_addons(names: Sequence[str], options: Mapping[str, Mapping] | None = None, *, key: str = "addons",
                 seed: int = 0) -> list[AddOn]:
    """The add-ons ``names`` (each at most once) with their ``options``; an unknown name: one line listing the
    known ones, a bad option: one line naming ``addon.<name>.<option>``."""
    options = options or {}
    if len(set(names)) != len(names):
        raise AddOnError(f"{key}={list(names)}: an add-on is listed twice")
    out = []
    for name in names:
        ADDONS.get(name, key=key)
        kwargs = dict(options.get(name, {}) or {})
        if "seed" in ADDONS.get(name).__init__.__code__.co_varnames:
            kwargs.setdefault("seed", seed)
        addon = ADDONS.build(name, **kwargs)
        addon.options = kwargs  # what a resumed run must match (``RetrievalObjective.describe``)
        out.append(addon)
    return out


__all__ = ["ADDONS", "AddOn", "AddOnError", "RankerWithAddOns", "WithAddOns", "build_addons"]
