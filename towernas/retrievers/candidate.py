"""One model to train: a searched architecture or a named baseline (in budget: at a grid size).

``retrain`` trains candidates; a retriever artifact records its candidate (``Candidate.to_dict``) so a cascade
can refit the same model on part of the data (``towernas.cascade.train_lists``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from towernas.complexity import CostModel, TowerCost
from towernas.complexity.budgets import Budget
from towernas.data.spec import DatasetSpec
from towernas.retrievers.hand_built import KIND, SEARCHED, HandBuilt
from towernas.retrievers.sizing import Size
from towernas.retrievers.two_tower import build
from towernas.runs.errors import UserError
from towernas.space import Arch

PAPER = "baseline"  # the kind of a baseline at its paper's layers (no size to choose)


@dataclass(frozen=True)
class Candidate:
    """One model to retrain: a searched architecture or a named baseline (in budget: at ``size``)."""

    name: str
    arch: Arch | None = None
    baseline: str | None = None
    size: Size | None = None

    @property
    def needs_size(self) -> bool:
        """An in-budget baseline whose size is not chosen yet."""
        from towernas.retrievers import is_paper

        return self.baseline is not None and not is_paper(self.baseline) and self.size is None

    def build(self, spec: DatasetSpec, budget: Budget):
        if self.arch is not None:
            return build(self.arch, spec)
        from towernas.retrievers import build_baseline

        return build_baseline(self.baseline, budget, spec, size=self.size)

    def cost(self, model, spec: DatasetSpec) -> TowerCost:
        if self.arch is not None:
            return CostModel(spec, self.arch.dims, len(self.arch.user), len(self.arch.item),
                             space=self.arch.space).cost(self.arch)
        from towernas.complexity.towers import tower_cost

        return tower_cost(model, spec)

    def to_dict(self) -> dict[str, Any]:
        """What rebuilds this model (``from_dict``): a searched architecture's JSON, a hand-built baseline's
        result file (``towernas.retrievers.hand_built``) or ``{"kind": "baseline", "baseline": name}`` (the
        paper's layers). A retriever artifact records it, so the model can be refitted from the artifact."""
        if self.arch is not None:
            return {"kind": SEARCHED, **self.arch.to_dict()}
        if self.size is not None:
            return HandBuilt(self.baseline, self.size).to_dict()
        return {"kind": PAPER, "baseline": self.baseline}

    @classmethod
    def from_dict(cls, data: dict, name: str, where: str = "candidate") -> Candidate:
        """The candidate ``to_dict`` wrote; a bad entry is one line naming ``where``."""
        if not isinstance(data, dict):
            raise UserError(f"{where}: expected an object, got {data!r}")
        kind = data.get("kind", SEARCHED)
        if kind == PAPER:
            from towernas.retrievers import MODELS

            MODELS.get(data.get("baseline"))
            return cls(name, baseline=data["baseline"])
        if kind == KIND:
            tower = HandBuilt.from_dict(data, where)
            return cls(name, baseline=tower.baseline, size=tower.size)
        if kind != SEARCHED:
            raise UserError(f"{where}.kind={kind!r}: expected one of {[SEARCHED, KIND, PAPER]}")
        return cls(name, arch=Arch.from_dict({k: v for k, v in data.items() if k != "kind"}, where))
