"""Baselines at equal cost: each baseline family's small grid of sizes, the members that fit a budget, and
the choice among them on validation.

The paper's layer lists (``dnn.BUDGET_LAYERS``, the ``<family>_paper`` baselines) exceed the budgets
they are named after (GoogleDNN-L: 314k FLOPs for L's 150k). The in-budget baseline ``<family>`` is
instead the best, on validation, of the grid members that the budget admits by the exact counter
(``towernas.complexity.towers.tower_cost``). Members over the budget are dropped, never trained.

Grids (DNN layer lists: the last is the tower output; ReLU in between, so ``[64]`` is a linear tower),
with their cost on the embedded dataset (E = 64, 4 + 1 inputs per tower, history 20), total FLOPs:

- ``google_dnn``, ``senet``: [64] 43k, [128,64] 100k, [128,128] 117k, [256,64] 199k, [256,128] 232k,
  [512,256,128] 659k (SENET ~1k more). L fits 3, M 5, H 6.
- ``bst`` (besides the DNN, the transformer's attention width ``heads`` x ``head_dim`` and its ``ffn``
  width, written h x d/f here; the residual stream stays E wide; ``tokens`` t: only the most recent t history
  items are attended): [64] 1x4/16 t10 82k, [64] 1x4/16 125k, [64] 1x8/16 149k, [64] 1x16/32 238k, [128]
  1x16/32 279k, [64] 2x16/64 416k, [128,64] 2x16/128 639k. L fits 3, M 5, H 7. The default transformer
  (2 x 32, FFN 256) alone costs ~1 MFLOPs over 20 tokens, more than H. At Amazon's history of 50 the cost
  grows with the tokens attended: [64] 1x4/16 costs 268k there, and the t10 member (82k, whatever the
  history length) keeps an in-budget BST at L.
- ``mind`` (``n_interests`` K, ``capsule`` width C of the routing map S: E -> C; the DNN runs once per
  interest): [64] K2/C16 80k, [64] K4/C16 119k, [128] K2/C16 136k, [128,64] K2/C32 188k, [128] K4/C32
  246k, [256,128] K4/C64 687k. L fits 3, M 5, H 6.

Labels spell the widths out: ``'[64] heads=1 head_dim=4 ffn=16'``, ``'[64] n_interests=2 capsule=16'``.

The selection trains each fitting size once (one seed, a short schedule: ``max_epochs`` / ``patience``)
with the caller's trainer, reads validation only, and keeps the best ``select`` score (ties: the
cheaper, earlier member). The caller then retrains the winner per seed like any other model.

Example:
    >>> from towernas.complexity import Budget, synthetic_spec
    >>> L = Budget("L", params=240_000, flops=150_000)
    >>> [(label, cost.flops) for label, cost in fitting_sizes("google_dnn", L, synthetic_spec())]
    [('[64]', 42502), ('[128,64]', 100102), ('[128,128]', 116614)]
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import nn

from towernas.complexity.budgets import Budget, BudgetError
from towernas.complexity.formulas import TowerCost
from towernas.complexity.towers import tower_cost
from towernas.data.interactions import InteractionData
from towernas.data.spec import DatasetSpec
from towernas.runs.errors import UserError
from towernas.runs.registry import Registry
from towernas.space.dims import Dims
from towernas.train.settings import FitSettings

PAPER = "_paper"  # name suffix of the baselines at the paper's layer lists


@dataclass(frozen=True)
class Size:
    """One grid member: the DNN layer list and the family's other widths (keyword arguments of its class)."""

    layers: tuple[int, ...]
    options: tuple[tuple[str, int], ...] = ()

    @property
    def label(self) -> str:
        """``'[128,64]'``, with the other widths after it: ``'[64] heads=1 head_dim=8 ffn=16'``."""
        return " ".join(["[" + ",".join(map(str, self.layers)) + "]", *(f"{k}={v}" for k, v in self.options)])

    def kwargs(self) -> dict[str, int]:
        return dict(self.options)

    def to_dict(self) -> dict[str, Any]:
        return {"layers": list(self.layers), **self.kwargs()}


def size(*layers: int, **options: int) -> Size:
    """``size(64, heads=1)`` -> ``Size((64,), (("heads", 1),))``."""
    return Size(tuple(layers), tuple(options.items()))


DNN_GRID = (size(64), size(128, 64), size(128, 128), size(256, 64), size(256, 128), size(512, 256, 128))
BST_GRID = (size(64, heads=1, head_dim=4, ffn=16, tokens=10), size(64, heads=1, head_dim=4, ffn=16),
            size(64, heads=1, head_dim=8, ffn=16),
            size(64, heads=1, head_dim=16, ffn=32), size(128, heads=1, head_dim=16, ffn=32),
            size(64, heads=2, head_dim=16, ffn=64), size(128, 64, heads=2, head_dim=16, ffn=128))
MIND_GRID = (size(64, n_interests=2, capsule=16), size(64, n_interests=4, capsule=16),
             size(128, n_interests=2, capsule=16), size(128, 64, n_interests=2, capsule=32),
             size(128, n_interests=4, capsule=32), size(256, 128, n_interests=4, capsule=64))

GRIDS: Registry[tuple[Size, ...]] = Registry("in-budget baseline", key="retrain.baselines")
for _name, _grid in (("google_dnn", DNN_GRID), ("senet", DNN_GRID), ("bst", BST_GRID), ("mind", MIND_GRID)):
    GRIDS.register(_name, _grid)


def grid(name: str) -> tuple[Size, ...]:
    """The grid of the in-budget baseline ``name`` (unknown name: one line listing the known ones)."""
    return GRIDS.get(name)


def grid_size(name: str, chosen: str | Size) -> Size:
    """``chosen`` as a ``Size``: a ``Size`` as is, a label looked up in ``grid(name)``."""
    if isinstance(chosen, Size):
        return chosen
    sizes = {s.label: s for s in grid(name)}
    if chosen not in sizes:
        raise UserError(f"{name} size={chosen!r}: not in its grid; expected one of {list(sizes)}")
    return sizes[chosen]


def build_size(name: str, chosen: str | Size, spec: DatasetSpec, dims: Dims = Dims()) -> nn.Module:
    """A freshly initialised ``name`` at grid size ``chosen`` (no budget check: see ``build_in_budget``)."""
    from towernas.retrievers import MODELS  # the registry of baseline classes imports this module

    chosen = grid_size(name, chosen)
    return MODELS.build(name, spec, chosen.layers, dims, **chosen.kwargs())


def build_in_budget(name: str, budget: Budget, spec: DatasetSpec, dims: Dims = Dims(),
                    chosen: str | Size | None = None) -> nn.Module:
    """``name`` at size ``chosen``, which ``budget`` must admit by the exact counter (else a BudgetError)."""
    if chosen is None:
        labels = [s.label for s in grid(name)]
        raise UserError(f"baseline {name!r} is sized on validation: pass size= one of {labels} "
                        f"(sizing.select_size chooses it), or use {name}{PAPER} for the paper's layers")
    if not isinstance(budget, Budget):
        raise UserError(f"baseline {name!r} must fit a budget: pass a towernas.complexity.Budget, not {budget!r}")
    model = build_size(name, chosen, spec, dims)
    cost = tower_cost(model, spec)
    if not budget.admits(cost):
        raise BudgetError(f"{name} {grid_size(name, chosen).label} ({cost}) exceeds {budget}: "
                          + ", ".join(budget.violations(cost)))
    return model


def grid_costs(name: str, spec: DatasetSpec, dims: Dims = Dims()) -> list[tuple[Size, TowerCost]]:
    """Every member of ``grid(name)`` with its exact cost on ``spec``, in grid order (counted once per
    name, spec and dims)."""
    return list(_grid_costs(name, spec, dims))


@functools.lru_cache(maxsize=64)
def _grid_costs(name: str, spec: DatasetSpec, dims: Dims) -> tuple[tuple[Size, TowerCost], ...]:
    return tuple((s, tower_cost(build_size(name, s, spec, dims), spec)) for s in grid(name))


def fitting_sizes(name: str, budget: Budget, spec: DatasetSpec, dims: Dims = Dims()) -> list[tuple[str, TowerCost]]:
    """(label, cost) of the members of ``grid(name)`` that ``budget`` admits, in grid order (maybe none)."""
    return [(s.label, cost) for s, cost in grid_costs(name, spec, dims) if budget.admits(cost)]


def require_fit(name: str, budget: Budget, spec: DatasetSpec, dims: Dims = Dims()) -> list[tuple[str, TowerCost]]:
    """``fitting_sizes``, or a one-line BudgetError naming the cheapest member when none fits."""
    return [(s.label, cost) for s, cost in _admitted(name, budget, grid_costs(name, spec, dims))]


def _admitted(name: str, budget: Budget, costs: list[tuple[Size, TowerCost]]) -> list[tuple[Size, TowerCost]]:
    fits = [(s, cost) for s, cost in costs if budget.admits(cost)]
    if not fits:
        cheapest, cost = min(costs, key=lambda sc: (sc[1].flops, sc[1].params))
        raise BudgetError(f"{name}: no size of its grid fits {budget}; the cheapest, {cheapest.label}, costs {cost} "
                          f"({', '.join(budget.violations(cost))}); drop it or use {name}{PAPER}")
    return fits


@dataclass(frozen=True)
class Trial:
    """One fitting size trained for the selection: its cost and its best validation metrics."""

    size: Size
    cost: TowerCost
    valid: dict[str, float]
    best_epoch: int


@dataclass(frozen=True)
class SizeChoice:
    """The size ``select_size`` chose for ``name``, with every trial and the members over the budget."""

    name: str
    size: Size
    select: str
    seed: int
    trials: tuple[Trial, ...]
    over_budget: tuple[tuple[Size, TowerCost], ...] = ()

    @property
    def scores(self) -> dict[str, float]:
        """Validation ``select`` score per size label, in grid order."""
        return {t.size.label: t.valid[self.select] for t in self.trials}

    def to_dict(self) -> dict[str, Any]:
        """The ``sizing`` entry of ``results.json``."""
        return {"chosen": self.size.label, "size": self.size.to_dict(), "select": self.select, "seed": self.seed,
                "grid": [{"size": t.size.label, f"valid/{self.select}": t.valid[self.select],
                          "best_epoch": t.best_epoch, "complexity": t.cost.to_dict()} for t in self.trials],
                "over_budget": [{"size": s.label, "complexity": c.to_dict()} for s, c in self.over_budget]}


def select_size(name: str, budget: Budget, spec: DatasetSpec, data: InteractionData, train_fn: Callable[..., Any],
                settings: FitSettings, *, dims: Dims = Dims(), log: Callable[[dict], None] | None = None,
                **runtime) -> SizeChoice:
    """Train every size of ``grid(name)`` that fits ``budget`` and keep the best on validation.

    Args:
        train_fn: the trainer, called as ``train_fn(model, data, settings, **runtime)`` (e.g.
            ``towernas.train.loop.fit``); it returns a ``FitResult`` (``best_valid``: the validation metrics of its
            selected epoch, ``best_epoch``). Test is never read here.
        settings: the trials' ``FitSettings``: their (short) schedule, their one selection ``seed``, the
            ``select`` metric that picks the size.
        log: called with each epoch record of ``train_fn``, tagged with ``model`` and ``size``.

    Returns:
        The winner (highest validation ``select``; ties go to the earlier, cheaper member) and all trials.
    """
    max_epochs, seed, select = settings.max_epochs, settings.seed, settings.select
    if max_epochs < 1:
        raise UserError(f"{name}: sizing max_epochs={max_epochs}: expected a positive integer")
    costs = grid_costs(name, spec, dims)
    trials = [_trial(name, member, cost, spec, data, train_fn, settings, dims, log, **runtime)
              for member, cost in _admitted(name, budget, costs)]
    best = max(trials, key=lambda t: t.valid[select])  # max keeps the first of equal scores
    over = tuple((s, c) for s, c in costs if not budget.admits(c))
    return SizeChoice(name, best.size, select, seed, tuple(trials), over)


def _trial(name: str, member: Size, cost: TowerCost, spec: DatasetSpec, data: InteractionData,
           train_fn: Callable[..., Any], settings: FitSettings, dims: Dims, log: Callable[[dict], None] | None,
           **runtime) -> Trial:
    """Train ``name`` at ``member`` from a ``settings.seed``-determined initialisation; keep its validation metrics."""
    torch.manual_seed(settings.seed)
    model = build_size(name, member, spec, dims)
    if log is not None:
        runtime["log"] = lambda record: log({"model": name, "size": member.label, **record})
    result = train_fn(model, data, settings, **runtime)
    return Trial(member, cost, dict(result.best_valid), result.best_epoch)
