"""The search space: named ops (blocks, poolings), widths, and the Arch JSON format."""

from towernas.space.arch import MAX_DEPTH, MIN_DEPTH, Arch, ArchError
from towernas.space.dims import Dims
from towernas.space.ops import BLOCK_NAMES, OPS, SKIP
from towernas.space.poolings import POOLING_NAMES, POOLINGS

__all__ = ["Arch", "ArchError", "BLOCK_NAMES", "Dims", "MAX_DEPTH", "MIN_DEPTH", "OPS", "POOLINGS",
           "POOLING_NAMES", "SKIP"]
