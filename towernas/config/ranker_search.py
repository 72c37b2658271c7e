"""The ranker search's settings (``conf/search_ranker.yaml``, run as ``python -m towernas.search task=ctr``):
``RankerBudget`` (a limit on FLOPs per candidate and, optionally, params) and the ``ranker_search`` section.

The search trains its ranker supernet and every finalist with the ``rank`` section (lr, batch size, inputs,
early stopping: what ``python -m towernas.rank`` uses) and evolves with the ``search`` section's evolution
keys (population, generations, mutation, ...), the same evolution the tower search runs.

Example:
    >>> budget = RankerBudget("R", flops=50_000)
    >>> budget.admits(type("Cost", (), {"flops": 40_000, "params": 9})()), str(budget)
    (True, 'ranker budget R (flops per candidate <= 50000)')
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Optional

from towernas.config.budget import BudgetError
from towernas.config.schema import schema_of

TASKS = ("ctr", "rating")  # what ``task=`` searches rankers for (``towers``: the tower search; ``conf/config.yaml``)


@dataclass(frozen=True)
class RankerBudget:
    """Upper limits (inclusive) on a ranker's FLOPs per candidate and, when set, its params (embedding tables
    excluded; ``towernas.complexity.rankers``)."""

    name: str
    flops: int
    params: Optional[int] = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise BudgetError(f"ranker_search.budget.name={self.name!r}: expected a non-empty string")
        for key in ("flops", "params"):
            value = getattr(self, key)
            if value is None and key == "params":
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise BudgetError(f"ranker_search.budget.{key}={value!r}: expected a positive number")

    @classmethod
    def from_config(cls, cfg: Any) -> RankerBudget:
        return cls(cfg.name, cfg.flops, cfg.params)

    def admits(self, cost: Any) -> bool:
        return cost.flops <= self.flops and (self.params is None or cost.params <= self.params)

    def __str__(self) -> str:
        limits = [f"flops per candidate <= {self.flops}"] + ([f"params <= {self.params}"] if self.params else [])
        return f"ranker budget {self.name} ({', '.join(limits)})"


RankerBudgetConfig = schema_of(RankerBudget, "RankerBudgetConfig", module=__name__)


@dataclass
class RankerSpaceConfig:
    """``RankerSpace``'s settings: the histories and blocks to choose from (``[]``: every ranker block), the
    positions, the widths, whether every candidate carries FM's raw pairwise term."""

    histories: list[str] = field(default_factory=lambda: ["mean", "target"])
    blocks: list[str] = field(default_factory=list)
    depth: int = 4
    embed: int = 16
    block: int = 16
    head: int = 8
    pairwise: bool = False  # true: every candidate carries FM's pairwise term (off: RankerSpace says why)


@dataclass
class RankerSearchConfig:
    """The ranker search: its space, budget, supernet schedule, fitness and final selection."""

    space: RankerSpaceConfig = field(default_factory=RankerSpaceConfig)
    budget: RankerBudgetConfig = field(  # type: ignore[valid-type]
        default_factory=lambda: RankerBudgetConfig(name="R100k", flops=100_000))
    supernet_epochs: int = 20  # SPOS epochs over the train pairs (a fresh feasible path per batch), early-stopped
    # on the monitor after rank.patience epochs without improvement
    monitor_paths: int = 4  # fixed feasible paths whose mean validation metric picks the supernet's best epoch
    finetune_steps: int = 50  # train batches each path is fine-tuned on alone before it is scored (0: none)
    fitness_pairs: Optional[int] = 20_000  # the validation pairs a path's fitness reads (a fixed sample; None: all)
    final_candidates: int = 4  # the evolution's best distinct genomes, each trained as `python -m towernas.rank` does
    min_distance: int = 2  # slots in which two finalists differ at least
    seed_hand_built: bool = True  # the in-space FM + widest MLP rankers (per history) seed the population and finals
