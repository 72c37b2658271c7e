"""Params/FLOPs of a baseline's towers, by the same rule and counter as searched architectures.

``tower_cost`` runs ``towernas.complexity.counting.count_ops`` on ``model.user_tower`` and
``model.item_tower`` for ONE user (resp. item): batch size 1, a full history of ``spec.max_len`` valid
items, embedding lookups excluded (the towers receive embeddings). Params are the towers' trainable
parameters (positional embeddings of BST included, the embedder's tables excluded; MIND's fixed routing
initialisation is a buffer, not a parameter). MIND's label-aware attention runs only in training and is
not part of the serving cost; its K interests each pass through the DNN, which is counted.

Example:
    >>> from towernas.retrievers import build_baseline
    >>> from towernas.complexity import synthetic_spec
    >>> tower_cost(build_baseline("google_dnn_paper", "L", synthetic_spec()), synthetic_spec()).user_params
    156224
"""

from __future__ import annotations

import torch
from torch import nn

from towernas.complexity.counting import count_ops
from towernas.complexity.model import TowerCost
from towernas.data.spec import DatasetSpec


def trainable_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def tower_inputs(spec: DatasetSpec, embed: int, device: torch.device | str = "cpu"):
    """Batch-1 tower inputs: user (fields (1, F_u, E), history (1, L, E), mask all True), item (1, 1 + F_i, E)."""
    gen = torch.Generator().manual_seed(0)
    user = (torch.randn(1, len(spec.user_fields), embed, generator=gen).to(device),
            torch.randn(1, spec.max_len, embed, generator=gen).to(device),
            torch.ones(1, spec.max_len, dtype=torch.bool, device=device))
    item = torch.randn(1, spec.n_item_inputs, embed, generator=gen).to(device)
    return user, item


def tower_cost(model: nn.Module, spec: DatasetSpec) -> TowerCost:
    """Exact (user_params, user_flops, item_params, item_flops) of ``model`` (any model with
    ``user_tower(fields, history, mask)``, ``item_tower(inputs)`` and ``dims.embed``)."""
    device = next(model.parameters()).device
    user, item = tower_inputs(spec, model.dims.embed, device)
    was_training = model.training
    model.eval()
    try:
        user_flops = count_ops(model.user_tower, *user).flops
        item_flops = count_ops(model.item_tower, item).flops
    finally:
        model.train(was_training)
    return TowerCost(trainable_params(model.user_tower), user_flops, trainable_params(model.item_tower), item_flops)
