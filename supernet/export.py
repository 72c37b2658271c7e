"""``export(supernet, arch)``: the chosen path as a standalone ``TwoTowerModel`` with inherited weights.

The child is built by ``towernas.retrievers.two_tower.build`` (the code that retrains and serves architectures) and
each of its parts receives the state of the matching supernet module with ``load_state_dict(strict=True)``,
so a shape or naming mismatch between the two code paths fails loudly instead of silently.

Example:
    >>> from towernas.data.spec import DatasetSpec
    >>> from towernas.space import Arch, Dims
    >>> from supernet.model import Supernet
    >>> net = Supernet(DatasetSpec((), (), n_items=10, max_len=4), Dims(), 3, 3)
    >>> arch = Arch("sum", ("SA-2", "EW-ip", "MLP-16"), ("MLP-32", "EW-max", "EW-avg"))
    >>> batch = {"item": torch.tensor([1, 2])}
    >>> torch.equal(export(net, arch).encode_items(batch), net.encode_items(batch, arch))
    True
"""

from __future__ import annotations

import torch
from torch import nn

from supernet.model import Supernet, SuperTower
from towernas.retrievers.two_tower import Tower, TwoTowerModel, build
from towernas.space.arch import Arch


def _copy(target: nn.Module, source: nn.Module) -> None:
    target.load_state_dict(source.state_dict(), strict=True)


def _copy_tower(target: Tower, source: SuperTower, names) -> None:
    _copy(target.align, source.align)
    _copy(target.norm, source.norm)
    for block, chosen in zip(target.blocks, source.chosen(names), strict=True):
        _copy(block, chosen)
    _copy(target.project, source.project)


@torch.no_grad()
def export(supernet: Supernet, arch: Arch) -> TwoTowerModel:
    """A standalone model of ``arch`` holding copies of the supernet's weights on its path.

    The copy lives on the supernet's device and shares no storage with it.
    """
    supernet.space.check(arch)
    device = next(supernet.parameters()).device
    model = build(arch, supernet.spec).to(device)
    _copy(model.embedder, supernet.embedder)
    _copy(model.user_tower.pooling, supernet.poolings[arch.pooling])
    _copy_tower(model.user_tower.tower, supernet.user, arch.user)
    _copy_tower(model.item_tower, supernet.item, arch.item)
    model.train(supernet.training)
    return model
