"""The ``sampler`` and ``addon`` sections: the options of every registered sampler and add-on, derived from their
constructors.

A trainer names what it uses (``retrain.sampler=dns``, ``'retrain.addons=[pda]'``, the same keys under
``supernet.`` and ``rank.`` / ``cascade.``); the options live once, in each constructor's typed signature, and
appear under ``sampler.<name>`` and ``addon.<name>`` (a sampler's parameters after ``seed`` and ``device``, an
add-on's but ``seed``: the trainer supplies those)::

    python -m towernas.retrain retrain.sampler=dns sampler.dns.pool=2048
    python -m towernas.retrain 'retrain.addons=[pda]' addon.pda.gamma=0.2

The root schemas' ``sampler`` and ``addon`` fields default to ``sampler_options()`` and ``addon_options()``, and
``register_configs`` stores the roots again whenever a sampler or add-on registers, so one registered later is
part of every config composed after that.

Example:
    >>> options = sampler_options()
    >>> options.n_negatives, options.dns.pool, addon_options().pda.gamma
    (128, 1024, 0.1)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable

from towernas.config.schema import derived_schema

SAMPLER_ARGUMENTS = ("seed", "device")  # what ``build_sampler`` supplies: not options
ADDON_ARGUMENTS = ("seed",)  # what ``build_addons`` supplies


@dataclass
class SamplerConfig:
    """``sampler.n_negatives``; the composed config adds ``sampler.<name>`` for every registered sampler."""

    n_negatives: int = 128  # per step (shared pool: uniform, popularity, mixed) or per row (dns, cluster)


@dataclass
class AddonConfig:
    """The composed config has ``addon.<name>`` for every registered add-on."""


def sampler_schema(name: str) -> type:
    """The options schema of the sampler registered as ``name`` (from its constructor)."""
    from towernas.samplers import SAMPLERS

    return _schema(SAMPLERS.get(name, key="sampler"), SAMPLER_ARGUMENTS)


def addon_schema(name: str) -> type:
    """The options schema of the add-on registered as ``name`` (from its constructor)."""
    from towernas.addons import ADDONS

    return _schema(ADDONS.get(name, key="addons"), ADDON_ARGUMENTS)


def sampler_options() -> SamplerConfig:
    """The ``sampler`` section's defaults: ``n_negatives`` and every registered sampler's options by name."""
    from towernas.samplers import SAMPLERS

    return _section(SamplerConfig, "SamplerOptions", SAMPLERS.names(), sampler_schema)()


def addon_options() -> AddonConfig:
    """The ``addon`` section's defaults: every registered add-on's options by name."""
    from towernas.addons import ADDONS

    return _section(AddonConfig, "AddonOptions", ADDONS.names(), addon_schema)()


def _schema(target: type, framework: tuple[str, ...]) -> type:
    return derived_schema(target, f"{target.__name__}Options", module=__name__, skip=framework)


_SECTIONS: dict[str, tuple[tuple, type]] = {}


def _section(base: type, name: str, names: tuple[str, ...], schema_of_name: Callable[[str], type]) -> type:
    """``base`` with one field per name, its options schema (rebuilt when the registry changed)."""
    schemas = tuple((n, schema_of_name(n)) for n in names)
    known = _SECTIONS.get(name)
    if known is None or known[0] != schemas:
        spec = [(n, schema, dataclasses.field(default_factory=schema)) for n, schema in schemas]
        section = dataclasses.make_dataclass(name, spec, bases=(base,))
        section.__doc__ = f"{base.__doc__.splitlines()[0]} (the registered ones)"
        section.__module__ = __name__
        globals()[name] = section  # so a config holding it pickles
        known = _SECTIONS[name] = (schemas, section)
    return known[1]
