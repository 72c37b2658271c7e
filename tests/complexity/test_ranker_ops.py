"""Every ranker block's cost formula (``towernas.space.ranker_ops``) against two mechanical counters, and the
ranker architecture's whole cost against the counter on the built ranker."""

import pytest
import torch

from towernas.complexity import count_ops, count_ops_torchprofile
from towernas.space import Dims
from towernas.space.ranker_ops import RANKER_BLOCK_NAMES, RANKER_OPS

DIMS = Dims(embed=8, block=8, out=8, head=4, attn=4)


def _params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


@pytest.mark.parametrize("n", [2, 5])
@pytest.mark.parametrize("name", RANKER_BLOCK_NAMES)
def test_formula_equals_both_counters(name, n):
    torch.manual_seed(0)
    block = RANKER_OPS[name](n, DIMS).eval()
    tokens = torch.randn(1, n, DIMS.block)
    expected = RANKER_OPS[name].cost(n, DIMS)
    for counter in (count_ops, count_ops_torchprofile):
        measured = counter(block, tokens)
        assert (measured.macs, measured.elementwise) == (expected.macs, expected.elementwise), counter.__name__
    assert _params(block) == expected.params


def test_the_ranker_blocks_are_the_towers_and_the_interactions():
    assert {"FM", "DP", "CROSS-1", "CROSS-3", "MLP-64", "EW-ip", "SA-2"} <= set(RANKER_BLOCK_NAMES)
    assert "skip" not in RANKER_BLOCK_NAMES and "skip" in RANKER_OPS
