"""A ranker built from an architecture (``towernas.space.ranker_arch.RankerArch``): ``ranker=arch``.

    tokens   = norm(align(every pair field))  [+ norm(align(DIN interest in the candidate)) with history=target]
    o_k      = norm(block_k(tokens, o_1 .. o_{k-1}))                    k = 1 .. K  (towernas.space.ranker_ops)
    logit    = w · (o_K + mean(tokens)) + b  +  sum_f w_f[x_f]          (first-order terms of every field)
               [+ sum_{f<g} <v_f, v_g>]       (pairwise=True: FM's pairwise term of the raw field embeddings v_f)

The fields are ``PairFields``' (user id and features, the rating inputs, history length, latest item, mean
history, item id and features, the pair features). The blocks run as a tower's do, with the ``towernas``
anatomy's LayerNorms and the same shortcut (``towernas.space.chain``), one chain per
(query, candidate) pair. ``history="target"`` adds DIN's activation unit (``towernas.nn.TargetAttention`` over
the history's items with their side features, against the candidate's) as one more token. With ``pairwise`` the
ranker is an FM with the chain as its deep part, as DeepFM is, and w, b start at zero so training starts from that
FM: the chain sees LayerNorm'd tokens and LayerNorms its outputs, which removes the scale the FM's sum carries, so
without the raw term no architecture holds the registered FM. ``ranker.pairwise=true`` adds +0.004-0.006
validation AUC on both measured sets (``docs/guides/search-rankers.md``); it is off by default so that a ranker
saved before it existed rebuilds as it was trained.

``python -m towernas.rank ranker=arch ranker.arch=<best.json>`` (or ``ranker.blocks=[FM,MLP-64]``) trains one;
``ranker.arch`` is read when the config is (``towernas.config.ranker.hyperparameters``), so a saved ranker carries
its blocks, not a path.

Example:
    >>> import torch
    >>> from towernas.rankers.inputs import Catalog
    >>> ranker = ArchRanker(Catalog(n_users=4, n_items=9), blocks=["FM", "MLP-32", "CROSS-1"], history="target")
    >>> batch = {"user": torch.tensor([0, 3]), "history": torch.tensor([[9, 1], [2, 5]])}
    >>> ranker.score(batch, torch.tensor([[1, 2, 3], [4, 5, 6]])).shape
    torch.Size([2, 3])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

import torch
from torch import nn

from towernas.nn.interactions import FactorizationMachine
from towernas.nn.target_attention import TargetAttention
from towernas.rankers.base import RANKERS, LinearTerms, Ranker
from towernas.rankers.inputs import Catalog, PairFields

# towernas.space is imported where it is used: it imports the config package, which registers every ranker
ANATOMY = "towernas"  # LayerNorms on the input tokens and after every block: products stay well-scaled
ATTENTION_HIDDEN = (36,)  # DIN's activation unit (history="target")


def ranker_dims(embed: int, block: int, head: int):
    """The ``Dims`` the blocks are built with: D = ``block``, self-attention heads of width ``head``."""
    from towernas.space.dims import Dims

    return Dims(embed=embed, block=block, out=block, head=head, attn=head, recent=0)


def ranker_block(name: str, n_inputs: int, dims) -> nn.Module:
    """Block ``name`` (``RANKER_OPS``) over ``n_inputs`` tokens, LayerNorm'd after as a ``towernas`` tower's."""
    from towernas.space.chain import make_block
    from towernas.space.ranker_ops import RANKER_OPS

    return make_block(name, n_inputs, dims, ANATOMY, ops=RANKER_OPS)


def pair_tokens(fields: PairFields, attention: TargetAttention | None, batch: dict[str, torch.Tensor],
                items: torch.Tensor) -> torch.Tensor:
    """(B * C, n, embed): every pair's field embeddings, one row per (query, candidate) pair, and with
    ``attention`` (history="target") DIN's attention-pooled history for that candidate as one more token. The
    ``arch`` ranker's tokens, and a ranker supernet path's (``supernet.ranker``)."""
    x = fields(batch, items)
    pairs = x.stacked()  # (B, C, F, E)
    if attention is not None:
        history, target = fields.candidates(batch["history"]).sum(2), x.items.sum(2)
        interest = attention(history, target, x.mask)  # (B, C, E)
        pairs = torch.cat([pairs, interest.unsqueeze(2)], dim=2)
    return pairs.flatten(0, 1)


def pairwise_term(head: nn.Linear, pairwise: bool) -> FactorizationMachine | None:
    """FM's pairwise term when ``pairwise`` (with ``head``, the chain's logit, zeroed: training starts from the FM),
    else None."""
    if not pairwise:
        return None
    nn.init.zeros_(head.weight)
    nn.init.zeros_(head.bias)
    return FactorizationMachine()


def logit_of(deep: torch.Tensor, pairs: torch.Tensor, pairwise: FactorizationMachine | None,
             n_fields: int) -> torch.Tensor:
    """(B * C, 1): the chain's logit ``deep`` plus, with ``pairwise``, FM's term of the pairs' first ``n_fields``
    tokens (the fields; DIN's interest token is not one)."""
    return deep if pairwise is None else deep + pairwise(pairs[:, :n_fields])


@RANKERS.register("arch")
class ArchRanker(Ranker):
    """Args: catalog; blocks: the block names (``towernas.space.ranker_ops``; ``skip`` after the first);
    history: "mean" | "target"; embed: the fields' width; block: D; head: a self-attention head's width;
    pairwise: add FM's pairwise term of the raw field embeddings (and start the chain's logit at zero).
    ``ranker.arch`` (a ``RankerArch`` JSON) replaces all six."""

    config_extra = (("arch", Optional[str], None),)  # a config key read before construction (the JSON's path)

    def __init__(self, catalog: Catalog, blocks: Sequence[str] = ("FM", "MLP-64"), history: str = "mean",
                 embed: int = 16, block: int = 16, head: int = 8,
                 pairwise: bool = False) -> None:  # RankerArch's defaults
        from towernas.space.chain import make_align, make_input_norm
        from towernas.space.ranker_arch import RankerArch

        super().__init__(catalog)
        self.arch = RankerArch(tuple(blocks), history, embed, block, head, pairwise)  # a bad name: one-line ArchError
        dims = ranker_dims(embed, block, head)
        self.fields = PairFields(catalog, embed)
        self.attention = TargetAttention(embed, list(ATTENTION_HIDDEN), "prelu") if history == "target" else None
        self.n_tokens = n_tokens = self.fields.n_fields + (self.attention is not None)  # what block 1 sees
        self.align = make_align(n_tokens, dims)
        self.norm = make_input_norm(dims, ANATOMY)
        self.blocks = nn.ModuleList(ranker_block(name, n_tokens + k, dims) for k, name in enumerate(self.arch.blocks))
        self.head = nn.Linear(block, 1)
        self.linear = LinearTerms(catalog)
        self.pairwise = pairwise_term(self.head, pairwise)

    @classmethod
    def constructor_arguments(cls, options: dict) -> dict:
        """``ranker.arch`` set: the file's architecture (a one-line error if another key is set beside it, since one
        of the two would be ignored); else the keys."""
        import inspect

        from towernas.space.ranker_arch import RankerArch

        options = dict(options)
        path = options.pop("arch", None)
        if path is None:
            return options
        defaults = {k: p.default for k, p in inspect.signature(cls).parameters.items() if k in options}
        changed = sorted(k for k, v in options.items() if v != (list(defaults[k]) if isinstance(defaults[k], tuple)
                                                                 else defaults[k]))
        if changed:
            raise ValueError(f"ranker.arch={path} and ranker.{changed[0]}={options[changed[0]]!r}: the file gives "
                             "every key of the architecture; set one or the other")
        return RankerArch.load(path).hyperparameters()

    def tokens(self, batch: dict[str, torch.Tensor], items: torch.Tensor) -> torch.Tensor:
        """(B * C, n, embed) the pair's field embeddings [+ the attended history], one row per pair."""
        return pair_tokens(self.fields, self.attention, batch, items)

    def forward(self, batch: dict[str, torch.Tensor], items: torch.Tensor) -> torch.Tensor:
        from towernas.space.chain import chain_blocks

        pairs = self.tokens(batch, items)
        deep = self.head(chain_blocks(self.norm(self.align(pairs)), self.blocks))
        return logit_of(deep, pairs, self.pairwise, self.fields.n_fields).view(items.shape) + self.linear(batch, items)
