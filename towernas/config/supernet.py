"""Schema of ``conf/supernet/*.yaml``: the weight-sharing supernet and its SPOS training."""

from __future__ import annotations

from dataclasses import dataclass, field

from towernas.config.schema import schema_of
from towernas.space.dims import Dims

DimsConfig = schema_of(Dims, "DimsConfig", module=__name__)  # widths of the search space (see Dims)


@dataclass
class SupernetConfig:
    """Weight-sharing supernet and its SPOS training."""

    depth_user: int = 5
    depth_item: int = 5
    searchable_depth: bool = False  # adds the "skip" op at positions >= 2
    dims: DimsConfig = field(default_factory=DimsConfig)  # type: ignore[valid-type]
    steps: int = 3000  # upper bound: training stops early when validation stops improving
    batch_size: int = 512
    lr: float = 1e-3
    temperature: float = 0.05
    checkpoint_every: int = 500
    monitor_every: int = 100  # steps between validation checks (0: no early stopping)
    patience: int = 4  # checks without improvement before stopping (0: train all steps)
    monitor_archs: int = 6  # fixed feasible architectures whose mean validation loss is monitored
