"""Schema of ``conf/budget/*.yaml``, derived from ``towernas.complexity.budgets.Budget`` (``null`` per-tower
limit = no limit)."""

from __future__ import annotations

from towernas.complexity.budgets import Budget
from towernas.config.schema import schema_of

BudgetConfig = schema_of(Budget, "BudgetConfig", required=("name", "params", "flops"), module=__name__)
