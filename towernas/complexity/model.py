"""``CostModel``: exact params/FLOPs of any architecture from precomputed per-position tables."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any, Sequence

from towernas.complexity import formulas
from towernas.complexity.formulas import OpCost, TowerCost
from towernas.data.spec import DatasetSpec
from towernas.space.anatomy import ANATOMIES, DEFAULT_ANATOMY
from towernas.space.arch import MAX_DEPTH, MIN_DEPTH, Arch
from towernas.space.dims import Dims
from towernas.space.ops import BLOCK_NAMES, OPS, SKIP
from towernas.space.poolings import POOLING_NAMES, POOLINGS

if TYPE_CHECKING:
    from towernas.complexity.budgets import Budget
    from towernas.space.arch_space import ArchSpace


_Table = list[dict[str, tuple[int, int]]]  # position -> op name -> (params, flops)


class CostModel:
    """Exact tower costs for one dataset shape and one set of widths.

    Costs are additive: fixed part (align + input norm + projection + normalise) + pooling (user tower) +
    one entry per block position (the op, plus its LayerNorm in the ``towernas`` anatomy), where the block
    at 0-based position k sees F + k tokens (the user tower's F counts the ``dims.recent`` latest items). The tables
    are built once from the closed forms in ``formulas`` (no module is instantiated); ``cost`` is a
    handful of dict lookups.

    Args:
        spec: dataset shape (number of user / item input fields, ``max_len``).
        dims: the search-space widths; every costed ``Arch`` must carry the same dims.
        depth_user, depth_item: number of block positions of the searched towers (used by
            ``cheapest``, ``dearest`` and ``table``; ``cost`` accepts any depth up to 7).
        space: the tower anatomy (``towernas.space.anatomy``); every costed ``Arch`` must have it.
        poolings, blocks: the choices ``cheapest`` / ``dearest`` range over (default: all registered).

    Example:
        >>> spec = DatasetSpec((), (), n_items=10, max_len=20)
        >>> model = CostModel(spec, Dims(), 3, 3)
        >>> model.cost(Arch("sum", ("EW-sum", "EW-max", "EW-min"), ("EW-ip",) * 3)).user_flops
        5666
    """

    def __init__(self, spec: DatasetSpec, dims: Dims = Dims(), depth_user: int = 5, depth_item: int = 5,
                 space: str = DEFAULT_ANATOMY, poolings: Sequence[str] = POOLING_NAMES,
                 blocks: Sequence[str] = BLOCK_NAMES) -> None:
        for name, depth in (("depth_user", depth_user), ("depth_item", depth_item)):
            if not MIN_DEPTH <= depth <= MAX_DEPTH:
                raise ValueError(f"{name}={depth}: expected {MIN_DEPTH} to {MAX_DEPTH}")
        self.spec, self.dims, self.space = spec, dims, space
        self.poolings, self.blocks = tuple(poolings), tuple(blocks)
        self.depth_user, self.depth_item = depth_user, depth_item
        anatomy = ANATOMIES[space]
        n_user, n_item = spec.n_user_inputs + dims.recent, spec.n_item_inputs
        self.pooling_ops = {p: POOLINGS[p].cost(spec.max_len, dims) for p in POOLING_NAMES}

        def fixed(n: int) -> OpCost:
            norm = formulas.layer_norm(n, dims.block) if anatomy.input_norm else formulas.ZERO
            return formulas.align(n, dims) + norm + formulas.head(dims)

        def block(name: str, n: int) -> OpCost:
            norm = formulas.layer_norm(1, dims.block) if anatomy.block_norm and name != SKIP else formulas.ZERO
            return OPS[name].cost(n, dims) + norm

        self.fixed_ops = {"user": fixed(n_user), "item": fixed(n_item)}
        self.block_ops = {side: [{name: block(name, n + k) for name in (*BLOCK_NAMES, SKIP)} for k in range(MAX_DEPTH)]
                          for side, n in (("user", n_user), ("item", n_item))}
        self._pool = {p: (c.params, c.flops) for p, c in self.pooling_ops.items()}
        self._fixed = {s: (c.params, c.flops) for s, c in self.fixed_ops.items()}
        self._blocks: dict[str, _Table] = {s: [{n: (c.params, c.flops) for n, c in pos.items()} for pos in t]
                                           for s, t in self.block_ops.items()}

    @classmethod
    def from_space(cls, spec: DatasetSpec, space: "ArchSpace") -> "CostModel":
        """The cost model of every architecture of ``space`` on a dataset shaped like ``spec``."""
        return cls(spec, space.dims, space.depth_user, space.depth_item, space.name, space.poolings, space.blocks)

    # -- costing ---------------------------------------------------------------------------------
    def _tower(self, side: str, blocks: Sequence[str], params: int, flops: int) -> tuple[int, int]:
        table = self._blocks[side]
        fixed = self._fixed[side]
        params += fixed[0]
        flops += fixed[1]
        try:
            for k, name in enumerate(blocks):
                p, f = table[k][name]
                params += p
                flops += f
        except (KeyError, IndexError):
            raise ValueError(f"{side} blocks {list(blocks)}: unknown block or more than {MAX_DEPTH}") from None
        return params, flops

    def user_cost(self, pooling: str, blocks: Sequence[str]) -> tuple[int, int]:
        """(params, flops) of a user tower; no Arch needed (fast path for searchers)."""
        try:
            params, flops = self._pool[pooling]
        except KeyError:
            raise ValueError(f"pooling {pooling!r}: unknown; expected one of {list(POOLING_NAMES)}") from None
        return self._tower("user", blocks, params, flops)

    def item_cost(self, blocks: Sequence[str]) -> tuple[int, int]:
        """(params, flops) of an item tower."""
        return self._tower("item", blocks, 0, 0)

    def cost(self, arch: Arch) -> TowerCost:
        if arch.space != self.space:
            raise ValueError(f"arch space {arch.space!r} differs from the cost model's {self.space!r}")
        if arch.dims != self.dims:
            raise ValueError(f"arch dims {arch.dims.to_dict()} differ from the cost model's {self.dims.to_dict()}")
        return TowerCost(*self.user_cost(arch.pooling, arch.user), *self.item_cost(arch.item))

    # -- extremes --------------------------------------------------------------------------------
    def _extreme(self, pick, skip: bool) -> Arch:
        def key(cost: OpCost) -> tuple[int, int]:
            return cost.flops, cost.params

        pooling = pick(self.poolings, key=lambda p: key(self.pooling_ops[p]))
        towers = {}
        for side, depth in (("user", self.depth_user), ("item", self.depth_item)):
            blocks = []
            for k in range(depth):
                choices = self.blocks + ((SKIP,) if skip and k > 0 else ())
                blocks.append(pick(choices, key=lambda n: key(self.block_ops[side][k][n])))
            towers[side] = tuple(blocks)
        return Arch(pooling, towers["user"], towers["item"], self.dims, space=self.space)

    def cheapest(self, skip: bool = False) -> tuple[Arch, TowerCost]:
        """The architecture with the fewest FLOPs (then params) per tower, and its cost.

        Costs are additive, so this is the per-position minimum. With ``skip=True`` positions 2.. may
        be ``skip`` (searchable depth). In this space the minimum FLOPs op is also a minimum params op
        (EW blocks and ``skip`` have no parameters; in the ``towernas`` anatomy every non-skip block adds the
        same LayerNorm), so no tower is cheaper in either measure.
        """
        arch = self._extreme(min, skip)
        return arch, self.cost(arch)

    def dearest(self) -> tuple[Arch, TowerCost]:
        """The architecture with the most FLOPs (then params) per tower, and its cost."""
        arch = self._extreme(max, False)
        return arch, self.cost(arch)

    # -- export ----------------------------------------------------------------------------------
    def table(self) -> list[dict[str, Any]]:
        """Every table entry as a row (for docs): tower, part, position (1-based), tokens, op, costs."""
        rows = []

        def row(tower: str, part: str, position, tokens, op: str, c: OpCost) -> None:
            rows.append({"tower": tower, "part": part, "position": position, "tokens": tokens, "op": op,
                         "params": c.params, "macs": c.macs, "elementwise": c.elementwise, "flops": c.flops})

        for name, c in self.pooling_ops.items():
            row("user", "pooling", None, self.spec.max_len, name, c)
        for side, depth, n in (("user", self.depth_user, self.spec.n_user_inputs + self.dims.recent),
                               ("item", self.depth_item, self.spec.n_item_inputs)):
            row(side, "fixed", None, n, "align+project+normalize", self.fixed_ops[side])
            for k in range(depth):
                for name, c in self.block_ops[side][k].items():
                    if name != SKIP or k > 0:
                        row(side, "block", k + 1, n + k, name, c)
        return rows


def random_blocks(rng: random.Random, depth: int, skip: bool = False) -> tuple[str, ...]:
    """Uniformly random block names for one tower (``skip`` allowed after position 1 if asked)."""
    later = BLOCK_NAMES + ((SKIP,) if skip else ())
    return (rng.choice(BLOCK_NAMES),) + tuple(rng.choice(later) for _ in range(depth - 1))


def synthetic_spec(max_len: int = 20) -> DatasetSpec:
    """A spec shaped like the synthetic dataset: 4 user fields (+ history), 4 item fields (+ id)."""
    from towernas.data.features import Field

    user = (Field("age", 8), Field("gender", 3), Field("occupation", 22), Field("region", 11))
    item = (Field("category", 19), Field("tags", 30, 4, True), Field("price", 11), Field("year", 30))
    return DatasetSpec(user, item, n_items=1700, max_len=max_len)


def admitted_fraction(cost_model: CostModel, budget: "Budget", n: int = 100_000, seed: int = 0,
                      skip: bool = False) -> float:
    """Fraction of ``n`` uniformly random architectures (depths of ``cost_model``) that fit ``budget``."""
    rng = random.Random(seed)
    hits = 0
    for _ in range(n):
        up, uf = cost_model.user_cost(rng.choice(cost_model.poolings), random_blocks(rng, cost_model.depth_user, skip))
        ip, if_ = cost_model.item_cost(random_blocks(rng, cost_model.depth_item, skip))
        hits += budget.admits(TowerCost(up, uf, ip, if_))
    return hits / n
