"""The budget setting (``conf/budget/*.yaml``): ``Budget``, the limits on params / FLOPs of the two towers
together, optionally per tower, and ``BudgetConfig``, its Hydra schema derived from it (``null`` per-tower
limit = no limit).

The value class lives here, beside its schema, so the config imports no stage package;
``towernas.complexity.budgets`` re-exports it with the feasibility check. Units are those of
``towernas.complexity`` (trainable params without embedding tables; FLOPs of one user + one item forward).

Example:
    >>> Budget("L", params=240_000, flops=150_000).limits()
    {'params': 240000, 'flops': 150000}
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any, Optional, Protocol

from towernas.config.schema import schema_of
from towernas.runs.errors import UserError


class Cost(Protocol):
    """What a budget limits: a ``towernas.complexity.TowerCost``."""

    @property
    def params(self) -> int: ...

    @property
    def flops(self) -> int: ...

    @property
    def user_params(self) -> int: ...

    @property
    def user_flops(self) -> int: ...

    @property
    def item_params(self) -> int: ...

    @property
    def item_flops(self) -> int: ...


LIMITS = ("params", "flops", "user_params", "user_flops", "item_params", "item_flops")


class BudgetError(UserError):
    """An invalid or infeasible budget (one-line message)."""


@dataclass(frozen=True)
class Budget:
    """Upper limits (inclusive) on a ``TowerCost``; ``params``/``flops`` are on both towers together.

    Args:
        name: label used in reports ("L", "M", "H", ...).
        params, flops: limits on user + item tower (counts; Python callers may pass a float such as 1e9).
            Integers in the schema, so a resolved config (and its hash) keeps the YAML values verbatim.
        user_params, user_flops, item_params, item_flops: optional per-tower limits (None: none).
    """

    name: str
    params: int
    flops: int
    user_params: Optional[int] = None
    user_flops: Optional[int] = None
    item_params: Optional[int] = None
    item_flops: Optional[int] = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise BudgetError(f"budget.name={self.name!r}: expected a non-empty string")
        for key in LIMITS:
            value = getattr(self, key)
            if value is None and key not in ("params", "flops"):
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise BudgetError(f"budget {self.name}.{key}={value!r}: expected a positive number")

    @classmethod
    def from_config(cls, cfg: Any) -> "Budget":
        """From a ``BudgetConfig`` (the Hydra schema derived from this class), its DictConfig, or a plain dict
        with the same keys."""
        keys = [f.name for f in fields(cls)]
        if isinstance(cfg, dict):
            unknown = sorted(set(cfg) - set(keys))
            if unknown:
                raise BudgetError(f"budget: unknown key(s) {unknown}; expected {keys}")
            return cls(**cfg)
        return cls(**{k: getattr(cfg, k) for k in keys})

    def limits(self) -> dict[str, float]:
        """The limits that are set, by ``TowerCost`` attribute name."""
        return {k: getattr(self, k) for k in LIMITS if getattr(self, k) is not None}

    def admits(self, cost: Cost) -> bool:
        return all(getattr(cost, key) <= limit for key, limit in self.limits().items())

    def violations(self, cost: Cost) -> list[str]:
        """Human-readable list of the limits ``cost`` exceeds (empty when admitted)."""
        return [f"{key} {getattr(cost, key)} > {_num(limit)}" for key, limit in self.limits().items()
                if getattr(cost, key) > limit]

    def __str__(self) -> str:
        return f"budget {self.name} (" + ", ".join(f"{k} <= {_num(v)}" for k, v in self.limits().items()) + ")"


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


BudgetConfig = schema_of(Budget, "BudgetConfig", required=("name", "params", "flops"), module=__name__)
