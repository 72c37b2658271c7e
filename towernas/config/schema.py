"""Hydra schemas derived from the code they configure, so the two can never drift apart.

``schema_of`` derives a schema from a value dataclass: OmegaConf turns a frozen dataclass into a read-only node
(no command-line override), so a frozen value class such as ``Dims`` or ``Budget`` cannot be a schema itself;
``schema_of`` makes the mutable twin with the same field names, types and defaults.

``signature_schema`` derives a schema from a constructor (or any callable): one field per parameter, with the
parameter's annotation and default. A ranker, sampler or add-on declares its options once, in its typed
signature, and the config is made from it (``towernas.config.ranker`` and ``towernas.config.addons`` store
them in Hydra's ConfigStore).

Example:
    >>> from towernas.config.space import Dims
    >>> DimsConfig = schema_of(Dims, "DimsConfig")
    >>> DimsConfig().block == Dims().block, [f.name for f in fields(DimsConfig)] == [f.name for f in fields(Dims)]
    (True, True)
    >>> from collections.abc import Sequence
    >>> def tower(catalog, embed: int = 16, hidden: Sequence[int] = (64, 32), rank: Optional[int] = None):
    ...     pass
    >>> TowerOptions = signature_schema(tower, "TowerOptions", skip=("catalog",))
    >>> TowerOptions(), typing.get_type_hints(TowerOptions)["hidden"]
    (TowerOptions(embed=16, hidden=[64, 32], rank=None), list[int])
"""

from __future__ import annotations

import collections.abc
import dataclasses
import inspect
import sys
import types
import typing
from dataclasses import MISSING as NO_DEFAULT
from dataclasses import fields
from typing import Any, Callable, Optional

from omegaconf import MISSING

from towernas.runs.errors import UserError

SCALARS = (int, float, bool, str)
"""The value types a derived option may have (alone, ``Optional``, or in a list)."""


class SchemaError(UserError):
    """A signature that cannot be a config schema (one line naming the parameter, when the entry registers)."""


def schema_of(value_cls: type, name: str, required: tuple[str, ...] = (), module: str = __name__,
              exclude: tuple[str, ...] = ()) -> type:
    """A mutable dataclass with ``value_cls``'s fields but ``exclude``; ``required`` fields (and fields without a
    default) become ``MISSING`` (they must come from a YAML file or the command line). Bind the result to ``name``
    in ``module``."""
    hints = typing.get_type_hints(value_cls)
    spec = []
    for f in fields(value_cls):
        if f.name in exclude:
            continue
        default = MISSING if f.name in required or f.default is NO_DEFAULT else f.default
        spec.append((f.name, hints[f.name], dataclasses.field(default=default)))
    schema = dataclasses.make_dataclass(name, spec)
    schema.__doc__ = f"Hydra schema of ``{value_cls.__module__}.{value_cls.__qualname__}`` (same fields)."
    schema.__module__ = module  # the module that binds it to ``name`` (so it pickles)
    return schema


def signature_schema(target: Callable, name: str, *, skip: tuple[str, ...] = (), bases: tuple[type, ...] = (),
                     extra: tuple[tuple[str, Any, Any], ...] = (), module: str = __name__) -> type:
    """A dataclass with one field per parameter of ``target`` (a class: its constructor) but ``skip`` (the
    arguments the framework supplies), after the ``extra`` fields ``(name, type, default)``; every parameter
    needs an annotation of ``SCALARS`` (``Optional``, or a ``Sequence``/``list``/``tuple`` of one) and a default
    (a sequence default becomes a list). Bind the result to ``name`` in ``module`` (so it pickles)."""
    owner = getattr(target, "__qualname__", repr(target))
    function = target.__init__ if isinstance(target, type) else target
    try:
        hints = typing.get_type_hints(function)
    except Exception as err:  # noqa: BLE001 (any failure to resolve an annotation)
        raise SchemaError(f"{owner}: cannot resolve the constructor's annotations ({err})") from None
    spec = [(key, tp, dataclasses.field(default=value)) for key, tp, value in extra]
    for param in inspect.signature(target).parameters.values():
        if param.name in skip:
            continue
        where = f"{owner}({param.name})"
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD, param.POSITIONAL_ONLY):
            raise SchemaError(f"{where}: options are keyword arguments with defaults, not *args / **kwargs / "
                              "positional-only parameters")
        if param.default is param.empty:
            raise SchemaError(f"{where}: needs a default (its config default)")
        if param.name not in hints:
            raise SchemaError(f"{where}: needs a type annotation (its config type)")
        tp = yaml_type(hints[param.name], where)
        spec.append((param.name, tp, _default(param.default, where)))
    schema = dataclasses.make_dataclass(name, spec, bases=bases)
    schema.__doc__ = f"Options of ``{getattr(target, '__module__', '?')}.{owner}`` (its typed signature)."
    schema.__module__ = module
    return schema


def yaml_type(tp: Any, where: str = "option") -> Any:
    """The OmegaConf type of an annotation: a scalar, ``Optional[scalar]``, ``list[scalar]`` (from any sequence
    annotation) or ``Optional`` of that list; anything else raises ``SchemaError`` naming ``where``."""
    if tp in SCALARS:
        return tp
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1:
            return Optional[yaml_type(rest[0], where)]
    if origin in (list, collections.abc.Sequence) and len(args) == 1 and args[0] in SCALARS:
        return list[args[0]]  # type: ignore[valid-type]
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis and args[0] in SCALARS:
        return list[args[0]]  # type: ignore[valid-type]
    raise SchemaError(f"{where}: annotation {tp!r} has no YAML form; use int, float, bool or str, Optional[...] "
                      "of one, or a Sequence[...] of one")


def _default(value: Any, where: str) -> Any:
    if isinstance(value, (tuple, list)):
        items = list(value)
        return dataclasses.field(default_factory=lambda: list(items))
    if value is not None and not isinstance(value, SCALARS):
        raise SchemaError(f"{where}: default {value!r} has no YAML form")
    return dataclasses.field(default=value)


_DERIVED: dict[tuple[str, str], tuple[Callable, type]] = {}


def derived_schema(target: Callable, name: str, *, module: str, **how: Any) -> type:
    """``signature_schema(target, name, **how)``, made once per ``target`` and bound to ``name`` in ``module``
    (a new target under the same name, e.g. a re-registered entry, replaces it)."""
    known = _DERIVED.get((module, name))
    if known is None or known[0] is not target:
        schema = signature_schema(target, name, module=module, **how)
        setattr(sys.modules[module], name, schema)
        known = _DERIVED[(module, name)] = (target, schema)
    return known[1]
