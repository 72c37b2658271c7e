"""Every registered op and pooling of the search space: shapes, no NaN, every parameter gets a gradient,
and its registered cost formula equals the mechanical counter on the built module."""

import pytest
import torch

from towernas.complexity.counting import count_ops
from towernas.space import BLOCK_NAMES, OPS, POOLINGS, SKIP, Dims

DIMS = Dims()
N_INPUTS = (1, 5, 9)  # tokens a block sees: one input, a typical first position, a late position


def _params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def test_the_registry_holds_the_16_blocks_and_skip():
    assert len(BLOCK_NAMES) == 16 and SKIP not in BLOCK_NAMES and OPS.names() == (*BLOCK_NAMES, SKIP)
    with pytest.raises(ValueError, match=r"op='MLP-33': unknown block; expected one of \['MLP-16'"):
        OPS.get("MLP-33")


@pytest.mark.parametrize("n", N_INPUTS)
@pytest.mark.parametrize("name", OPS.names())
def test_every_op_shapes_gradients_and_cost(name, n):
    torch.manual_seed(0)
    block = OPS[name](n, DIMS)
    tokens = torch.randn(4, n, DIMS.block, requires_grad=True)
    out = block(tokens)
    assert out.shape == (4, DIMS.block) and torch.isfinite(out).all()
    out.square().sum().backward()
    for pname, p in block.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, pname
    assert tokens.grad is not None and tokens.grad.abs().sum() > 0  # the input reaches the output
    cost = OPS[name].cost(n, DIMS)
    with torch.no_grad():
        counted = count_ops(block.eval(), tokens[:1].detach())
    assert (cost.params, cost.macs, cost.elementwise) == (_params(block), counted.macs, counted.elementwise)


@pytest.mark.parametrize("name", POOLINGS.names())
def test_every_pooling_shapes_padding_gradients_and_cost(name):
    torch.manual_seed(0)
    pool = POOLINGS[name](DIMS, 6)
    history = torch.randn(3, 6, DIMS.embed, requires_grad=True)
    mask = torch.tensor([[True] * 6, [False, False, True, True, True, True], [False] * 6])
    out = pool(history, mask)
    assert out.shape == (3, DIMS.embed) and torch.isfinite(out).all()
    assert out[2].abs().sum() == 0  # an empty history pools to zeros
    garbage = history.detach().clone()
    garbage[1, :2] = 1e3
    torch.testing.assert_close(pool(garbage, mask)[1], out[1].detach())  # padding never contributes
    out.square().sum().backward()
    for pname, p in pool.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, pname
    full = torch.ones(1, 6, dtype=torch.bool)
    cost = POOLINGS[name].cost(6, DIMS)
    with torch.no_grad():
        counted = count_ops(pool.eval(), history[:1].detach(), full)
    assert (cost.params, cost.macs, cost.elementwise) == (_params(pool), counted.macs, counted.elementwise)
