"""BST: Behavior Sequence Transformer (Chen et al. 2019) as a two-tower user encoder.

User tower, for the history embeddings h (B, L, E) with validity mask m (B, L):

    x = h + P                                       learned positional embeddings P (L, E), right-aligned
    a = MHA(x) with h heads of width d, keys masked q, k, v = x W_qkv (E -> 3hd); softmax(q k^T / sqrt(d)) v W_o
    y = LN(x + a);  z = LN(y + W_2 relu(W_1 y))     post-LN encoder layer, FFN width f
    s = mean_{t valid} z_t                          (B, E)
    user = normalize(DNN([user field embeddings; s]))

Defaults are the original's: h = 2 heads of d = E / 2, f = 4E. Smaller ``heads`` / ``head_dim`` / ``ffn``
shrink the transformer (the residual stream stays E wide), which is what the in-budget sizes of
``towernas.retrievers.sizing`` vary: at E = 64 over 20 tokens the default layer alone costs ~1 MFLOPs.
The item tower is GoogleDNN's. Unlike the original BST (a CTR model), the target item is not part of
the sequence: a two-tower user tower cannot see the candidate. No dropout (neither do searched towers).
Attention and LayerNorm are the shared layers of ``towernas.nn``.

Example:
    >>> from towernas.data.spec import DatasetSpec
    >>> model = BST(DatasetSpec((), (), n_items=10, max_len=4), (32, 16))
    >>> model.encode_users({"history": torch.tensor([[10, 10, 2, 3]])}).shape
    torch.Size([1, 16])
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from towernas.data.spec import DatasetSpec
from towernas.nn.attention import MultiHeadSelfAttention
from towernas.nn.mlp import mlp
from towernas.nn.norm import LayerNorm
from towernas.nn.pooling import masked_mean
from towernas.retrievers.dnn import BaselineTwoTower, DNNItemTower
from towernas.space.dims import Dims

HEADS = 2
FFN_MULT = 4


class TransformerLayer(nn.Module):
    """One post-LN transformer encoder layer: attention and FFN, each with residual + LayerNorm.

    Args:
        dim: token width E (the residual stream).
        heads: attention heads. head_dim: width of each head (None: ``dim // heads``).
        ffn: hidden width of the FFN (None: ``FFN_MULT * dim``).
    """

    def __init__(self, dim: int, heads: int = HEADS, head_dim: int | None = None, ffn: int | None = None) -> None:
        super().__init__()
        if head_dim is None and dim % heads:
            raise ValueError(f"embedding width {dim} is not divisible by {heads} heads")
        self.attention = MultiHeadSelfAttention(dim, heads, head_dim or dim // heads)
        self.norm1 = LayerNorm(dim)
        self.ffn = mlp(dim, (ffn or FFN_MULT * dim, dim))
        self.norm2 = LayerNorm(dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:  # (B, L, E) -> (B, L, E)
        x = self.norm1(x + self.attention(x, mask))
        return self.norm2(x + self.ffn(x))


class BSTUserTower(nn.Module):
    """Positional embeddings + transformer layer + masked mean, then the DNN with the user fields."""

    def __init__(self, n_fields: int, max_len: int, layers: Sequence[int], embed: int, heads: int = HEADS,
                 head_dim: int | None = None, ffn: int | None = None) -> None:
        super().__init__()
        self.positions = nn.Parameter(torch.randn(max_len, embed) * 0.05)  # (L, E), tower params; L tokens attended
        self.transformer = TransformerLayer(embed, heads, head_dim, ffn)
        self.dnn = mlp((n_fields + 1) * embed, layers)

    def forward(self, fields: torch.Tensor, history: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        tokens = min(history.shape[1], self.positions.shape[0])  # the most recent ones (``BST(tokens=)``)
        history, mask = history[:, -tokens:], mask[:, -tokens:]
        x = history + self.positions[-tokens:]  # right-aligned: the last slot is the latest item
        pooled = masked_mean(self.transformer(x, mask), mask)  # (B, E)
        return F.normalize(self.dnn(torch.cat([fields.flatten(1), pooled], dim=1)), dim=-1)


class BST(BaselineTwoTower):
    """Transformer user tower over the behaviour sequence, GoogleDNN item tower (``heads``, ``head_dim``,
    ``ffn``: the transformer's widths, see the module docstring; ``tokens``: attend over the most recent this
    many history items only, None = all ``max_len``: attention costs grow with the square of it, so long
    histories, e.g. Amazon's 50, need fewer tokens to fit a small budget)."""

    def __init__(self, spec: DatasetSpec, layers: Sequence[int], dims: Dims = Dims(), heads: int = HEADS,
                 head_dim: int | None = None, ffn: int | None = None, tokens: int | None = None) -> None:
        super().__init__(spec, layers, dims)
        if tokens is not None and tokens < 1:
            raise ValueError(f"tokens={tokens}: expected a positive number of history items (or None for all)")
        length = spec.max_len if tokens is None else min(tokens, spec.max_len)
        self.user_tower = BSTUserTower(len(spec.user_fields), length, layers, dims.embed, heads, head_dim, ffn)
        self.item_tower = DNNItemTower(spec.n_item_inputs, layers, dims.embed)
