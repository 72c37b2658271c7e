"""How a search's fitness reads to a user: the evolution minimises it (``search.fitness=recall``: minus the
supernet's validation Recall@50; ``loss``: the in-batch validation loss), while the progress bar, ``summary.md``,
the terminal and the leaderboard show the score itself: R@50 positive (higher is better), a loss as a loss (lower
is better). The stored fitness (``best.json``, ``archs/*.json``, ``summary.json``'s ``fitness`` fields) is
unchanged; ``summary.json`` says how to read it under ``fitness_shown``. ``FITNESSES`` is what ``search.fitness``
may name, each entry its view.

Example:
    >>> recall = view("recall")
    >>> recall.shown(-0.2917), recall.header, recall.direction
    (0.2917, 'supernet R@50', 'higher is better')
    >>> recall.postfix(-0.2917)
    'best R@50=0.2917'
    >>> loss = view("loss")
    >>> loss.shown(4.25), loss.header, loss.direction, loss.shown(None)
    (4.25, 'supernet loss', 'lower is better', None)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from towernas.runs.registry import Registry


@dataclass(frozen=True)
class FitnessView:
    """A fitness kind: its name in tables, its sign (shown = sign * fitness) and its direction."""

    kind: str
    short: str  # in the progress bar: "R@50" / "loss"
    header: str  # a table column: "supernet R@50" / "supernet loss"
    sign: float  # shown = sign * stored fitness
    meaning: str  # what the shown number is, for a note under a table

    @property
    def higher_is_better(self) -> bool:
        return self.sign < 0

    @property
    def direction(self) -> str:
        return "higher is better" if self.higher_is_better else "lower is better"

    def shown(self, fitness: float | None) -> float | None:
        """The score a user reads for a stored fitness (None stays None)."""
        return None if fitness is None else self.sign * fitness + 0.0  # + 0.0: never a "-0.0"

    def postfix(self, fitness: float) -> str:
        """The evolution's progress-bar text for the best fitness so far."""
        return f"best {self.short}={self.shown(fitness):.4g}"

    def note(self) -> str:
        """One sentence stating what the column holds and which direction is better (once per table)."""
        return f"{self.header}: {self.meaning} ({self.direction})."

    def describe(self) -> dict[str, Any]:
        """``summary.json``'s ``fitness_shown``: how the stored ``fitness`` fields map to the shown score."""
        return {"name": self.header, "shown_as": "fitness" if self.sign > 0 else "-fitness",
                "higher_is_better": self.higher_is_better}


FITNESSES: Registry[FitnessView] = Registry("fitness", key="search.fitness")
FITNESSES.register("recall", FitnessView("recall", "R@50", "supernet R@50", -1.0,
                                         "validation Recall@50 through the supernet's shared weights, minus the "
                                         "fitness the evolution minimises"))
FITNESSES.register("loss", FitnessView("loss", "loss", "supernet loss", 1.0,
                                       "in-batch validation loss through the supernet's shared weights"))


def view(kind: str) -> FitnessView:
    """The view of ``search.fitness`` = ``kind`` (an unknown kind, e.g. from another version's run: shown as
    stored, lower is better)."""
    return FITNESSES[kind] if kind in FITNESSES else FitnessView(kind, "fitness", "supernet fitness", 1.0,
                                                                 "the search's fitness")
