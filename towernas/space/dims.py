"""Widths shared by every op of the search space; part of each architecture's JSON.

``Dims`` is the ``space.dims`` setting's value class, defined with its schema in ``towernas.config.space`` (the
config imports no stage package) and re-exported here.
"""

from __future__ import annotations

from towernas.config.space import Dims

__all__ = ["Dims"]
