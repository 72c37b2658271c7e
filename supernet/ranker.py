"""The ranker supernet: every block of every position of a ``RankerSpace``, one path per forward (SPOS).

Layout (each piece has the shape of its counterpart in ``towernas.rankers.arch.ArchRanker``, so
``export_ranker`` copies weights with ``load_state_dict(strict=True)``):

    fields, linear, head, norm    shared by every path (the pair fields, first-order terms, logit, input norm;
                                  with ``space.pairwise``, FM's parameter-free pairwise term too)
    attention                     DIN's activation unit (paths with history="target")
    align[history]                the per-token alignment of that history's tokens (identity when embed == block)
    positions[history][k][op]     ranker_block(op, n_history + k) for every op allowed at position k

The blocks of the two histories are apart (a target path has one token more, so its blocks have other shapes);
the embeddings, first-order terms, head and norm are shared by all. A path is a genome
``(history, block_1, ..., block_depth)`` (``RankerSpace``). ``use(genome)`` fixes the path the next forwards run
(the search's fitness, ``export_ranker``'s check); ``sample_with(draw)`` makes every training forward draw a new
one (SPOS: the trainer draws budget-feasible paths uniformly). A ``RankerSupernet`` is a ``Ranker``, so the
ranker loop trains it and ``evaluate_ctr`` scores a path. The space has LayerNorms only, so a path evaluated
through the supernet computes exactly what its exported child does.

Example:
    >>> import torch
    >>> from towernas.rankers import Catalog
    >>> from towernas.space.ranker_space import RankerSpace
    >>> net = RankerSupernet(Catalog(n_users=4, n_items=9), RankerSpace(blocks=("FM", "MLP-16"), depth=2))
    >>> net.use(("target", "FM", "MLP-16"))
    >>> net.score({"user": torch.tensor([0, 3]), "history": torch.tensor([[9, 1], [2, 5]])},
    ...           torch.tensor([[1, 2], [4, 5]])).shape
    torch.Size([2, 2])
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from supernet.model import op_key
from towernas.nn.target_attention import TargetAttention
from towernas.rankers.arch import (ANATOMY, ATTENTION_HIDDEN, ArchRanker, logit_of, pair_tokens, pairwise_term,
                                   ranker_block, ranker_dims)
from towernas.rankers.base import LinearTerms, Ranker
from towernas.rankers.inputs import Catalog, PairFields
from towernas.space.chain import chain_blocks, make_align, make_input_norm
from towernas.space.ranker_space import RankerSpace

Genome = tuple[str, ...]


class RankerSupernet(Ranker):
    """Args: catalog; space: the ranker architectures it holds."""

    def __init__(self, catalog: Catalog, space: RankerSpace) -> None:
        super().__init__(catalog)
        self.space = space
        dims = ranker_dims(space.embed, space.block, space.head)
        self.fields = PairFields(catalog, space.embed)
        self.attention = TargetAttention(space.embed, list(ATTENTION_HIDDEN), "prelu") \
            if "target" in space.histories else None
        self.n_tokens = {h: self.fields.n_fields + (h == "target") for h in space.histories}
        self.align = nn.ModuleDict({h: make_align(n, dims) for h, n in self.n_tokens.items()})
        self.norm = make_input_norm(dims, ANATOMY)
        self.positions = nn.ModuleDict({
            h: nn.ModuleList(nn.ModuleDict({op_key(name): ranker_block(name, n + k, dims) for name in choices})
                             for k, choices in enumerate(space.slots()[1:]))
            for h, n in self.n_tokens.items()})
        self.head = nn.Linear(space.block, 1)
        self.linear = LinearTerms(catalog)
        self.pairwise = pairwise_term(self.head, space.pairwise)
        self.path: Genome | None = None
        self.draw: Callable[[], Genome] | None = None

    def use(self, genome: Genome) -> None:
        """Run ``genome`` until told otherwise (an invalid one: one-line ArchError)."""
        self.space.arch(genome)  # validates names and depth
        if genome[0] not in self.positions or any(g not in s for g, s in zip(genome, self.space.slots())):
            raise ValueError(f"{genome}: not a path of this supernet (its space: {self.space})")
        self.path, self.draw = tuple(genome), None

    def sample_with(self, draw: Callable[[], Genome]) -> None:
        """Every forward in training mode runs a fresh ``draw()`` (evaluation mode runs ``self.path``)."""
        self.draw = draw

    def current(self) -> Genome:
        if self.training and self.draw is not None:
            return self.draw()
        if self.path is None:
            raise RuntimeError("RankerSupernet: no path to run; call use(genome) (or sample_with for training)")
        return self.path

    def forward(self, batch: dict[str, torch.Tensor], items: torch.Tensor) -> torch.Tensor:
        genome = self.current()
        history, blocks = genome[0], genome[1:]
        pairs = pair_tokens(self.fields, self.attention if history == "target" else None, batch, items)
        tokens = self.norm(self.align[history](pairs))
        chosen = [position[op_key(name)] for position, name in zip(self.positions[history], blocks)]
        deep = self.head(chain_blocks(tokens, chosen))
        return logit_of(deep, pairs, self.pairwise, self.fields.n_fields).view(items.shape) + self.linear(batch, items)


def export_ranker(net: RankerSupernet, genome: Genome) -> ArchRanker:
    """``genome``'s path as a standalone ``ArchRanker`` with the supernet's weights (strict load)."""
    arch = net.space.arch(genome)
    history, blocks = genome[0], genome[1:]
    child = ArchRanker(net.catalog, **arch.hyperparameters())
    state = {}
    for prefix, module in (("fields.", net.fields), ("linear.", net.linear), ("head.", net.head),
                           ("norm.", net.norm), ("align.", net.align[history])):
        state.update({prefix + k: v for k, v in module.state_dict().items()})
    if history == "target":
        state.update({"attention." + k: v for k, v in net.attention.state_dict().items()})
    for k, name in enumerate(blocks):
        block = net.positions[history][k][op_key(name)]
        state.update({f"blocks.{k}.{key}": v for key, v in block.state_dict().items()})
    child.load_state_dict(state, strict=True)
    return child
