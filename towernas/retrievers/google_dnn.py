"""GoogleDNN: the sampling-bias-corrected two-tower DNN of Yi et al. (RecSys 2019).

    user = normalize(DNN([e(user field 1); ...; e(user field F_u); mean_{valid t} e(history_t)]))
    item = normalize(DNN([e(item id); e(item field 1); ...; e(item field F_i)]))

Both towers use the budget's layer list (L [256, 192, 128], M [512, 256, 128], H [1024, 512, 256, 128]),
ReLU between layers, the last layer as the output. The logQ correction is the shared trainer's loss.

Example:
    >>> from towernas.data.spec import DatasetSpec
    >>> model = GoogleDNN(DatasetSpec((), (), n_items=10, max_len=4), (32, 16))
    >>> model.encode_items({"item": torch.tensor([0, 3])}).shape
    torch.Size([2, 16])
"""

from __future__ import annotations

from typing import Sequence

import torch  # noqa: F401  (doctest)

from towernas.data.spec import DatasetSpec
from towernas.retrievers.dnn import BaselineTwoTower, DNNItemTower, DNNUserTower
from towernas.space.dims import Dims


class GoogleDNN(BaselineTwoTower):
    """Average-pooled history + side features, one DNN per tower (see the module docstring)."""

    def __init__(self, spec: DatasetSpec, layers: Sequence[int], dims: Dims = Dims()) -> None:
        super().__init__(spec, layers, dims)
        self.user_tower = DNNUserTower(len(spec.user_fields), layers, dims.embed)
        self.item_tower = DNNItemTower(spec.n_item_inputs, layers, dims.embed)
