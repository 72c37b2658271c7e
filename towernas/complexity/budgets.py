"""Complexity budgets: limits on params / FLOPs of the two towers together, optionally per tower.

Presets (AutoTower, Table 3) live in ``conf/budget/{L,M,H}.yaml``; units are those of
``towernas.complexity`` (trainable params without embedding tables; FLOPs of one user + one item
forward, MACs + one per element-wise output).

Example:
    >>> budget = Budget("L", params=240_000, flops=150_000)
    >>> budget.admits(TowerCost(user_params=100_000, user_flops=90_000, item_params=50_000, item_flops=50_000))
    True
    >>> Budget("L", params=240_000, flops=150_000, item_flops=40_000).violations(
    ...     TowerCost(100_000, 90_000, 50_000, 50_000))
    ['item_flops 50000 > 40000']
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, Optional

from towernas.complexity.formulas import TowerCost
from towernas.runs.errors import UserError

if TYPE_CHECKING:
    from towernas.complexity.model import CostModel

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

    def admits(self, cost: TowerCost) -> bool:
        return all(getattr(cost, key) <= limit for key, limit in self.limits().items())

    def violations(self, cost: TowerCost) -> list[str]:
        """Human-readable list of the limits ``cost`` exceeds (empty when admitted)."""
        return [f"{key} {getattr(cost, key)} > {_num(limit)}" for key, limit in self.limits().items()
                if getattr(cost, key) > limit]

    def __str__(self) -> str:
        return f"budget {self.name} (" + ", ".join(f"{k} <= {_num(v)}" for k, v in self.limits().items()) + ")"


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def check_feasible(cost_model: CostModel, budget: Budget, skip: bool = False) -> TowerCost:
    """Return the cheapest possible cost if ``budget`` admits it; else raise a one-line BudgetError.

    The cheapest architecture minimises params and FLOPs of each tower at once (see
    ``CostModel.cheapest``), so if it does not fit, nothing does.
    """
    _, cheapest = cost_model.cheapest(skip=skip)
    if not budget.admits(cheapest):
        raise BudgetError(f"{budget} admits no architecture: the cheapest possible costs {cheapest} "
                          f"(exceeds {', '.join(budget.violations(cheapest))})")
    return cheapest
