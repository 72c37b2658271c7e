"""The joint cascade search's settings (``conf/search_cascade.yaml``, run as ``python -m towernas.search
task=cascade``): the ``cascade_search`` section, a budget in FLOPs per request and the list lengths K0 to choose from.

The ranker part of the genome is a path of the ``ranker_search.space`` trained as the ``ranker_search`` section says
(supernet epochs, monitor paths, fine-tuning steps, finalists); it trains on the retriever's lists as a cascade's
ranker does (the ``cascade`` section: lr, negatives, fusion with the retriever's score, pair features); the evolution
runs with the ``search`` section's keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from towernas.runs.errors import UserError


@dataclass
class CascadeSearchConfig:
    """One budget on what a request costs (the user tower, the retrieval and K0 x the ranker), and the K0 values."""

    name: str = "C1M"  # the budget's name (run directories and reports)
    flops: int = 1_000_000  # FLOPs per request (towernas.complexity.cascade.RequestCost), inclusive
    k0s: list[int] = field(default_factory=lambda: [20, 50, 100, 200])  # the list lengths the genome chooses from


def check_cascade_search(section) -> None:
    """One line naming the key of a ``cascade_search`` value no search could use."""
    if isinstance(section.flops, bool) or not isinstance(section.flops, int) or section.flops < 1:
        raise UserError(f"cascade_search.flops={section.flops!r}: expected a positive integer (FLOPs per request)")
    if not section.name:
        raise UserError("cascade_search.name='': expected a non-empty budget name")
    k0s = list(section.k0s)
    bad = [k for k in k0s if isinstance(k, bool) or not isinstance(k, int) or k < 1]
    if not k0s or bad:
        raise UserError(f"cascade_search.k0s={k0s}: expected a non-empty list of positive integers (the retriever's "
                        "list lengths to choose from)")
