"""Hydra schemas derived from the value classes they configure, so the two can never drift apart.

OmegaConf turns a frozen dataclass into a read-only node (no command-line override), so a frozen value
class such as ``Dims`` or ``Budget`` cannot be a schema itself; ``schema_of`` makes the mutable twin
with the same field names, types and defaults.

Example:
    >>> from towernas.config.space import Dims
    >>> DimsConfig = schema_of(Dims, "DimsConfig")
    >>> DimsConfig().block == Dims().block, [f.name for f in fields(DimsConfig)] == [f.name for f in fields(Dims)]
    (True, True)
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import MISSING as NO_DEFAULT
from dataclasses import fields

from omegaconf import MISSING


def schema_of(value_cls: type, name: str, required: tuple[str, ...] = (), module: str = __name__) -> type:
    """A mutable dataclass with ``value_cls``'s fields; ``required`` fields (and fields without a default)
    become ``MISSING`` (they must come from a YAML file or the command line). Bind the result to ``name``
    in ``module``."""
    hints = typing.get_type_hints(value_cls)
    spec = []
    for f in fields(value_cls):
        default = MISSING if f.name in required or f.default is NO_DEFAULT else f.default
        spec.append((f.name, hints[f.name], dataclasses.field(default=default)))
    schema = dataclasses.make_dataclass(name, spec)
    schema.__doc__ = f"Hydra schema of ``{value_cls.__module__}.{value_cls.__qualname__}`` (same fields)."
    schema.__module__ = module  # the module that binds it to ``name`` (so it pickles)
    return schema
