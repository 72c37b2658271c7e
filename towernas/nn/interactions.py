"""Interaction layers over field embeddings x (B, F, E): the factorization machine's pairwise term, FiBiNET's
bilinear interaction, xDeepFM's compressed interaction network and AutoInt's interacting layer.

Rankers compose them (embeddings -> interaction -> MLP). Any leading batch shape works: (..., F, E) is
flattened to (N, F, E) and restored on the way out. Everything is written with ops the complexity counter
classifies (pairs of fields come from slicing and concatenation, not fancy indexing), so ``count_ops``
costs a ranker built from them exactly. Cross layers over flat vectors live in ``towernas.nn.cross``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

BILINEAR_TYPES = ("field_all", "field_each", "field_interaction")


class FactorizationMachine(nn.Module):
    """The second-order term of a factorization machine (Rendle 2010), (..., F, E) -> (..., 1).

    The sum of inner products over all pairs of fields, in O(F E) by the square-of-sum identity:

        sum_{i<j} <x_i, x_j> = 0.5 * sum_e [ (sum_f x_{f,e})^2 - sum_f x_{f,e}^2 ]

    The trailing 1 is kept (``(B, 1)``, as torchrec's ``FactorizationMachine``) so the term adds to a
    first-order term or a deep logit of the same shape. No parameters: linear terms belong to the ranker.

    Example:
        >>> x = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]])  # (B=1, F=3, E=2)
        >>> FactorizationMachine()(x)  # <x0,x1> + <x0,x2> + <x1,x2> = 11 + 17 + 39
        tensor([[67.]])
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        total = x.sum(-2)  # (B, E)
        squares = (x * x).sum(-2)  # (B, E)
        return 0.5 * (total * total - squares).sum(-1, keepdim=True)  # (B, 1)


def _pairs(left: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Row-aligned pairs i < j in the order (0,1), (0,2), ..., (1,2), ...: (left_i, x_j), each (N, P, E).

    ``left`` (N, F-1, E) holds what stands for field i on the left (x_i itself or x_i projected).
    """
    n_fields = x.shape[1]
    lefts = [left[:, i:i + 1].expand(-1, n_fields - 1 - i, -1) for i in range(n_fields - 1)]
    rights = [x[:, i + 1:] for i in range(n_fields - 1)]
    return torch.cat(lefts, 1), torch.cat(rights, 1)


class BilinearInteraction(nn.Module):
    """FiBiNET's bilinear interaction (Huang et al. 2019), (..., F, E) -> (..., F(F-1)/2, E).

    For every pair of fields i < j, in the order (0,1), (0,2), ..., (0,F-1), (1,2), ..., (F-2,F-1):

        p_ij = (x_i W) ⊙ x_j            W: (E, E), no bias

    with one W shared by all pairs (``"field_all"``), one W_i per left field i (``"field_each"``; F-1
    matrices, field F-1 is never on the left) or one W_ij per pair (``"field_interaction"``).

    Args:
        n_fields: F (at least 2).
        dim: E.
        bilinear_type: "field_all", "field_each" or "field_interaction".

    Example:
        >>> layer = BilinearInteraction(n_fields=4, dim=3, bilinear_type="field_each")
        >>> layer(torch.randn(2, 4, 3)).shape, tuple(layer.weight.shape)  # 6 pairs; W_0, W_1, W_2
        (torch.Size([2, 6, 3]), (3, 3, 3))
    """

    def __init__(self, n_fields: int, dim: int, bilinear_type: str = "field_interaction") -> None:
        super().__init__()
        if bilinear_type not in BILINEAR_TYPES:
            raise ValueError(f"BilinearInteraction: unknown bilinear_type {bilinear_type!r}; "
                             f"known: {', '.join(BILINEAR_TYPES)}")
        if n_fields < 2:
            raise ValueError(f"BilinearInteraction: needs at least 2 fields, got {n_fields}")
        self.bilinear_type = bilinear_type
        n_matrices = {"field_all": 1, "field_each": n_fields - 1,
                      "field_interaction": n_fields * (n_fields - 1) // 2}[bilinear_type]
        self.weight = nn.Parameter(torch.empty(n_matrices, dim, dim))  # W[k] acts as x_i @ W[k]
        bound = 1 / math.sqrt(dim)  # nn.Linear's default range
        nn.init.uniform_(self.weight, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lead, (n_fields, dim) = x.shape[:-2], x.shape[-2:]
        x = x.reshape(-1, n_fields, dim)  # (N, F, E)
        heads = x[:, :-1]  # (N, F-1, E): the fields that stand on the left of a pair
        if self.bilinear_type == "field_all":
            left, right = _pairs(heads @ self.weight[0], x)  # project F-1 fields once, then pair them
        elif self.bilinear_type == "field_each":
            projected = (heads.transpose(0, 1) @ self.weight).transpose(0, 1)  # (F-1, N, E) @ (F-1, E, E)
            left, right = _pairs(projected, x)
        else:
            left, right = _pairs(heads, x)  # (N, P, E)
            left = (left.transpose(0, 1) @ self.weight).transpose(0, 1)  # (P, N, E) @ (P, E, E)
        return (left * right).reshape(*lead, -1, dim)  # (N, P, E)


class CIN(nn.Module):
    """xDeepFM's compressed interaction network (Lian et al. 2018), (..., m, D) -> (..., out_dim).

    With X^0 = x (m fields of width D) and H_0 = m, layer k = 1 .. K computes H_k feature maps

        X^k[h, :] = sum_{i < H'_{k-1}} sum_{j < m} W^k[h, i, j] (X^{k-1}[i, :] ⊙ X^0[j, :])     (B, H_k, D)

    (the paper's formula: no bias, no activation), where H'_{k-1} is the number of maps layer k-1
    passes on. Maps sent to the output are sum-pooled over D, p^k[h] = sum_d X^k[h, d], and the output is
    [p^1, ..., p^K]. With ``split_half`` (the paper's code), every layer but the last passes its first
    H_k / 2 maps on and sends its other H_k / 2 to the output: out_dim = sum_{k<K} H_k / 2 + H_K;
    without it every map does both: out_dim = sum_k H_k.

    Args:
        n_fields: m.
        layer_sizes: H_1 .. H_K (all but the last even if ``split_half``).
        split_half: halve each hidden layer between the next layer and the output.

    Example:
        >>> cin = CIN(n_fields=3, layer_sizes=(4, 2), split_half=True)
        >>> cin(torch.randn(5, 3, 8)).shape, cin.out_dim  # 4 / 2 + 2
        (torch.Size([5, 4]), 4)
    """

    def __init__(self, n_fields: int, layer_sizes: Sequence[int], split_half: bool = True) -> None:
        super().__init__()
        sizes = list(layer_sizes)
        if not sizes or min(sizes) < 1:
            raise ValueError(f"CIN: expected positive layer sizes, got {sizes}")
        if split_half and any(size % 2 for size in sizes[:-1]):
            raise ValueError(f"CIN: with split_half every layer size but the last must be even, got {sizes}")
        self.split_half = split_half
        self.layers = nn.ModuleList()
        self.out_dim, passed = 0, n_fields
        for k, size in enumerate(sizes):
            # weight[h, i * m + j] = W^k[h, i, j]
            self.layers.append(nn.Linear(passed * n_fields, size, bias=False))
            halve = split_half and k + 1 < len(sizes)
            passed = size // 2 if halve else size
            self.out_dim += size - size // 2 if halve else size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lead, (n_fields, dim) = x.shape[:-2], x.shape[-2:]
        x0 = x.reshape(-1, n_fields, dim).transpose(1, 2)  # (N, D, m): maps on the last axis
        xk, pooled = x0, []
        for k, layer in enumerate(self.layers):
            z = xk.unsqueeze(-1) * x0.unsqueeze(-2)  # (N, D, H'_{k-1}, m)
            xk = layer(z.flatten(-2))  # (N, D, H_k)
            if self.split_half and k + 1 < len(self.layers):
                xk, out = xk.split(xk.shape[-1] // 2, dim=-1)  # (N, D, H_k / 2) each
            else:
                out = xk
            pooled.append(out.sum(1))  # (N, H_k or H_k / 2)
        return torch.cat(pooled, -1).reshape(*lead, self.out_dim)


class InteractingLayer(nn.Module):
    """AutoInt's interacting layer (Song et al. 2019): multi-head self-attention over the fields,
    (..., F, E) -> (..., F, heads * head_dim).

    For fields e_m and heads h = 1 .. H with W_Q^h, W_K^h, W_V^h: E -> d (no biases):

        a^h_{m,k} = softmax_k <W_Q^h e_m, W_K^h e_k>          (B, H, F, F), divided by sqrt(d) if ``scaled``
        ẽ^h_m = sum_k a^h_{m,k} W_V^h e_k                      (B, H, F, d)
        out_m = ReLU([ẽ^1_m; ...; ẽ^H_m] + W_Res e_m)         (B, F, H d), W_Res: E -> H d

    Unlike ``MultiHeadSelfAttention`` the paper has no biases, no output projection and an unscaled
    inner product, so it is written here. Layers stack when the next one's ``dim`` is H d.

    Args:
        dim: E. heads: H. head_dim: d.
        residual: add the projected input W_Res e_m before the ReLU (the paper always does).
        scaled: divide the attention logits by sqrt(d), as a transformer does.

    Example:
        >>> InteractingLayer(dim=8, heads=2, head_dim=3)(torch.randn(4, 5, 8)).shape
        torch.Size([4, 5, 6])
    """

    def __init__(self, dim: int, heads: int, head_dim: int, residual: bool = True, scaled: bool = False) -> None:
        super().__init__()
        self.heads, self.head_dim, self.scaled = heads, head_dim, scaled
        self.qkv = nn.Linear(dim, 3 * heads * head_dim, bias=False)  # rows: [W_Q heads; W_K heads; W_V heads]
        self.residual = nn.Linear(dim, heads * head_dim, bias=False) if residual else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lead, (n_fields, dim) = x.shape[:-2], x.shape[-2:]
        x = x.reshape(-1, n_fields, dim)  # (N, F, E)
        n, width = x.shape[0], self.heads * self.head_dim
        qkv = self.qkv(x).view(n, n_fields, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]  # (N, H, F, d)
        logits = q @ k.transpose(-1, -2)  # (N, H, F, F)
        if self.scaled:
            logits = logits / math.sqrt(self.head_dim)
        mixed = (logits.softmax(-1) @ v).transpose(1, 2).reshape(n, n_fields, width)  # (N, F, H d)
        if self.residual is not None:
            mixed = mixed + self.residual(x)
        return torch.relu(mixed).reshape(*lead, n_fields, width)
