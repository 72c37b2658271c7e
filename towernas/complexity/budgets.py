"""Complexity budgets: limits on params / FLOPs of the two towers together, optionally per tower, and the
check that a budget admits any architecture. ``Budget`` is the budget setting's value class, defined with its
schema in ``towernas.config.budget`` (the config imports no stage package) and re-exported here.

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

from typing import TYPE_CHECKING

from towernas.complexity.formulas import TowerCost
from towernas.config.budget import LIMITS, Budget, BudgetError

__all__ = ["LIMITS", "Budget", "BudgetError", "check_feasible"]  # the value class is the setting's (config.budget)

if TYPE_CHECKING:
    from towernas.complexity.model import CostModel

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
