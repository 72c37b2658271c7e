"""Schema of ``conf/space/*.yaml``: the search space (tower anatomy, choices, depths, widths).

Two presets: ``space=towernas`` (the default: normalised blocks, order-aware poolings, the latest item as
a token, searchable depth, D_blk = the output width) and ``space=autotower`` (the paper's space as
published, for reproducing AutoTower). ``towernas.space.arch_space.ArchSpace.from_config`` reads it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from towernas.config.schema import schema_of
from towernas.space.dims import Dims

DimsConfig = schema_of(Dims, "DimsConfig", module=__name__)  # widths of the search space (see Dims)


@dataclass
class SpaceConfig:
    """The architectures a search spans."""

    name: str = "towernas"  # tower anatomy: towernas | autotower (towernas.space.anatomy)
    poolings: list[str] = field(default_factory=lambda: ["avg", "recency", "self_attention_pos",
                                                         "self_attentive_pos"])
    blocks: list[str] = field(default_factory=list)  # empty: all 16 blocks
    depth_user: int = 5
    depth_item: int = 5
    searchable_depth: bool = True  # adds the "skip" op at positions >= 2
    dims: DimsConfig = field(default_factory=DimsConfig)  # type: ignore[valid-type]
