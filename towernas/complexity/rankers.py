"""Exact cost of a ranker genome without building it: ``RankerCostModel`` (the ranker search's fast path).

A ranker architecture (``towernas.rankers.arch.ArchRanker``) costs, per candidate,

    base(history) + sum_k [ block_k's formula on n_h + k tokens + its LayerNorm (none for skip) ]

where n_h is the number of pair tokens (the pair fields, + 1 with ``history="target"``) and ``base(history)``
is everything around the blocks: the candidate's fields, the pair features, the alignment and input norm, DIN's
attention (``target``), the shortcut, the head, the first-order terms and FM's pairwise term (``pairwise``).
``base`` is measured once per history by the mechanical counter (``towernas.rankers.cost.ranker_cost``) on a
one-block ranker minus that block's formula; the block formulas are ``towernas.space.ranker_ops``'.
``tests/supernet/test_ranker_supernet.py`` checks the sum against the counter on random genomes. Units: params
without embedding tables, FLOPs per candidate (what one more candidate of a query adds:
``RankerCost.flops_per_candidate``).

Example:
    >>> from towernas.rankers import Catalog
    >>> from towernas.space.ranker_space import RankerSpace
    >>> model = RankerCostModel(Catalog(n_users=3, n_items=5, max_len=4), RankerSpace(depth=2))
    >>> model.cost(("mean", "FM", "skip")).flops < model.cost(("mean", "FM", "MLP-64")).flops
    True
"""

from __future__ import annotations

from typing import NamedTuple

from towernas.complexity.formulas import OpCost, layer_norm
from towernas.space.ops import SKIP
from towernas.space.ranker_ops import RANKER_OPS

PROBE_BLOCK = "EW-sum"  # the one block of the ranker ``base`` is measured on (no parameters, D FLOPs)


class GenomeCost(NamedTuple):
    """A ranker genome's params (embedding tables excluded) and FLOPs per candidate."""

    params: int
    flops: int


class RankerCostModel:
    """``cost(genome)`` of every genome of ``space`` for rankers built on ``catalog``."""

    def __init__(self, catalog, space) -> None:
        from towernas.rankers.arch import ArchRanker, ranker_dims
        from towernas.rankers.cost import ranker_cost

        self.space = space
        self.dims = ranker_dims(space.embed, space.block, space.head)
        self.base: dict[str, GenomeCost] = {}
        self.tokens: dict[str, int] = {}
        for history in space.histories:
            probe = ArchRanker(catalog, [PROBE_BLOCK], history, space.embed, space.block, space.head, space.pairwise)
            self.tokens[history] = n = probe.n_tokens
            measured, block = ranker_cost(probe), self.block_cost(PROBE_BLOCK, n)
            self.base[history] = GenomeCost(measured.params - block.params,
                                            measured.flops_per_candidate - block.flops)

    def block_cost(self, name: str, n_inputs: int) -> OpCost:
        """Block ``name`` on ``n_inputs`` tokens with the LayerNorm after it (``skip``: free)."""
        if name == SKIP:
            return OpCost(0, 0, 0)
        return RANKER_OPS[name].cost(n_inputs, self.dims) + layer_norm(1, self.dims.block)

    def cost(self, genome) -> GenomeCost:
        history, blocks = genome[0], genome[1:]
        n = self.tokens[history]
        total = sum((self.block_cost(name, n + k) for k, name in enumerate(blocks)), OpCost(0, 0, 0))
        base = self.base[history]
        return GenomeCost(base.params + total.params, base.flops + total.flops)
