"""How an architecture's blocks run, for towers and rankers alike: align, input norm, blocks, shortcut.

    tokens (B, F, E) ─► align each to D_blk (identity when E == D_blk) ─► [LayerNorm per token]
        ─► block 1 .. block N [each ─► LayerNorm], block k sees the F tokens + outputs of blocks 1..k-1
        ─► last output + mean of the tokens

The bracketed norms are the ``towernas`` anatomy's (``towernas.space.anatomy``). A tower projects and
L2-normalises the result (``towernas.retrievers.two_tower``); a ranker reads a logit from it
(``towernas.rankers.arch``).
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from towernas.nn.norm import LayerNorm
from towernas.runs.registry import Registry
from towernas.space.anatomy import ANATOMIES
from towernas.space.dims import Dims
from towernas.space.ops import OPS, SKIP


def make_align(n_inputs: int, dims: Dims) -> nn.Module:
    """Per-input linear maps from ``embed`` to ``block`` width (identity when they are equal)."""
    return nn.Identity() if dims.embed == dims.block else AlignInputs(n_inputs, dims.embed, dims.block)


class AlignInputs(nn.Module):
    """One Linear(embed → block) per input token."""

    def __init__(self, n_inputs: int, embed: int, block: int) -> None:
        super().__init__()
        self.maps = nn.ModuleList(nn.Linear(embed, block) for _ in range(n_inputs))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:  # (B, F, E) -> (B, F, D)
        return torch.stack([m(inputs[:, i]) for i, m in enumerate(self.maps)], dim=1)


def make_input_norm(dims: Dims, space: str) -> nn.Module:
    """One LayerNorm(D_blk) applied to every input token (``towernas`` anatomy), else the identity."""
    return LayerNorm(dims.block) if ANATOMIES[space].input_norm else nn.Identity()


class NormedBlock(nn.Module):
    """A choice block followed by LayerNorm(D_blk): the ``towernas`` anatomy's block."""

    def __init__(self, op: nn.Module, dim: int) -> None:
        super().__init__()
        self.op = op
        self.norm = LayerNorm(dim)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:  # (B, n, D) -> (B, D)
        return self.norm(self.op(tokens))


def make_block(name: str, n_inputs: int, dims: Dims, space: str, ops: Registry = OPS) -> nn.Module:
    """The block ``name`` of ``ops`` (a tower's; a ranker's: ``RANKER_OPS``) seeing ``n_inputs`` tokens, normalised
    after if the anatomy says so (not ``skip``)."""
    op = ops[name](n_inputs, dims)
    return NormedBlock(op, dims.block) if ANATOMIES[space].block_norm and name != SKIP else op


def block_inputs(n_inputs: int, k: int) -> int:
    """Tokens seen by the block at 0-based position ``k``: the inputs + the k earlier outputs."""
    return n_inputs + k


def chain_blocks(tokens: torch.Tensor, blocks: Sequence[nn.Module]) -> torch.Tensor:
    """(B, F, D) -> (B, D): block k sees the F tokens and the k earlier outputs; the last output plus the tokens'
    mean (the global shortcut). A tower projects and normalises it; a ranker (``towernas.rankers.arch``) reads a
    logit from it."""
    shortcut = tokens.mean(1)  # (B, D)
    for k, block in enumerate(blocks):
        out = block(tokens)  # (B, D)
        if k + 1 < len(blocks):
            tokens = torch.cat([tokens, out.unsqueeze(1)], dim=1)  # (B, F + k + 1, D)
    return out + shortcut
