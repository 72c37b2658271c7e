"""BST: Behavior Sequence Transformer (Chen et al. 2019) as a two-tower user encoder.

User tower, for the history embeddings h (B, L, E) with validity mask m (B, L):

    x = h + P                                       learned positional embeddings P (L, E), right-aligned
    a = MHA(x) with 2 heads, padded keys masked     q, k, v = x W_qkv; softmax(q k^T / sqrt(E/2)) v W_o
    y = LN(x + a);  z = LN(y + W_2 relu(W_1 y))     post-LN encoder layer, FFN width 4E
    s = mean_{t valid} z_t                          (B, E)
    user = normalize(DNN([user field embeddings; s]))

The item tower is GoogleDNN's. Unlike the original BST (a CTR model), the target item is not part of
the sequence: a two-tower user tower cannot see the candidate. No dropout (neither do searched towers).
LayerNorm and attention are written out with ops the complexity counter classifies.

Example:
    >>> from towernas.towers import DatasetSpec
    >>> model = BST(DatasetSpec((), (), n_items=10, max_len=4), (32, 16))
    >>> model.encode_users({"history": torch.tensor([[10, 10, 2, 3]])}).shape
    torch.Size([1, 16])
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from towernas.baselines.common import BaselineTwoTower, DNNItemTower, dnn, masked_mean
from towernas.space.dims import Dims
from towernas.towers import DatasetSpec

HEADS = 2
FFN_MULT = 4


class LayerNorm(nn.Module):
    """``(x - mean) / sqrt(var + eps) * weight + bias`` over the last dim (equals ``nn.LayerNorm``)."""

    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        centred = x - x.mean(-1, keepdim=True)
        var = (centred * centred).mean(-1, keepdim=True)
        return centred * torch.rsqrt(var + self.eps) * self.weight + self.bias


class MaskedSelfAttention(nn.Module):
    """Multi-head self-attention over (B, L, E) where padded positions are never attended to."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"embedding width {dim} is not divisible by {heads} heads")
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, l, e = x.shape
        q, k, v = self.qkv(x).view(b, l, 3, self.heads, e // self.heads).permute(2, 0, 3, 1, 4)  # (B, H, L, d)
        scores = q @ k.transpose(-1, -2) / math.sqrt(e // self.heads)  # (B, H, L, L)
        # a finite fill: an all-padding row gets uniform weights instead of NaN (its output is pooled away)
        scores = scores.masked_fill(~mask[:, None, None, :], torch.finfo(scores.dtype).min)
        context = scores.softmax(-1) @ v  # (B, H, L, d)
        return self.out(context.transpose(1, 2).reshape(b, l, e))


class TransformerLayer(nn.Module):
    """One post-LN transformer encoder layer: attention and FFN, each with residual + LayerNorm."""

    def __init__(self, dim: int, heads: int = HEADS, ffn_mult: int = FFN_MULT) -> None:
        super().__init__()
        self.attention = MaskedSelfAttention(dim, heads)
        self.norm1 = LayerNorm(dim)
        self.ffn = nn.Sequential(nn.Linear(dim, ffn_mult * dim), nn.ReLU(), nn.Linear(ffn_mult * dim, dim))
        self.norm2 = LayerNorm(dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:  # (B, L, E) -> (B, L, E)
        x = self.norm1(x + self.attention(x, mask))
        return self.norm2(x + self.ffn(x))


class BSTUserTower(nn.Module):
    """Positional embeddings + transformer layer + masked mean, then the DNN with the user fields."""

    def __init__(self, n_fields: int, max_len: int, layers: Sequence[int], embed: int) -> None:
        super().__init__()
        self.positions = nn.Parameter(torch.randn(max_len, embed) * 0.05)  # (L_max, E), tower params
        self.transformer = TransformerLayer(embed)
        self.dnn = dnn((n_fields + 1) * embed, layers)

    def forward(self, fields: torch.Tensor, history: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = history + self.positions[-history.shape[1]:]  # right-aligned: the last slot is the latest item
        pooled = masked_mean(self.transformer(x, mask), mask)  # (B, E)
        return F.normalize(self.dnn(torch.cat([fields.flatten(1), pooled], dim=1)), dim=-1)


class BST(BaselineTwoTower):
    """Transformer user tower over the behaviour sequence, GoogleDNN item tower."""

    def __init__(self, spec: DatasetSpec, layers: Sequence[int], dims: Dims = Dims()) -> None:
        super().__init__(spec, layers, dims)
        self.user_tower = BSTUserTower(len(spec.user_fields), spec.max_len, layers, dims.embed)
        self.item_tower = DNNItemTower(spec.n_item_inputs, layers, dims.embed)
